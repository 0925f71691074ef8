"""CloudWatch metric math, offline: a tokenizer, a recursive-descent parser and an evaluator.

CloudWatch evaluates a metric-math alarm (``Metrics`` with an ``Expression``) itself; moto
does not, and the drill must know what the kit's guarded error-rate expressions yield for a
scenario's traffic. This module implements the subset an alarm expression uses, following
the CloudWatch User Guide, "Using metric math" (sections "Basic arithmetic functions",
"Comparison and logical operators", "Using IF expressions" and the FILL row of the function
table). No ``eval()``: expressions are parsed into a small tree and interpreted.

Semantics encoded (each from that guide):

* A time series is sparse: a mapping from period start to value. Arithmetic on two series
  works on the union of their timestamps and treats a value missing from one of them as 0;
  with a scalar it works on the series' own timestamps. A division by zero drops that data
  point. Comparison (``== != < <= > >=``) and logical (``AND``/``&&``, ``OR``/``||``)
  operators follow the same rules and yield 1 (true) or 0 (false). The guide lists no NOT.
* ``IF(cond, a, b)``: for each data point of ``cond`` (non-zero is true), the value of ``a``
  (0 if ``a`` is a series without that point) when true, the value of ``b`` when false; the
  point is dropped when false and ``b`` is omitted or lacks it, and when ``cond`` lacks it.
  A scalar ``cond`` picks ``a`` or ``b`` (an empty series when false and ``b`` is omitted).
* ``FILL(m, S | m2 | REPEAT | LINEAR)`` fills the points of ``m`` missing on the query's
  time grid (for an alarm: the evaluation range) with a constant, another series' value at
  that time, the previous real value, or a linear interpolation between the neighbours.
* ``SUM/AVG/MIN/MAX`` of an array ``[m1, m2]`` give one series (SUM and AVG count a missing
  value as 0, as the guide says for AVG); of a single series they give a scalar over the
  whole query range, which the guide advises against in alarms because an alarm queries
  more periods than it evaluates. ``ABS``, ``CEIL``, ``FLOOR``, ``PERIOD``,
  ``TIME_SERIES`` and ``METRICS()`` are supported too; anything else is rejected by name.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

Series = dict[datetime, float]
Value = float | Series | list[Series]


class MathSyntaxError(ValueError):
    """The expression does not parse; the message shows the position."""


class MathEvaluationError(ValueError):
    """The expression parses but cannot be evaluated (unknown id, wrong argument types...)."""


# --- Tokenizer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # NUMBER, ID, NAME (upper-case function or keyword), STRING, OP, END
    text: str
    pos: int


_TWO_CHAR_OPS = ("==", "!=", "<=", ">=", "&&", "||")
_ONE_CHAR_OPS = "+-*/^<>(),[]"


def tokenize(expression: str) -> list[Token]:
    """Split ``expression`` into tokens. Ids start lower-case, functions are upper-case."""
    tokens: list[Token] = []
    i = 0
    n = len(expression)
    while i < n:
        ch = expression[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < n and expression[i + 1].isdigit()):
            start = i
            while i < n and (expression[i].isdigit() or expression[i] == "."):
                i += 1
            if i < n and expression[i] in "eE":
                j = i + 1
                if j < n and expression[j] in "+-":
                    j += 1
                if j < n and expression[j].isdigit():
                    i = j
                    while i < n and expression[i].isdigit():
                        i += 1
            text = expression[start:i]
            try:
                float(text)
            except ValueError:
                raise MathSyntaxError(_at(expression, start, f"bad number {text!r}")) from None
            tokens.append(Token("NUMBER", text, start))
        elif ch.isalpha() or ch == "_":
            start = i
            while i < n and (expression[i].isalnum() or expression[i] == "_"):
                i += 1
            word = expression[start:i]
            if word in ("AND", "OR"):
                tokens.append(Token("OP", word, start))
            elif word[0].islower():
                tokens.append(Token("ID", word, start))
            else:
                tokens.append(Token("NAME", word, start))
        elif ch in "\"'":
            end = expression.find(ch, i + 1)
            if end < 0:
                raise MathSyntaxError(_at(expression, i, "unterminated string"))
            tokens.append(Token("STRING", expression[i + 1 : end], i))
            i = end + 1
        elif expression[i : i + 2] in _TWO_CHAR_OPS:
            tokens.append(Token("OP", expression[i : i + 2], i))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            tokens.append(Token("OP", ch, i))
            i += 1
        else:
            raise MathSyntaxError(_at(expression, i, f"unexpected character {ch!r}"))
    tokens.append(Token("END", "", n))
    return tokens


def _at(expression: str, pos: int, message: str) -> str:
    return f"{message} at position {pos} in {expression!r}"


# --- Syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Ref:
    id: str


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Keyword:
    name: str  # REPEAT, LINEAR


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ArrayLit:
    items: tuple[Node, ...]


Node = Number | Ref | Text | Keyword | Unary | Binary | Call | ArrayLit


# --- Parser ----------------------------------------------------------------------------------

_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    """Precedence, loosest first: OR, AND, comparison, + -, * /, unary -, ^ (right)."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept(self, *ops: str) -> Token | None:
        token = self.peek()
        if token.kind == "OP" and token.text in ops:
            self.i += 1
            return token
        return None

    def expect(self, op: str) -> None:
        if self.accept(op) is None:
            token = self.peek()
            found = token.text or "end of expression"
            raise MathSyntaxError(
                _at(self.expression, token.pos, f"expected {op!r}, found {found!r}")
            )

    def parse(self) -> Node:
        node = self.or_()
        token = self.peek()
        if token.kind != "END":
            raise MathSyntaxError(_at(self.expression, token.pos, f"unexpected {token.text!r}"))
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.accept("OR", "||"):
            node = Binary("OR", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.comparison()
        while self.accept("AND", "&&"):
            node = Binary("AND", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.additive()
        while (token := self.accept(*_COMPARISONS)) is not None:
            node = Binary(token.text, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while (token := self.accept("+", "-")) is not None:
            node = Binary(token.text, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while (token := self.accept("*", "/")) is not None:
            node = Binary(token.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.accept("-"):
            return Unary("-", self.unary())
        return self.power()

    def power(self) -> Node:
        node = self.primary()
        if self.accept("^"):
            return Binary("^", node, self.unary())
        return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "NUMBER":
            return Number(float(token.text))
        if token.kind == "ID":
            return Ref(token.text)
        if token.kind == "STRING":
            return Text(token.text)
        if token.kind == "NAME":
            if self.accept("("):
                args: list[Node] = []
                if not self.accept(")"):
                    args.append(self.or_())
                    while self.accept(","):
                        args.append(self.or_())
                    self.expect(")")
                return Call(token.text, tuple(args))
            if token.text in ("REPEAT", "LINEAR"):
                return Keyword(token.text)
            raise MathSyntaxError(
                _at(
                    self.expression,
                    token.pos,
                    f"{token.text!r} is neither a function call nor REPEAT/LINEAR "
                    "(metric ids must start with a lower-case letter)",
                )
            )
        if token.kind == "OP" and token.text == "(":
            node = self.or_()
            self.expect(")")
            return node
        if token.kind == "OP" and token.text == "[":
            items = [self.or_()]
            while self.accept(","):
                items.append(self.or_())
            self.expect("]")
            return ArrayLit(tuple(items))
        found = token.text or "end of expression"
        raise MathSyntaxError(_at(self.expression, token.pos, f"unexpected {found!r}"))


def parse(expression: str) -> Node:
    """Parse a metric-math expression into a tree; raise MathSyntaxError if it is invalid."""
    return _Parser(expression).parse()


def referenced_ids(node: Node) -> set[str]:
    """Every metric or expression id the expression names (not counting ``METRICS()``)."""
    match node:
        case Ref(id=id_):
            return {id_}
        case Unary(operand=operand):
            return referenced_ids(operand)
        case Binary(left=left, right=right):
            return referenced_ids(left) | referenced_ids(right)
        case Call(args=args) | ArrayLit(items=args):
            found: set[str] = set()
            for arg in args:
                found |= referenced_ids(arg)
            return found
        case _:
            return set()


def is_pointwise(node: Node) -> bool:
    """True if each data point depends only on the inputs at the same timestamp.

    Such an expression gives the same value at a timestamp whatever the query's range, so
    a replay may evaluate it once over all periods instead of once per evaluation range.
    ``FILL(..., REPEAT|LINEAR)`` and aggregates of a single series depend on the range.
    """
    match node:
        case Keyword():
            return False
        case Call(name=name, args=args):
            if name in ("SUM", "AVG", "MIN", "MAX") and not (
                args
                and (
                    isinstance(args[0], ArrayLit)
                    or (isinstance(args[0], Call) and args[0].name == "METRICS")
                )
            ):
                return False
            return all(is_pointwise(arg) for arg in args)
        case Unary(operand=operand):
            return is_pointwise(operand)
        case Binary(left=left, right=right):
            return is_pointwise(left) and is_pointwise(right)
        case ArrayLit(items=items):
            return all(is_pointwise(item) for item in items)
        case _:
            return True


# --- Evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What an expression sees during one alarm evaluation.

    ``grid`` is the query's time range as period starts (oldest first); ``resolve`` returns
    the value of another query by id; ``metric_ids`` are the ids of the plain metrics (for
    ``METRICS()``) and ``periods`` their periods in seconds (for ``PERIOD()``).
    """

    grid: Sequence[datetime]
    resolve: Callable[[str], Value]
    metric_ids: Sequence[str] = ()
    periods: Mapping[str, int] | None = None


_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": operator.pow,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
    "AND": lambda a, b: float(bool(a) and bool(b)),
    "OR": lambda a, b: float(bool(a) or bool(b)),
}


def evaluate(node: Node, ctx: Context) -> Value:
    """Evaluate ``node``; the result is a scalar, a series, or an array of series."""
    match node:
        case Number(value=value):
            return value
        case Ref(id=id_):
            return ctx.resolve(id_)
        case Unary(operand=operand):
            return _map(evaluate(operand, ctx), operator.neg)
        case Binary(op=op, left=left, right=right):
            return _binary(op, evaluate(left, ctx), evaluate(right, ctx))
        case ArrayLit(items=items):
            return _array([evaluate(item, ctx) for item in items])
        case Call(name=name, args=args):
            return _call(name, args, ctx)
        case Text(value=value):
            raise MathEvaluationError(f"a string ({value!r}) is only valid inside METRICS()")
        case Keyword(name=name):
            raise MathEvaluationError(f"{name} is only valid as the second argument of FILL")
    raise MathEvaluationError(f"cannot evaluate {node!r}")  # pragma: no cover


def _apply(fn: Callable[[float, float], float], a: float, b: float) -> float | None:
    try:
        result = fn(a, b)
    except ZeroDivisionError:
        return None  # "the data point is dropped"
    except OverflowError:
        return math.inf
    if isinstance(result, complex):  # a negative number to a fractional power
        return None
    return float(result)


def _binary(op: str, left: Value, right: Value) -> Value:
    fn = _ARITHMETIC[op]
    if isinstance(left, list):
        return [_as_series(_binary(op, item, right)) for item in left]
    if isinstance(right, list):
        return [_as_series(_binary(op, left, item)) for item in right]
    if isinstance(left, dict) and isinstance(right, dict):
        out: Series = {}
        for t in sorted(left.keys() | right.keys()):
            value = _apply(fn, left.get(t, 0.0), right.get(t, 0.0))
            if value is not None:
                out[t] = value
        return out
    if isinstance(left, dict):
        assert isinstance(right, float)
        return _series_scalar(left, lambda a: _apply(fn, a, right))
    if isinstance(right, dict):
        return _series_scalar(right, lambda b: _apply(fn, left, b))
    result = _apply(fn, left, right)
    if result is None:
        raise MathEvaluationError(f"scalar division by zero in {left} {op} {right}")
    return result


def _series_scalar(series: Series, fn: Callable[[float], float | None]) -> Series:
    out: Series = {}
    for t, v in series.items():
        value = fn(v)
        if value is not None:
            out[t] = value
    return out


def _map(value: Value, fn: Callable[[float], float]) -> Value:
    if isinstance(value, list):
        return [{t: fn(v) for t, v in s.items()} for s in value]
    if isinstance(value, dict):
        return {t: fn(v) for t, v in value.items()}
    return fn(value)


def _as_series(value: Value) -> Series:
    if not isinstance(value, dict):
        raise MathEvaluationError("an array of time series cannot contain arrays or scalars")
    return value


def _array(items: list[Value]) -> list[Series]:
    out: list[Series] = []
    for item in items:
        if isinstance(item, list):
            out.extend(item)  # [METRICS("4xx"), METRICS("5xx")] flattens
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise MathEvaluationError("array elements must be time series, not scalars")
    return out


_FUNCTIONS = (
    "ABS",
    "AVG",
    "CEIL",
    "FILL",
    "FLOOR",
    "IF",
    "MAX",
    "METRICS",
    "MIN",
    "PERIOD",
    "SUM",
    "TIME_SERIES",
)


def _call(name: str, args: tuple[Node, ...], ctx: Context) -> Value:
    if name == "IF":
        return _if(args, ctx)
    if name == "FILL":
        return _fill(args, ctx)
    if name == "METRICS":
        return _metrics(args, ctx)
    if name == "PERIOD":
        return _period(args, ctx)
    if name in ("ABS", "CEIL", "FLOOR"):
        _arity(name, args, 1)
        rounding: dict[str, Callable[[float], float]] = {
            "ABS": abs,
            "CEIL": lambda v: float(math.ceil(v)),
            "FLOOR": lambda v: float(math.floor(v)),
        }
        return _map(evaluate(args[0], ctx), rounding[name])
    if name in ("SUM", "AVG", "MIN", "MAX"):
        _arity(name, args, 1)
        return _aggregate(name, evaluate(args[0], ctx))
    if name == "TIME_SERIES":
        _arity(name, args, 1)
        value = evaluate(args[0], ctx)
        if not isinstance(value, float):
            raise MathEvaluationError("TIME_SERIES takes a scalar")
        return dict.fromkeys(ctx.grid, value)
    raise MathEvaluationError(
        f"unsupported function {name}() (the drill supports {', '.join(_FUNCTIONS)})"
    )


def _arity(name: str, args: tuple[Node, ...], *counts: int) -> None:
    if len(args) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise MathEvaluationError(f"{name}() takes {wanted} arguments, got {len(args)}")


def _truthy(value: float) -> bool:
    return value != 0.0


def _if(args: tuple[Node, ...], ctx: Context) -> Value:
    _arity("IF", args, 2, 3)
    cond = evaluate(args[0], ctx)
    then = evaluate(args[1], ctx)
    other = evaluate(args[2], ctx) if len(args) == 3 else None
    if isinstance(cond, list) or isinstance(then, list) or isinstance(other, list):
        raise MathEvaluationError("IF does not take arrays of time series")
    if isinstance(cond, float):
        if _truthy(cond):
            return then
        return other if other is not None else {}
    out: Series = {}
    for t, c in cond.items():
        if _truthy(c):
            # A true condition with no point in a series operand yields 0 (guide, IF table).
            out[t] = then if isinstance(then, float) else then.get(t, 0.0)
        elif isinstance(other, float):
            out[t] = other
        elif isinstance(other, dict) and t in other:
            out[t] = other[t]
    return out


def _fill(args: tuple[Node, ...], ctx: Context) -> Value:
    _arity("FILL", args, 2)
    target = evaluate(args[0], ctx)
    how = args[1]
    filler: Value | str = how.name if isinstance(how, Keyword) else evaluate(how, ctx)
    if isinstance(target, list):
        return [_fill_one(s, filler, ctx.grid) for s in target]
    if not isinstance(target, dict):
        raise MathEvaluationError("FILL's first argument must be a time series")
    return _fill_one(target, filler, ctx.grid)


def _fill_one(series: Series, filler: Value | str, grid: Sequence[datetime]) -> Series:
    out: Series = {}
    if filler == "REPEAT":
        last: float | None = None
        for t in grid:
            if t in series:
                last = series[t]
            if last is not None:
                out[t] = series.get(t, last)
        return out
    if filler == "LINEAR":
        known = [(i, series[t]) for i, t in enumerate(grid) if t in series]
        for (i0, v0), (i1, v1) in itertools.pairwise(known):
            for i in range(i0, i1):
                out[grid[i]] = v0 + (v1 - v0) * (i - i0) / (i1 - i0)
        if known:
            out[grid[known[-1][0]]] = known[-1][1]
        return out
    if isinstance(filler, list):
        raise MathEvaluationError("FILL's second argument cannot be an array")
    for t in grid:
        if t in series:
            out[t] = series[t]
        elif isinstance(filler, float):
            out[t] = filler
        elif isinstance(filler, dict) and t in filler:
            out[t] = filler[t]
    return out


def _metrics(args: tuple[Node, ...], ctx: Context) -> Value:
    _arity("METRICS", args, 0, 1)
    needle = ""
    if args:
        if not isinstance(args[0], Text):
            raise MathEvaluationError('METRICS() takes an optional string: METRICS("errors")')
        needle = args[0].value
    out: list[Series] = []
    for id_ in ctx.metric_ids:
        if needle in id_:
            out.append(_as_series(ctx.resolve(id_)))
    return out


def _period(args: tuple[Node, ...], ctx: Context) -> Value:
    _arity("PERIOD", args, 1)
    arg = args[0]
    if not isinstance(arg, Ref) or ctx.periods is None or arg.id not in ctx.periods:
        raise MathEvaluationError("PERIOD() takes the id of a metric (not an expression)")
    return float(ctx.periods[arg.id])


def _aggregate(name: str, value: Value) -> Value:
    if isinstance(value, float):
        raise MathEvaluationError(f"{name}() takes a time series or an array, not a scalar")
    if isinstance(value, dict):
        values = list(value.values())
        if not values:
            raise MathEvaluationError(f"{name}() of a series with no data points")
        return _reduce(name, values, len(values))
    out: Series = {}
    for t in sorted(set().union(*value)) if value else []:
        present = [s[t] for s in value if t in s]
        out[t] = _reduce(name, present, len(value))
    return out


def _reduce(name: str, values: list[float], count: int) -> float:
    if name == "SUM":
        return float(sum(values))
    if name == "AVG":
        # Missing values count as 0 (guide, AVG): divide by the number of series.
        return float(sum(values)) / count
    return float(max(values) if name == "MAX" else min(values))
