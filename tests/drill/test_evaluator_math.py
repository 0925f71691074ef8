"""The evaluator's metric-math alarms: guarded rates, missing counts, division by zero, FILL.

CloudWatch User Guide, "Using math expressions with CloudWatch metrics"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html) and
"Using Amazon CloudWatch alarms", Alarms on math expressions (one period for every metric).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from drill.alarm_spec import AlarmDefinitionError, AlarmSpec
from drill.evaluator import ALARM, OK, replay
from tests.support.replays import T0, count_alarm, minute, rate_alarm, states, store

GUARDED_RATE = "IF(requests >= 100, 100 * e5xx / requests, 0)"


def guarded_rate_alarm() -> AlarmSpec:
    props = rate_alarm(GUARDED_RATE)
    props["Metrics"][1]["Id"] = "e5xx"
    return AlarmSpec.from_properties(props, name="Elb5xxRate")


def test_guard_silences_rate_alarm_at_40_requests_per_minute_with_30_percent_errors() -> None:
    source = store(RequestCount=[40.0], HTTPCode_ELB_5XX_Count=[12.0])

    result = replay(guarded_rate_alarm(), source, start=T0, end=minute(1))

    assert (result.steps[0].value, result.steps[0].state) == (0.0, OK)


def test_rate_alarm_ignores_0_01_percent_at_a_million_requests_per_minute() -> None:
    source = store(RequestCount=[1_000_000.0], HTTPCode_ELB_5XX_Count=[100.0])

    result = replay(guarded_rate_alarm(), source, start=T0, end=minute(1))

    assert (result.steps[0].value, result.steps[0].state) == (0.01, OK)


def test_count_alarm_fires_on_the_same_0_01_percent_at_a_million_requests() -> None:
    alarm = AlarmSpec.from_properties(count_alarm())
    source = store(RequestCount=[1_000_000.0], HTTPCode_ELB_5XX_Count=[100.0])

    assert states(alarm, source, 1) == [ALARM]


def test_rate_alarm_fires_on_the_502_incident() -> None:
    source = store(RequestCount=[4421.0], HTTPCode_ELB_5XX_Count=[369.0])

    result = replay(guarded_rate_alarm(), source, start=T0, end=minute(1))

    assert result.steps[0].state == ALARM
    assert result.steps[0].value == pytest.approx(8.3465, abs=1e-4)


def test_unpublished_error_count_counts_as_zero_next_to_a_request_count() -> None:
    # "Missing values in a time series are treated as 0" (metric math, basic arithmetic).
    source = store(RequestCount=[4400.0], HTTPCode_ELB_5XX_Count=[None])

    result = replay(guarded_rate_alarm(), source, start=T0, end=minute(1))

    assert result.steps[0].value == 0.0


def test_rate_without_a_request_count_has_no_datapoint() -> None:
    # IF drops the point when the condition series has none; the alarm sees missing data.
    source = store(RequestCount=[None], HTTPCode_ELB_5XX_Count=[30.0])

    result = replay(guarded_rate_alarm(), source, start=T0, end=minute(1))

    assert result.steps[0].value is None


def test_division_by_zero_drops_the_datapoint() -> None:
    alarm = AlarmSpec.from_properties(rate_alarm("100 * errors / requests"))
    source = store(RequestCount=[0.0], HTTPCode_ELB_5XX_Count=[5.0])

    result = replay(alarm, source, start=T0, end=minute(1))

    assert result.steps[0].value is None


def test_kit_rate_expression_with_fill_reads_like_the_synthesized_alarm() -> None:
    # The expression alarm_rollback_kit/auto_rollback.py writes.
    alarm = AlarmSpec.from_properties(
        rate_alarm("IF(requests >= 50, 100 * FILL(errors, 0) / requests, 0)")
    )
    source = store(RequestCount=[120.0, 120.0], HTTPCode_ELB_5XX_Count=[None, 36.0])

    result = replay(alarm, source, start=T0, end=minute(2))

    assert [s.value for s in result.steps] == [0.0, 30.0]
    assert [s.state for s in result.steps] == [OK, ALARM]


def test_math_alarm_periods_must_agree() -> None:
    props = rate_alarm(GUARDED_RATE)
    props["Metrics"][2]["MetricStat"]["Period"] = 300

    with pytest.raises(AlarmDefinitionError, match="same Period"):
        AlarmSpec.from_properties(props)


def test_math_alarm_needs_exactly_one_returned_query() -> None:
    props = rate_alarm(GUARDED_RATE)
    props["Metrics"][1]["ReturnData"] = True

    with pytest.raises(AlarmDefinitionError, match="exactly one of Metrics"):
        AlarmSpec.from_properties(props)


def test_expression_naming_an_unknown_id_is_rejected() -> None:
    with pytest.raises(AlarmDefinitionError, match="unknown id\\(s\\) e5xx"):
        AlarmSpec.from_properties(rate_alarm("100 * e5xx / requests"))


def test_expressions_referring_to_each_other_in_a_cycle_are_rejected() -> None:
    props = rate_alarm("100 * helper / requests")
    props["Metrics"].append({"Id": "helper", "Expression": "expr_1 + errors", "ReturnData": False})

    with pytest.raises(AlarmDefinitionError, match=r"in a cycle: .*expr_1.*helper"):
        AlarmSpec.from_properties(props)


def test_expression_syntax_error_names_the_position() -> None:
    with pytest.raises(AlarmDefinitionError, match="position 15"):
        AlarmSpec.from_properties(rate_alarm("100 * errors / "))


def test_metric_refs_list_every_metric_the_alarm_reads() -> None:
    alarm = AlarmSpec.from_properties(rate_alarm(GUARDED_RATE.replace("e5xx", "errors")))

    assert sorted(str(r) for r in alarm.metric_refs()) == [
        "AWS/ApplicationELB HTTPCode_ELB_5XX_Count Sum",
        "AWS/ApplicationELB RequestCount Sum",
    ]


def test_pointwise_rate_alarm_gives_the_same_values_as_per_range_evaluation() -> None:
    alarm = guarded_rate_alarm()
    source = store(
        RequestCount=[40.0, 4421.0, None, 4420.0, 0.0],
        HTTPCode_ELB_5XX_Count=[12.0, 369.0, 5.0, None, None],
    )
    grids = [[minute(i - 2), minute(i - 1), minute(i)] for i in range(5)]
    data = {q.id: source(q.metric) for q in alarm.queries if q.metric is not None}

    result = replay(alarm, source, start=T0, end=minute(5))

    assert [s.value for s in result.steps] == [alarm.values(g, data)[-1] for g in grids]


def test_breaching_fill_is_named_in_the_reason() -> None:
    alarm = AlarmSpec.from_properties(
        count_alarm(TreatMissingData="breaching", EvaluationPeriods=3, DatapointsToAlarm=2)
    )

    result = replay(alarm, store(HTTPCode_ELB_5XX_Count=[80.0]), start=T0, end=minute(1))

    assert result.steps[0].state == ALARM
    assert result.steps[0].reason.endswith("2 missing datapoints treated as [Breaching].")


def test_reason_without_any_datapoint_says_none_were_received() -> None:
    alarm = AlarmSpec.from_properties(count_alarm())

    result = replay(alarm, store(HTTPCode_ELB_5XX_Count=[None]), start=T0, end=minute(1))

    assert result.steps[0].reason == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing "
        "datapoint was treated as [NonBreaching]."
    )


def test_state_at_reports_the_state_in_force() -> None:
    alarm = AlarmSpec.from_properties(count_alarm())
    result = replay(alarm, store(HTTPCode_ELB_5XX_Count=[10.0, 369.0]), start=T0, end=minute(2))

    assert result.state_at(minute(0)) is None
    assert result.state_at(minute(1) + timedelta(seconds=30)) == OK
    assert result.state_at(minute(2)) == ALARM
