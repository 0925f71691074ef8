"""The count alarm the kit used to synthesize, held in OK by FILL during a 502 outage.

CloudWatch User Guide, "Using metric math" (FILL): in an alarm whose metrics arrive with a
delay, "the most recent minute never has data", FILL gives that minute the fill value, and
the alarm "can be stuck in either OK state or ALARM state". The kit's count alarm used to
be ``IF(100 * FILL(errors, 0) >= 0.1 * FILL(requests, 0), FILL(errors, 0), 0) > 50``, 1 of
1. Under the wall-clock evaluator (every minute, the range reaching the current minute,
each datapoint visible once it has landed) its newest datapoint is always the filled 0,
so a sustained outage never fires it. The old expression lives here only, as a fixture.
The kit's synthesized alarms, in the same outage and clock, fire once the first errored
minute lands, keep the count alarm's noise floor, and still breach a 503 outage without
a RequestCount.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from drill.alarm_spec import AlarmSpec, MetricRef, SeriesStore
from drill.evaluator import ALARM, OK, Delay, Replay, evaluation_range_for, replay
from tests.support.alarms import ELB, metric_stat
from tests.support.synthesized import service_template, synthesize

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=5)
MINUTES = 25
# The delay range the drill models (drill.runner): 1 to 4 minutes after a minute ends.
DELAYS_S = (60, 150, 240)
OLD_COUNT_EXPRESSION = "IF(100 * FILL(errors, 0) >= 0.1 * FILL(requests, 0), FILL(errors, 0), 0)"


def old_count_alarm() -> AlarmSpec:
    """The Elb5xxCount alarm as the kit synthesized it before the fix."""
    return AlarmSpec.from_properties(
        {
            "ComparisonOperator": "GreaterThanThreshold",
            "DatapointsToAlarm": 1,
            "EvaluationPeriods": 1,
            "Metrics": [
                {"Expression": OLD_COUNT_EXPRESSION, "Id": "expr_1", "ReturnData": True},
                metric_stat("errors", "HTTPCode_ELB_5XX_Count"),
                metric_stat("requests", "RequestCount"),
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


def run(alarm: AlarmSpec, delay_s: float | Delay) -> Replay:
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


# --- The kit's synthesized alarms under the same clock ---------------------------------------


@pytest.fixture(scope="module")
def kit_alarms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AlarmSpec]:
    """Every alarm of the synthesized service template, by construct id."""
    template = service_template(synthesize(tmp_path_factory.mktemp("cdk.out")))
    return {
        logical_id: AlarmSpec.from_properties(res["Properties"], name=logical_id)
        for logical_id, res in template["Resources"].items()
        if res["Type"] == "AWS::CloudWatch::Alarm"
    }


def kit_alarm(alarms: dict[str, AlarmSpec], fragment: str) -> AlarmSpec:
    (found,) = [spec for logical_id, spec in alarms.items() if fragment in logical_id]
    return found


@pytest.mark.parametrize("delay_s", DELAYS_S)
@pytest.mark.parametrize(
    "fragment", ["AutoRollbackElb5xxCount", "AutoRollbackElb5xxRate", "FiveXxRateCritical"]
)
def test_kit_alarms_fire_in_the_same_outage_once_the_errored_minute_lands(
    kit_alarms: dict[str, AlarmSpec], fragment: str, delay_s: int
) -> None:
    alarm = kit_alarm(kit_alarms, fragment)

    result = run(alarm, delay_s)

    # No FILL with a constant: a made-up value for the newest minute is what held the old
    # alarm in OK. (FILL(requests, REPEAT) repeats a real count; see the test below.)
    assert not re.search(
        r"FILL\([^)]*, *-?[0-9]", json.dumps([q.expression for q in alarm.queries])
    )
    assert result.first_alarm is not None
    # M consecutive errored minutes, each judged once it has landed.
    newest_needed = ONSET + timedelta(minutes=alarm.datapoints_to_alarm - 1)
    lands = newest_needed + timedelta(minutes=1, seconds=delay_s)
    assert result.first_alarm.at == lands + timedelta(seconds=-lands.second % 60)


def test_kit_rate_alarm_fires_when_the_error_count_lands_after_the_request_count(
    kit_alarms: dict[str, AlarmSpec],
) -> None:
    # ALB does not document that one minute's metrics land together. If RequestCount
    # landed first, a rate of "errors missing = 0" would be a non-breaching newest point
    # at every evaluation; the kit's rate has no point until the error count is there.
    def late_errors(ref: MetricRef, _t: datetime) -> float:
        return 180.0 if ref.metric_name == "HTTPCode_ELB_5XX_Count" else 60.0

    for fragment in ("AutoRollbackElb5xxRate", "AutoRollbackElb5xxCount"):
        result = run(kit_alarm(kit_alarms, fragment), late_errors)

        assert result.first_alarm is not None, fragment


def traffic(*, steady: dict[str, float], from_onset: dict[str, float] | None = None) -> SeriesStore:
    """ALB Sum series: ``steady`` every minute of the run, ``from_onset`` from ONSET on."""
    minutes = [T0 + timedelta(minutes=i) for i in range(MINUTES)]
    store = SeriesStore()
    for name, value in steady.items():
        store.add(ELB, name, "Sum", dict.fromkeys(minutes, value))
    for name, value in (from_onset or {}).items():
        store.add(ELB, name, "Sum", {t: value for t in minutes if t >= ONSET})
    return store


def replay_worst(
    alarm: AlarmSpec, store: SeriesStore, delay_s: float | Delay = 240, *, periods: int = 1
) -> Replay:
    """``alarm`` over ``store`` from T0 at the worst modelled delay (or a per-metric one)."""
    return replay(
        alarm,
        store,
        start=T0,
        end=T0 + timedelta(minutes=MINUTES),
        initial_state=OK,
        delay_s=delay_s,
        evaluation_range=evaluation_range_for(periods, 60, 240),
    )


def test_kit_count_alarm_keeps_its_noise_floor_at_a_million_requests(
    kit_alarms: dict[str, AlarmSpec],
) -> None:
    # 100 background 502s a minute are 0.01 % of 1,000,000 requests: under the 0.1 %
    # floor, so those minutes give no datapoint at all and the alarm stays OK.
    store = traffic(steady={"RequestCount": 1_000_000.0, "HTTPCode_ELB_5XX_Count": 100.0})

    result = replay_worst(kit_alarm(kit_alarms, "AutoRollbackElb5xxCount"), store)

    assert result.transitions == ()
    assert {step.value for step in result.steps} == {None}


def test_kit_count_alarm_keeps_its_noise_floor_when_error_counts_land_before_request_counts(
    kit_alarms: dict[str, AlarmSpec],
) -> None:
    # AWS does not say a minute's metrics land together. If the newest minute's error count
    # landed before its request count, "requests missing = 0" would put 100 background 502s
    # above the 0.1 % floor of a million requests and roll a healthy release back; the
    # kit's FILL(requests, REPEAT) judges that minute against the last request count that
    # landed instead.
    store = traffic(
        steady={"RequestCount": 1_000_000.0}, from_onset={"HTTPCode_ELB_5XX_Count": 100.0}
    )

    def early_errors(ref: MetricRef, _t: datetime) -> float:
        return 60.0 if ref.metric_name == "HTTPCode_ELB_5XX_Count" else 240.0

    result = replay_worst(kit_alarm(kit_alarms, "AutoRollbackElb5xxCount"), store, early_errors)

    assert result.transitions == ()


def test_kit_count_alarm_breaches_a_503_outage_without_a_request_count(
    kit_alarms: dict[str, AlarmSpec],
) -> None:
    # No registered targets: every request is an ELB 503 and RequestCount is absent
    # (it counts only requests for which a target was chosen).
    store = traffic(steady={}, from_onset={"HTTPCode_ELB_5XX_Count": 4400.0})

    count = replay_worst(kit_alarm(kit_alarms, "AutoRollbackElb5xxCount"), store)
    rate = replay_worst(kit_alarm(kit_alarms, "AutoRollbackElb5xxRate"), store)

    assert count.first_alarm is not None
    assert count.first_alarm.reason_data["recentDatapoints"] == [4400.0]
    # The rate alarm has nothing to divide by: it cannot fire here, the count alarm must.
    assert rate.transitions == ()


def _counts_lag_requests(ref: MetricRef, _t: datetime) -> float:
    # The worse order for a share of requests: RequestCount lands first, the counts late.
    return 60.0 if ref.metric_name == "RequestCount" else 240.0


def test_p1_5xx_share_fires_when_the_counts_land_after_the_request_count(
    kit_alarms: dict[str, AlarmSpec],
) -> None:
    # A share that read "5xx missing = 0" would judge 0 % for every minute whose 5xx count
    # is still on its way, and a 2-of-3 alarm would never see two breaching minutes.
    result = run(kit_alarm(kit_alarms, "FiveXxRateCritical"), _counts_lag_requests)

    assert result.first_alarm is not None


def test_p1_2xx_drop_stays_quiet_when_the_2xx_count_lands_after_the_request_count(
    kit_alarms: dict[str, AlarmSpec],
) -> None:
    # A healthy service: every request a 2xx, no errors at all.
    store = traffic(steady={"RequestCount": 4420.0, "HTTPCode_Target_2XX_Count": 4420.0})

    result = replay_worst(
        kit_alarm(kit_alarms, "TwoXxDrop"), store, _counts_lag_requests, periods=3
    )

    assert result.transitions == ()
