"""The offline alarm evaluator against the CloudWatch User Guide's documented behaviour.

Sources: "Evaluating an alarm" (M out of N), "Configuring how CloudWatch alarms treat
missing data" (the two outcome tables, each row a test case below) and "Using metric math"
(IF, FILL, missing values, division by zero).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from drill.alarm_spec import AlarmDefinitionError, AlarmSpec, SeriesStore
from drill.evaluator import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    evaluate_window,
    evaluation_range_for,
    replay,
)
from tests.support.alarms import ELB
from tests.support.replays import T0, count_alarm, minute, rate_alarm, states, store

RETAIN = "retain"


def points(row: str) -> list[bool | None]:
    """'0 - X' -> [False, None, True]: the guide's notation, oldest datapoint first."""
    return [{"0": False, "X": True, "-": None}[c] for c in row.split()]


# The guide's two tables (EvaluationPeriods 3, 5 datapoints retrieved), one line per row:
# DatapointsToAlarm, the row, then the state under missing, ignore, breaching, notBreaching.
TABLES = """
3 | 0 - X - X | OK OK OK OK
3 | 0 - - - - | OK OK OK OK
3 | - - - - - | INSUFFICIENT_DATA retain ALARM OK
3 | 0 X X - X | ALARM ALARM ALARM ALARM
3 | - - - - X | INSUFFICIENT_DATA retain ALARM OK
3 | X - - - - | ALARM retain ALARM OK
2 | 0 - X - X | ALARM ALARM ALARM ALARM
2 | 0 0 X 0 X | ALARM ALARM ALARM ALARM
2 | 0 - X - - | OK OK ALARM OK
2 | - - - - 0 | OK OK ALARM OK
2 | - - - - X | INSUFFICIENT_DATA retain ALARM OK
"""
TREATMENTS = ("missing", "ignore", "breaching", "notBreaching")


def _table_cases() -> list[Any]:
    cases = []
    for line in TABLES.strip().splitlines():
        m, row, states = (part.strip() for part in line.split("|"))
        for treat, want in zip(TREATMENTS, states.split(), strict=True):
            cases.append(pytest.param(int(m), row, treat, want, id=f"{m}of3 [{row}] {treat}"))
    return cases


@pytest.mark.parametrize(("m", "row", "treat", "expected"), _table_cases())
@pytest.mark.parametrize("current", [OK, ALARM])
def test_missing_data_table_row(m: int, row: str, treat: str, expected: str, current: str) -> None:
    outcome = evaluate_window(
        points(row),
        evaluation_periods=3,
        datapoints_to_alarm=m,
        treat_missing_data=treat,
        current_state=current,
    )

    assert outcome.state == (current if expected == RETAIN else expected)


def test_enough_real_datapoints_ignore_missing_data_treatment() -> None:
    # "0 - X - X": three real datapoints, so notBreaching is never consulted and the
    # two breaching ones make a 2-of-3 alarm fire.
    outcome = evaluate_window(
        points("0 - X - X"),
        evaluation_periods=3,
        datapoints_to_alarm=2,
        treat_missing_data="notBreaching",
        current_state=OK,
    )

    assert outcome.used == (0, 2, 4)
    assert outcome.filled == 0


def test_502_incident_minute_fires_the_count_alarm_one_period_after_onset() -> None:
    alarm = AlarmSpec.from_properties(count_alarm(), name="Elb5xxCount")
    source = store(HTTPCode_ELB_5XX_Count=[None, None, 369.0])

    result = replay(alarm, source, start=T0, end=minute(3))

    assert [(t.new_state, t.at) for t in result.transitions] == [
        (OK, minute(1)),
        (ALARM, minute(3)),
    ]


def test_alarm_reason_reads_like_cloudwatch() -> None:
    alarm = AlarmSpec.from_properties(count_alarm(), name="Elb5xxCount")

    fired = replay(alarm, store(HTTPCode_ELB_5XX_Count=[92.0]), start=T0, end=minute(1))

    assert fired.transitions[-1].reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [92.0 (24/11/26 14:30:00)] was "
        "greater than the threshold (50.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> "
        "ALARM transition)."
    )


def test_transition_reason_data_lists_the_evaluated_datapoint() -> None:
    alarm = AlarmSpec.from_properties(count_alarm(), name="Elb5xxCount")

    fired = replay(alarm, store(HTTPCode_ELB_5XX_Count=[92.0]), start=T0, end=minute(1))

    data = fired.transitions[-1].reason_data
    assert data["evaluatedDatapoints"] == [
        {"timestamp": "2026-11-24T14:30:00.000+0000", "value": 92.0}
    ]
    assert (data["statistic"], data["threshold"], data["period"]) == ("Sum", 50.0, 60)


@pytest.mark.parametrize(
    ("operator", "value", "breaches"),
    [
        ("GreaterThanThreshold", 50.0, False),
        ("GreaterThanThreshold", 50.5, True),
        ("GreaterThanOrEqualToThreshold", 50.0, True),
        ("GreaterThanOrEqualToThreshold", 49.5, False),
        ("LessThanThreshold", 50.0, False),
        ("LessThanThreshold", 49.5, True),
        ("LessThanOrEqualToThreshold", 50.0, True),
        ("LessThanOrEqualToThreshold", 50.5, False),
    ],
)
def test_comparison_operator_at_the_threshold(operator: str, value: float, breaches: bool) -> None:
    alarm = AlarmSpec.from_properties(count_alarm(ComparisonOperator=operator))

    assert alarm.breaches(value) is breaches


def test_three_of_three_alarm_needs_three_consecutive_breaching_periods() -> None:
    # The guide's figure: threshold 3, 3 of 3; ALARM only once three periods in a row breach.
    # (A lone real non-breaching datapoint already means OK: table row "0 - - - -".)
    alarm = AlarmSpec.from_properties(
        count_alarm(
            Threshold=3, EvaluationPeriods=3, DatapointsToAlarm=3, TreatMissingData="missing"
        )
    )
    source = store(HTTPCode_ELB_5XX_Count=[1, 2, 4, 5, 6, 2, 1, 1, 5, 1])

    assert states(alarm, source, 10) == [
        OK,
        OK,
        OK,
        OK,
        ALARM,
        OK,
        OK,
        OK,
        OK,
        OK,
    ]


def test_m_of_n_breaches_need_not_be_consecutive() -> None:
    # 2 out of 3: breaching, fine, breaching is enough.
    alarm = AlarmSpec.from_properties(
        count_alarm(EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="missing")
    )
    source = store(HTTPCode_ELB_5XX_Count=[0, 0, 0, 80, 10, 70])

    assert states(alarm, source, 6)[-1] == ALARM


def test_ignore_keeps_alarm_state_while_data_is_missing() -> None:
    alarm = AlarmSpec.from_properties(count_alarm(TreatMissingData="ignore"))
    source = store(HTTPCode_ELB_5XX_Count=[80, None, None, None, None, None])

    assert states(alarm, source, 6) == [ALARM] * 6


def test_missing_goes_to_insufficient_data_once_the_whole_range_is_empty() -> None:
    alarm = AlarmSpec.from_properties(count_alarm(TreatMissingData="missing", Threshold=100))
    source = store(HTTPCode_ELB_5XX_Count=[10, None, None, None])

    # Range is 3 periods for N = 1: the real 10 keeps the alarm OK until it leaves the range.
    assert states(alarm, source, 4) == [OK, OK, OK, INSUFFICIENT_DATA]


def test_sparse_error_count_stays_in_alarm_until_the_last_breach_leaves_the_range() -> None:
    # ALB publishes no datapoint for zero errors; with a real datapoint still inside the
    # range, CloudWatch re-evaluates it rather than treating the gap as not breaching.
    alarm = AlarmSpec.from_properties(count_alarm())
    source = store(HTTPCode_ELB_5XX_Count=[369, None, None, None])

    assert states(alarm, source, 4) == [ALARM, ALARM, ALARM, OK]


def test_anomaly_band_operator_is_rejected_by_name() -> None:
    props = count_alarm(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold")

    with pytest.raises(AlarmDefinitionError, match="anomaly-detection"):
        AlarmSpec.from_properties(props, name="Band")


def test_datapoints_to_alarm_above_evaluation_periods_is_rejected() -> None:
    with pytest.raises(AlarmDefinitionError, match="DatapointsToAlarm=4 exceeds"):
        AlarmSpec.from_properties(count_alarm(EvaluationPeriods=3, DatapointsToAlarm=4))


def test_unknown_treat_missing_data_is_rejected_with_the_value() -> None:
    with pytest.raises(AlarmDefinitionError, match="TreatMissingData='notbreaching'"):
        AlarmSpec.from_properties(count_alarm(TreatMissingData="notbreaching"))


def test_extended_statistic_selects_the_percentile_series() -> None:
    props = count_alarm(MetricName="TargetResponseTime", ExtendedStatistic="p99", Threshold=2)
    del props["Statistic"]
    alarm = AlarmSpec.from_properties(props)
    source = SeriesStore({(ELB, "TargetResponseTime", "p99"): {T0: 2.5}})

    assert states(alarm, source, 1) == [ALARM]


# --- The wall clock ------------------------------------------------------------------------


def test_replay_evaluates_every_minute_with_the_range_reaching_the_current_minute() -> None:
    # "For any period of one minute or longer, an alarm is evaluated every minute" over the
    # window that ends then (CloudWatch User Guide, "Evaluating an alarm"). With a 90 s
    # delay the minute that just ended, and the one before, have not landed yet.
    alarm = AlarmSpec.from_properties(count_alarm())
    source = store(HTTPCode_ELB_5XX_Count=[369.0, 369.0, 369.0, 369.0])

    result = replay(alarm, source, start=T0, end=minute(4), delay_s=90, evaluation_range=5)

    step = result.steps[3]
    assert step.evaluated_at == minute(4)
    assert [v for _, v in step.window] == [None, 369.0, 369.0, None, None]
    assert step.timestamp == minute(3)
    assert [s.evaluated_at - result.steps[0].evaluated_at for s in result.steps] == [
        timedelta(minutes=i) for i in range(4)
    ]


def test_a_datapoint_counts_only_once_it_has_landed() -> None:
    alarm = AlarmSpec.from_properties(count_alarm())
    source = store(HTTPCode_ELB_5XX_Count=[None, 369.0])

    result = replay(alarm, source, start=T0, end=minute(5), delay_s=150, evaluation_range=6)

    # The 14:31 minute ends 14:32 and lands 14:34:30; the 14:35 evaluation is the first
    # that sees it.
    assert result.first_alarm is not None
    assert result.first_alarm.at == minute(5)


def test_per_metric_delay_lets_one_metric_land_before_another() -> None:
    alarm = AlarmSpec.from_properties(rate_alarm("errors + requests"))
    source = store(RequestCount=[100.0], HTTPCode_ELB_5XX_Count=[5.0])

    def delay(ref: Any, _t: datetime) -> float:
        return 120.0 if ref.metric_name == "HTTPCode_ELB_5XX_Count" else 0.0

    result = replay(alarm, source, start=T0, end=minute(3), delay_s=delay)

    assert [dict(s.window)[T0] for s in result.steps] == [100.0, 100.0, 105.0]


def test_evaluation_range_grows_with_the_longest_modelled_delay() -> None:
    # N + 2 as in the guide's example, plus one period per period of delay, so a datapoint
    # that lands 240 s after its minute is still inside a 1-of-1 alarm's range.
    assert evaluation_range_for(1, 60, 0) == 3
    assert evaluation_range_for(1, 60, 240) == 7
    assert evaluation_range_for(3, 300, 240) == 6


def test_five_minute_period_sums_the_landed_minutes_ending_at_each_evaluation() -> None:
    # "If the Period is 5 minutes ... at the end of minute 6, the alarm is evaluated based
    # on the data from minutes 2 to 6" (CloudWatch User Guide, "Evaluating an alarm").
    alarm = AlarmSpec.from_properties(count_alarm(Period=300, Threshold=25))
    source = store(HTTPCode_ELB_5XX_Count=[5.0, 6.0, 7.0, 8.0, 9.0, 10.0])

    result = replay(alarm, source, start=T0, end=minute(6), source_period=60, delay_s=60)

    sums = {s.evaluated_at: s.window[-1][1] for s in result.steps}
    # At 14:36 the newest period is 14:31-14:35; 14:35 has not landed (60 s delay).
    assert sums[minute(6)] == 6.0 + 7.0 + 8.0 + 9.0
    assert sums[minute(5)] == 5.0 + 6.0 + 7.0 + 8.0
    assert result.first_alarm is not None
    assert result.first_alarm.at == minute(5)


def test_longer_period_from_percentiles_is_refused_by_name() -> None:
    props = count_alarm(MetricName="TargetResponseTime", ExtendedStatistic="p99", Period=300)
    del props["Statistic"]
    alarm = AlarmSpec.from_properties(props)

    with pytest.raises(AlarmDefinitionError, match="p99 over 300 s"):
        replay(alarm, SeriesStore(), start=T0, end=minute(5), source_period=60)
