"""Reading CloudWatch alarm state change events, in the shapes the CloudWatch User Guide shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollback.alarm_event import MalformedEvent, parse_alarm_event
from tests.support.events import load_event


def test_single_metric_alarm_event_is_read() -> None:
    alarm = parse_alarm_event(load_event("cloudwatch-alarm-state-change-alarm.json"))

    assert alarm.alarm_name == "order-api-prod-elb-5xx"
    assert (alarm.state, alarm.previous_state) == ("ALARM", "OK")
    assert alarm.timestamp == datetime(2026, 3, 12, 14, 47, 5, 214000, tzinfo=UTC)
    assert (
        alarm.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:order-api-prod-elb-5xx"
    )
    assert alarm.reason_data["recentDatapoints"] == [412.0]


def test_metric_math_alarm_event_is_read() -> None:
    alarm = parse_alarm_event(load_event("cloudwatch-alarm-state-change-metric-math.json"))

    assert (alarm.alarm_name, alarm.state) == ("order-api-prod-elb-5xx-guarded", "ALARM")
    assert alarm.previous_state == "INSUFFICIENT_DATA"


@pytest.mark.parametrize(
    ("event_file", "state"),
    [
        ("cloudwatch-alarm-state-change-ok.json", "OK"),
        ("cloudwatch-alarm-state-change-insufficient-data.json", "INSUFFICIENT_DATA"),
    ],
)
def test_other_state_events_are_read(event_file: str, state: str) -> None:
    assert parse_alarm_event(load_event(event_file)).state == state


def test_timestamp_with_z_suffix_is_read_as_utc() -> None:
    event = load_event("cloudwatch-alarm-state-change-alarm.json")
    event["detail"]["state"]["timestamp"] = "2026-03-12T14:47:05Z"

    assert parse_alarm_event(event).timestamp == datetime(2026, 3, 12, 14, 47, 5, tzinfo=UTC)


def test_timestamp_without_offset_is_taken_as_utc() -> None:
    event = load_event("cloudwatch-alarm-state-change-alarm.json")
    event["detail"]["state"]["timestamp"] = "2026-03-12T14:47:05"

    assert parse_alarm_event(event).timestamp.tzinfo == UTC


def test_unreadable_reason_data_does_not_reject_the_event() -> None:
    event = load_event("cloudwatch-alarm-state-change-alarm.json")
    event["detail"]["state"]["reasonData"] = "{not json"

    assert parse_alarm_event(event).reason_data == {}


def test_missing_previous_state_is_tolerated() -> None:
    event = load_event("cloudwatch-alarm-state-change-alarm.json")
    del event["detail"]["previousState"]

    assert parse_alarm_event(event).previous_state is None


def test_wrong_detail_type_is_malformed() -> None:
    event = load_event("cloudwatch-alarm-state-change-alarm.json")
    event["detail-type"] = "CloudWatch Alarm Configuration Change"

    with pytest.raises(MalformedEvent, match="not a CloudWatch alarm state change"):
        parse_alarm_event(event)
