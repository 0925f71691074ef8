"""Metric math against the examples in the CloudWatch User Guide, "Using metric math"."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta

import pytest

from drill.metric_math import (
    Context,
    MathEvaluationError,
    MathSyntaxError,
    Series,
    Value,
    evaluate,
    parse,
    referenced_ids,
)

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
GRID = [T0 + timedelta(minutes=i) for i in range(5)]


def ts(*values: float | None) -> Series:
    """A series on GRID; None is a missing data point (the guide's '-')."""
    return {t: float(v) for t, v in zip(GRID, values, strict=False) if v is not None}


def run(expression: str, **series: Series) -> Value:
    def resolve(id_: str) -> Value:
        if id_ not in series:
            raise MathEvaluationError(f"unknown id {id_}")
        return series[id_]

    ctx = Context(grid=GRID, resolve=resolve)
    return evaluate(parse(expression), ctx)


def listed(series: Value) -> list[float | None]:
    assert isinstance(series, dict)
    return [series.get(t) for t in GRID]


# The guide's comparison example: metric1 [30, 20, 0, 0], metric2 [20, -, 20, -].
METRIC1 = ts(30, 20, 0, 0)
METRIC2 = ts(20, None, 20, None)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("metric1 < metric2", [0, 0, 1, 0, None]),
        ("metric1 >= 30", [1, 0, 0, 0, None]),
        ("metric1 > 15 AND metric2 > 15", [1, 0, 0, 0, None]),
    ],
)
def test_comparison_examples_from_the_guide(expression: str, expected: list[float | None]) -> None:
    assert listed(run(expression, metric1=METRIC1, metric2=METRIC2)) == expected


# The guide's IF examples: metric1 [1, 1, 0, 0, -], metric2 [30, -, 0, 0, 30],
# metric3 [0, 0, 20, -, 20].
IF_METRICS = {
    "metric1": ts(1, 1, 0, 0, None),
    "metric2": ts(30, None, 0, 0, 30),
    "metric3": ts(0, 0, 20, None, 20),
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("IF(metric1, metric2, metric3)", [30, 0, 20, None, None]),
        ("IF(metric1, 5, metric3)", [5, 5, 20, None, None]),
        ("IF(metric1, metric2, 5)", [30, 0, 5, 5, None]),
    ],
)
def test_if_examples_from_the_guide(expression: str, expected: list[float | None]) -> None:
    assert listed(run(expression, **IF_METRICS)) == expected


def test_if_without_false_branch_drops_false_points() -> None:
    assert listed(run("IF(m1 < 400, m1)", m1=ts(100, 500, 300, None, 900))) == [
        100,
        None,
        300,
        None,
        None,
    ]


def test_if_with_scalar_false_condition_and_no_false_branch_is_empty() -> None:
    assert run("IF(0, m1)", m1=ts(1, 2)) == {}


def test_arithmetic_treats_a_point_missing_from_one_series_as_zero() -> None:
    assert listed(run("m1 + m2", m1=ts(1, None, 3), m2=ts(10, 20, None))) == [
        11,
        20,
        3,
        None,
        None,
    ]


def test_division_by_zero_drops_only_that_point() -> None:
    assert listed(run("m1 / m2", m1=ts(10, 10, 10), m2=ts(2, 0, 5))) == [5, None, 2, None, None]


def test_scalar_division_by_zero_is_an_error() -> None:
    with pytest.raises(MathEvaluationError, match="division by zero"):
        run("1 / 0")


def test_fill_with_a_constant_covers_the_whole_grid() -> None:
    assert listed(run("FILL(m1, 0)", m1=ts(None, 5))) == [0, 5, 0, 0, 0]


def test_no_input_datapoint_at_a_timestamp_gives_no_output_point() -> None:
    # Missing values count as 0 only beside a real point: the last two grid minutes
    # have no input at all, so arithmetic and comparison give nothing there.
    errors, requests = ts(5, None, 7), ts(100, 200, None)

    assert listed(run("errors + requests", errors=errors, requests=requests))[3:] == [None] * 2
    assert listed(run("errors > requests", errors=errors, requests=requests))[3:] == [None] * 2


def test_comparison_between_series_treats_the_missing_side_as_zero() -> None:
    assert listed(run("100 * e >= 0.1 * r", e=ts(40, 1, None), r=ts(None, 10_000, 500))) == [
        1,
        0,
        0,
        None,
        None,
    ]


def test_comparison_with_a_constant_keeps_only_the_series_own_points() -> None:
    assert listed(run("errors >= 0", errors=ts(3, None, 0))) == [1, None, 1, None, None]


def test_fill_repeat_carries_the_last_real_value_forward() -> None:
    # Leading gaps stay missing: there is no earlier value on the grid to repeat.
    assert listed(run("FILL(m1, REPEAT)", m1=ts(None, 5, None, 7))) == [None, 5, 5, 7, 7]


def test_fill_gives_an_unpublished_newest_minute_the_fill_value() -> None:
    # The caveat in the guide's FILL row: in an alarm the newest minute has not landed,
    # and FILL turns its absence into the fill value.
    published = ts(369, 369, 369, 369)

    assert listed(run("FILL(errors, 0)", errors=published))[-1] == 0
    assert listed(run("errors", errors=published))[-1] is None


def test_kit_count_expression_per_minute_kind() -> None:
    # Outage with traffic, 503 without RequestCount, background noise under the floor,
    # a quiet minute, and a minute nothing has landed for: only the first two have points.
    errors = ts(369, 4400, 100, None, None)
    requests = ts(4420, None, 1_000_000, 4420, None)

    values = run("IF(100 * errors >= 0.1 * requests, errors)", errors=errors, requests=requests)

    assert listed(values) == [369, 4400, None, None, None]


def test_kit_rate_expression_has_points_only_where_both_counts_landed() -> None:
    errors = ts(369, 30, None, 5, 2)
    requests = ts(4420, None, 4420, 10, 100)

    values = run(
        "IF(errors > 0 AND requests >= 20, 100 * errors / requests)",
        errors=errors,
        requests=requests,
    )

    assert listed(values) == [pytest.approx(8.3484, abs=1e-4), None, None, None, 2]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("-2 * 2", -4.0),
        ("10 - 4 - 3", 3.0),
        ("1 < 2 AND 3 > 4 OR 1", 1.0),
        ("1.5e2 / 3", 50.0),
        ("5 >= 5 AND 1 != 2", 1.0),
        ("IF(0, 1, 2) + IF(1, 3)", 5.0),
    ],
)
def test_scalar_precedence(expression: str, expected: float) -> None:
    assert run(expression) == expected


def test_parse_builds_a_tree_without_eval() -> None:
    tree = parse("m1 * 100")

    assert isinstance(tree, ast.BinOp)
    assert isinstance(tree.left, ast.Name)
    assert tree.left.id == "m1"


def test_referenced_ids_finds_ids_inside_functions() -> None:
    assert referenced_ids(parse("IF(requests >= 100, 100 * FILL(e5xx, 0) / requests, 0)")) == {
        "requests",
        "e5xx",
    }


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("m1 +", "invalid syntax at position 4"),
        ("IF(m1, 2", "'\\(' was never closed at position 2"),
        ("m1 $ 2", "invalid syntax at position 3"),
        ("Requests * 2", "metric ids must start with a lower-case letter"),
        ("m1 m2", "invalid syntax at position 3"),
        ("m1 < m2 < 3", "chained comparisons"),
        ("IF(m1)", "IF\\(\\) takes 2 or 3 arguments, got 1"),
    ],
)
def test_syntax_errors_name_the_expression_and_the_problem(expression: str, message: str) -> None:
    with pytest.raises(MathSyntaxError, match=message) as raised:
        parse(expression)

    assert repr(expression) in str(raised.value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("ANOMALY_DETECTION_BAND(m1)", "unsupported function ANOMALY_DETECTION_BAND"),
        ("FILL(m1, LINEAR)", "FILL's second argument must be a number or REPEAT"),
        ("SUM([m1, m2])", "unsupported function SUM"),
        ('METRICS("errors")', "unsupported function METRICS"),
        ("m1 ^ 2", "unsupported operator BitXor"),
        ("m1 || m2", "invalid syntax"),
        ("[m1, m2]", "unsupported syntax"),
    ],
)
def test_expressions_outside_the_kits_subset_are_rejected_by_name(
    expression: str, message: str
) -> None:
    with pytest.raises(MathSyntaxError, match=re.escape(message)) as raised:
        parse(expression)

    assert f"metric math {expression!r}" in str(raised.value)
