"""CloudWatch metric math, offline, for the subset of expressions the kit's alarms use.

moto does not evaluate metric-math alarms. ``IF``, ``FILL(m, constant | REPEAT)``, ``+ - *
/``, comparisons and ``AND``/``OR`` over metric ids and numbers are parsed with Python's
``ast`` and interpreted node by node, never ``eval()``-ed; ``parse`` dry-runs the interpreter,
so it refuses, with the expression named, exactly what cannot be evaluated. A series is
sparse, {period start: value}; missing values, division by zero, comparisons, IF and FILL
behave as the CloudWatch User Guide's "Using metric math" says (each rule, with its test, in
docs/aws-behaviours.md).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

Series = dict[datetime, float]
Value = float | Series


class MathSyntaxError(ValueError):
    """The expression is not in the supported subset; the message names it."""


class MathEvaluationError(ValueError):
    """The expression parses but cannot be evaluated (unknown id, scalar division by zero)."""


# Every operator of the subset: arithmetic, comparisons and logic (results are floats).
_OPS: dict[type[ast.AST], Callable[[float, float], float | bool]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.And: lambda a, b: a != 0 and b != 0,
    ast.Or: lambda a, b: a != 0 or b != 0,
}
_ARITY = {"IF": (2, 3), "FILL": (2,)}


def parse(expression: str) -> ast.expr:
    """Parse ``expression`` into a checked tree; raise MathSyntaxError naming it otherwise."""
    source = re.sub(r"\b(AND|OR)\b", lambda m: m[1].lower(), expression)
    try:
        tree = ast.parse(source.strip(), mode="eval").body
        referenced_ids(tree)
    except SyntaxError as err:
        # Python gives no offset for an expression that ends too early: point past its end.
        position = err.offset - 1 if err.offset else len(expression)
        raise MathSyntaxError(
            f"metric math {expression!r}: {err.msg} at position {position} (the drill supports IF, "
            "FILL(m, constant | REPEAT), + - * /, comparisons, AND, OR, metric ids and numbers)"
        ) from None
    except MathSyntaxError as err:
        raise MathSyntaxError(f"metric math {expression!r}: {err}") from None
    return tree


def referenced_ids(tree: ast.expr) -> set[str]:
    """Every metric or expression id ``tree`` names, from a dry run over an empty grid."""
    ids: set[str] = set()

    def resolve(id_: str) -> Value:
        ids.add(id_)
        return {}

    # Only a scalar expression can fail here (1 / 0); evaluating it reports that.
    with contextlib.suppress(MathEvaluationError):
        evaluate(tree, Context((), resolve))
    return ids


@dataclass(frozen=True)
class Context:
    """One evaluation: the query's period starts, oldest first, and the other queries' values."""

    grid: Sequence[datetime]
    resolve: Callable[[str], Value]


def _is_number(node: ast.expr) -> bool:
    match node:
        case ast.Constant(value=int() | float() as value) if not isinstance(value, bool):
            return True
        case ast.UnaryOp(op=ast.USub(), operand=operand):
            return _is_number(operand)
    return False


def evaluate(tree: ast.expr, ctx: Context) -> Value:
    """The value of ``tree``, a scalar or a series; MathSyntaxError outside the subset."""
    match tree:
        case _ if _is_number(tree):
            return float(ast.literal_eval(tree))
        case ast.Name(id=name) if name[0].islower():
            return ctx.resolve(name)
        case ast.Name(id=name):
            problem = f"metric ids must start with a lower-case letter, got {name!r}"
        case ast.UnaryOp():
            problem = "only a number may be negated"
        case ast.Compare(ops=[_, _, *_]):
            problem = "chained comparisons are not metric math; join them with AND"
        case (
            ast.BinOp(op=op, left=left, right=right)
            | ast.Compare(ops=[op], left=left, comparators=[right])
        ):
            if type(op) in _OPS:
                return _pointwise(_OPS[type(op)], evaluate(left, ctx), evaluate(right, ctx))
            problem = f"unsupported operator {type(op).__name__}"
        case ast.BoolOp(op=op, values=values):
            fn = _OPS[type(op)]
            return functools.reduce(
                lambda a, b: _pointwise(fn, a, b), (evaluate(v, ctx) for v in values)
            )
        case ast.Call(func=ast.Name(id="FILL"), args=[target, ast.Name(id="REPEAT")]):
            return _fill(evaluate(target, ctx), None, ctx.grid)
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _ARITY:
            if len(args) not in _ARITY[name]:
                wanted = " or ".join(map(str, _ARITY[name]))
                problem = f"{name}() takes {wanted} arguments, got {len(args)}"
            elif name == "FILL" and not _is_number(args[1]):
                problem = (
                    "FILL's second argument must be a number or REPEAT (LINEAR, ids: unsupported)"
                )
            elif name == "FILL":
                return _fill(evaluate(args[0], ctx), float(ast.literal_eval(args[1])), ctx.grid)
            else:
                return _if(*(evaluate(arg, ctx) for arg in args))
        case ast.Call(func=func):
            problem = f"unsupported function {ast.unparse(func)}() (the drill supports IF and FILL)"
        case _:
            problem = f"unsupported syntax {ast.unparse(tree)!r}"
    raise MathSyntaxError(problem)


def _pointwise(fn: Callable[[float, float], float | bool], left: Value, right: Value) -> Value:
    if not isinstance(left, dict) and not isinstance(right, dict):
        try:
            return float(fn(left, right))
        except ZeroDivisionError:
            raise MathEvaluationError(f"scalar division by zero in {left} / {right}") from None
    # Two series: the union of their timestamps; a series and a scalar: the series' own.
    out: Series = {}
    for t in sorted({t for side in (left, right) if isinstance(side, dict) for t in side}):
        with contextlib.suppress(ZeroDivisionError):  # "the data point is dropped"
            out[t] = float(fn(_at(left, t), _at(right, t)))
    return out


def _at(value: Value, t: datetime) -> float:
    """A scalar, or the series' value at ``t`` with a missing point counted as 0."""
    return value.get(t, 0.0) if isinstance(value, dict) else value


def _if(cond: Value, then: Value, other: Value | None = None) -> Value:
    if not isinstance(cond, dict):
        return then if cond != 0.0 else (other if other is not None else {})
    out: Series = {}
    for t, c in cond.items():
        if c != 0.0:
            out[t] = _at(then, t)  # a true point takes 0 where ``then`` lacks it (IF table)
        elif other is not None and (not isinstance(other, dict) or t in other):
            out[t] = _at(other, t)
    return out


def _fill(target: Value, constant: float | None, grid: Sequence[datetime]) -> Series:
    """FILL with ``constant``, or with REPEAT when it is None."""
    if not isinstance(target, dict):
        raise MathEvaluationError("FILL's first argument must be a time series")
    out: Series = {}
    last: float | None = None
    for t in grid:
        last = target.get(t, last if constant is None else constant)
        if last is not None:
            out[t] = last
    return out
