"""CloudWatch metric math, offline, for exactly the expressions the kit's alarms use.

CloudWatch evaluates a metric-math alarm (``Metrics`` with an ``Expression``) itself; moto
does not, and the drill must know what the kit's guarded error-rate expressions yield for a
scenario's traffic. The kit writes ``IF``, ``FILL(m, constant)``, ``FILL(m, REPEAT)``,
``+ - * /``, comparisons and ``AND``/``OR`` over metric ids and numbers, so that is all this
module accepts. Python's
``ast`` parses those expressions once ``AND``/``OR`` are spelled ``and``/``or``; the tree is
checked node by node and interpreted, never ``eval()``-ed. Anything else (``^``, other
functions, ``FILL(m, LINEAR)``, arrays, strings) is rejected with the expression named.

Semantics encoded, each from the CloudWatch User Guide, "Using metric math" (sections
"Basic arithmetic functions", "Comparison and logical operators", "Using IF expressions"
and the FILL row of the function table):

* A time series is sparse: a mapping from period start to value. Arithmetic on two series
  works on the union of their timestamps and treats a value missing from one of them as 0;
  with a scalar it works on the series' own timestamps. A division by zero drops that data
  point. Comparison (``== != < <= > >=``) and logical (``AND``, ``OR``) operators follow the
  same rules and yield 1 (true) or 0 (false).
* ``IF(cond, a, b)``: for each data point of ``cond`` (non-zero is true), the value of ``a``
  (0 if ``a`` is a series without that point) when true, the value of ``b`` when false; the
  point is dropped when false and ``b`` is omitted or lacks it, and when ``cond`` lacks it.
  A scalar ``cond`` picks ``a`` or ``b`` (an empty series when false and ``b`` is omitted).
* ``FILL(m, constant)`` fills the points of ``m`` missing on the query's time grid (for an
  alarm: the evaluation range) with the constant; ``FILL(m, REPEAT)`` fills each with the
  most recent real value before it on the grid, and leaves those before the first real
  value missing.

``FILL(m, REPEAT)`` depends on earlier points of the grid, so an alarm is evaluated over the
grid of one evaluation, never once over a whole replay.
"""

from __future__ import annotations

import ast
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


_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_LOGICAL: dict[type[ast.boolop], Callable[[float, float], bool]] = {
    ast.And: lambda a, b: bool(a) and bool(b),
    ast.Or: lambda a, b: bool(a) or bool(b),
}
_ARITY = {"IF": (2, 3), "FILL": (2,)}
# FILL's one supported keyword fill (the guide's REPEAT); LINEAR is not used by the kit.
REPEAT = "REPEAT"
_AND_OR = re.compile(r"\b(AND|OR)\b")


def parse(expression: str) -> ast.expr:
    """Parse ``expression`` into a checked tree; raise MathSyntaxError naming it otherwise."""
    source = _AND_OR.sub(lambda m: m[1].lower(), expression)
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as err:
        # Python gives no offset for an expression that ends too early: point past its end.
        position = f" at position {err.offset - 1 if err.offset else len(expression)}"
        raise MathSyntaxError(
            f"metric math {expression!r}: {err.msg}{position} (the drill supports IF, "
            "FILL(m, constant | REPEAT), + - * /, comparisons, AND, OR, metric ids and numbers)"
        ) from None
    functions = _not_metric_ids(tree)
    for node in ast.walk(tree):
        problem = None if id(node) in functions else _unsupported(node)
        if problem:
            raise MathSyntaxError(f"metric math {expression!r}: {problem}")
    return tree


def _unsupported(node: ast.AST) -> str | None:
    """Why ``node`` is outside the supported subset, or None if it is inside."""
    match node:
        case ast.BinOp(op=op) if type(op) not in _BINARY:
            return f"unsupported operator {type(op).__name__}"
        case ast.Compare(ops=ops) if len(ops) > 1:
            return "chained comparisons are not metric math; join them with AND"
        case ast.Compare(ops=[op]) if type(op) not in _COMPARE:
            return f"unsupported comparison {type(op).__name__}"
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant()):
            return None
        case ast.UnaryOp():
            return "only a number may be negated"
        case ast.Constant(value=value) if isinstance(value, bool) or not isinstance(
            value, int | float
        ):
            return f"unsupported constant {value!r}"
        case ast.Name(id=name) if not name[0].islower():
            return f"metric ids must start with a lower-case letter, got {name!r}"
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in _ARITY:
            if len(args) not in _ARITY[name]:
                wanted = " or ".join(str(n) for n in _ARITY[name])
                return f"{name}() takes {wanted} arguments, got {len(args)}"
            if name == "FILL" and not (_is_number(args[1]) or _is_repeat(args[1])):
                return (
                    "FILL's second argument must be a number or REPEAT (LINEAR, ids: unsupported)"
                )
            return None
        case ast.Call(func=func):
            return f"unsupported function {ast.unparse(func)}() (the drill supports IF and FILL)"
        case ast.BinOp() | ast.Compare() | ast.BoolOp() | ast.Constant() | ast.Name():
            return None
        case ast.operator() | ast.cmpop() | ast.boolop() | ast.unaryop() | ast.expr_context():
            return None
    return f"unsupported syntax {ast.unparse(node)!r}"


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
    )


def _is_repeat(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == REPEAT


def _not_metric_ids(tree: ast.expr) -> set[int]:
    """Node ids of the names that are no metric ids: function names and FILL's REPEAT."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            skipped.add(id(node.func))
            fill = isinstance(node.func, ast.Name) and node.func.id == "FILL"
            if fill and len(node.args) == 2 and _is_repeat(node.args[1]):
                skipped.add(id(node.args[1]))
    return skipped


def referenced_ids(tree: ast.expr) -> set[str]:
    """Every metric or expression id the expression names."""
    functions = _not_metric_ids(tree)
    return {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and id(node) not in functions
    }


@dataclass(frozen=True)
class Context:
    """What an expression sees during one alarm evaluation.

    ``grid`` is the query's time range as period starts (oldest first); ``resolve`` returns
    the value of another query by id.
    """

    grid: Sequence[datetime]
    resolve: Callable[[str], Value]


def evaluate(tree: ast.expr, ctx: Context) -> Value:
    """Evaluate a tree from ``parse``; the result is a scalar or a series."""
    match tree:
        case ast.Constant(value=int() | float() as number):
            return float(number)
        case ast.UnaryOp(operand=operand):
            return -_scalar(evaluate(operand, ctx))
        case ast.Name(id=id_):
            return ctx.resolve(id_)
        case ast.BinOp(op=op, left=left, right=right):
            return _pointwise(_BINARY[type(op)], evaluate(left, ctx), evaluate(right, ctx))
        case ast.Compare(left=left, ops=[op], comparators=[right]):
            fn = _COMPARE[type(op)]
            return _pointwise(
                lambda a, b: float(fn(a, b)), evaluate(left, ctx), evaluate(right, ctx)
            )
        case ast.BoolOp(op=op, values=values):
            fn = _LOGICAL[type(op)]
            result = evaluate(values[0], ctx)
            for item in values[1:]:
                result = _pointwise(lambda a, b: float(fn(a, b)), result, evaluate(item, ctx))
            return result
        case ast.Call(func=ast.Name(id="IF"), args=args):
            return _if(*(evaluate(arg, ctx) for arg in args))
        case ast.Call(func=ast.Name(id="FILL"), args=[target, ast.Name(id="REPEAT")]):
            return _fill_repeat(evaluate(target, ctx), ctx.grid)
        case ast.Call(func=ast.Name(id="FILL"), args=[target, constant]):
            return _fill(evaluate(target, ctx), _scalar(evaluate(constant, ctx)), ctx.grid)
    raise MathEvaluationError(f"cannot evaluate {ast.unparse(tree)!r}")  # pragma: no cover


def _scalar(value: Value) -> float:
    if isinstance(value, dict):
        raise MathEvaluationError("a constant was expected, got a time series")
    return value


def _apply(fn: Callable[[float, float], float], a: float, b: float) -> float | None:
    try:
        return float(fn(a, b))
    except ZeroDivisionError:
        return None  # "the data point is dropped"


def _pointwise(fn: Callable[[float, float], float], left: Value, right: Value) -> Value:
    if not isinstance(left, dict) and not isinstance(right, dict):
        result = _apply(fn, left, right)
        if result is None:
            raise MathEvaluationError(f"scalar division by zero in {left} / {right}")
        return result
    # Two series: the union of their timestamps; a series and a scalar: the series' own.
    times = sorted(
        (left if isinstance(left, dict) else {}) | (right if isinstance(right, dict) else {})
    )
    out: Series = {}
    for t in times:
        value = _apply(fn, _at(left, t), _at(right, t))
        if value is not None:
            out[t] = value
    return out


def _at(value: Value, t: datetime) -> float:
    """A scalar, or the series' value at ``t`` with a missing point counted as 0."""
    return value.get(t, 0.0) if isinstance(value, dict) else value


def _if(cond: Value, then: Value, other: Value | None = None) -> Value:
    if not isinstance(cond, dict):
        if cond != 0.0:
            return then
        return other if other is not None else {}
    out: Series = {}
    for t, c in cond.items():
        if c != 0.0:
            # A true condition with no point in a series operand yields 0 (guide, IF table).
            out[t] = then if isinstance(then, float) else then.get(t, 0.0)
        elif isinstance(other, float):
            out[t] = other
        elif isinstance(other, dict) and t in other:
            out[t] = other[t]
    return out


def _fill_repeat(target: Value, grid: Sequence[datetime]) -> Series:
    if not isinstance(target, dict):
        raise MathEvaluationError("FILL's first argument must be a time series")
    out: Series = {}
    last: float | None = None
    for t in grid:
        if t in target:
            last = target[t]
        if last is not None:
            out[t] = last
    return out


def _fill(target: Value, constant: float, grid: Sequence[datetime]) -> Series:
    if not isinstance(target, dict):
        raise MathEvaluationError("FILL's first argument must be a time series")
    return {t: target.get(t, constant) for t in grid}
