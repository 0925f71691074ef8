"""The count alarm the kit used to synthesize, held in OK by FILL during a 502 outage.

CloudWatch User Guide, "Using metric math" (FILL): in an alarm whose metrics arrive with a
delay, "the most recent minute never has data", FILL gives that minute the fill value, and
the alarm "can be stuck in either OK state or ALARM state". The kit's count alarm used to
be ``IF(100 * FILL(errors, 0) >= 0.1 * FILL(requests, 0), FILL(errors, 0), 0) > 50``, 1 of
1. Under the wall-clock evaluator (every minute, the range reaching the current minute,
each datapoint visible once it has landed) its newest datapoint is always the filled 0,
so a sustained outage never fires it. The old expression lives here only, as a fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drill.evaluator import ALARM, OK, AlarmSpec, SeriesStore, evaluation_range_for, replay
from tests.drill.conftest import ELB, LB_DIMENSION

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=5)
MINUTES = 25
# The delay range the drill models (drill.runner): 1 to 4 minutes after a minute ends.
DELAYS_S = (60, 150, 240)
OLD_COUNT_EXPRESSION = "IF(100 * FILL(errors, 0) >= 0.1 * FILL(requests, 0), FILL(errors, 0), 0)"


def _stat(id_: str, name: str) -> dict[str, Any]:
    return {
        "Id": id_,
        "MetricStat": {
            "Metric": {"Dimensions": [LB_DIMENSION], "MetricName": name, "Namespace": ELB},
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def old_count_alarm() -> AlarmSpec:
    """The Elb5xxCount alarm as the kit synthesized it before the fix."""
    return AlarmSpec.from_properties(
        {
            "ComparisonOperator": "GreaterThanThreshold",
            "DatapointsToAlarm": 1,
            "EvaluationPeriods": 1,
            "Metrics": [
                {"Expression": OLD_COUNT_EXPRESSION, "Id": "expr_1", "ReturnData": True},
                _stat("errors", "HTTPCode_ELB_5XX_Count"),
                _stat("requests", "RequestCount"),
            ],
            "Threshold": 50,
            "TreatMissingData": "notBreaching",
        },
        name="Elb5xxCount (old)",
    )


def outage_502() -> SeriesStore:
    """4,420 requests a minute; from ONSET 369 of them are ELB 502s, for 20 minutes."""
    minutes = [T0 + timedelta(minutes=i) for i in range(MINUTES)]
    store = SeriesStore()
    store.add(ELB, "RequestCount", "Sum", dict.fromkeys(minutes, 4420.0))
    store.add(ELB, "HTTPCode_ELB_5XX_Count", "Sum", {t: 369.0 for t in minutes if t >= ONSET})
    return store


def run(alarm: AlarmSpec, delay_s: float) -> Any:
    return replay(
        alarm,
        outage_502(),
        start=T0,
        end=T0 + timedelta(minutes=MINUTES),
        initial_state=OK,
        delay_s=delay_s,
        evaluation_range=evaluation_range_for(1, 60, max(DELAYS_S)),
    )


@pytest.mark.parametrize("delay_s", DELAYS_S)
def test_old_count_expression_stays_ok_through_a_sustained_502_outage(delay_s: int) -> None:
    result = run(old_count_alarm(), delay_s)

    assert result.transitions == ()
    assert {step.state for step in result.steps} == {OK}
    # The judged datapoint is FILL's 0 for the minute that has not landed yet.
    assert {step.value for step in result.steps} == {0.0}


def test_old_count_expression_fires_only_if_the_newest_minute_has_always_landed() -> None:
    # The drill's old model: evaluate a minute when its datapoint lands (no delay between
    # the minute's end and the evaluation that reads it), which hid the defect.
    result = run(old_count_alarm(), 0)

    assert result.first_alarm is not None
    assert result.first_alarm.new_state == ALARM
    assert result.first_alarm.timestamp == ONSET
