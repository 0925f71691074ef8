"""Reads an EventBridge "CloudWatch Alarm State Change" event into a small typed record.

The shape is documented in the CloudWatch User Guide ("Alarm events and EventBridge"):
``source`` ``aws.cloudwatch``, ``detail-type`` ``CloudWatch Alarm State Change``, and a
``detail`` with ``alarmName``, ``state`` {``value``, ``reason``, ``reasonData`` (a JSON
string), ``timestamp`` such as ``2019-10-02T17:04:40.989+0000``} and ``previousState``.
Anything else raises ``MalformedEvent`` with a reason, so the handler can log the raw event
and skip it instead of crashing (EventBridge would otherwise retry a poison event).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SOURCE = "aws.cloudwatch"
DETAIL_TYPE = "CloudWatch Alarm State Change"
STATES = frozenset({"OK", "ALARM", "INSUFFICIENT_DATA"})


class MalformedEvent(ValueError):
    """The event is not a CloudWatch alarm state change this function can read."""


@dataclass(frozen=True, kw_only=True)
class AlarmEvent:
    alarm_name: str
    state: str
    previous_state: str | None
    reason: str
    timestamp: datetime
    alarm_arn: str | None
    event_id: str | None
    reason_data: Mapping[str, Any]


def parse_alarm_event(event: object) -> AlarmEvent:
    if not isinstance(event, Mapping):
        raise MalformedEvent(f"event is a {type(event).__name__}, not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise MalformedEvent(
            f"not a CloudWatch alarm state change (source={event.get('source')!r}, "
            f"detail-type={event.get('detail-type')!r})"
        )
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent("detail is missing or not an object")
    alarm_name = detail.get("alarmName")
    if not isinstance(alarm_name, str) or not alarm_name:
        raise MalformedEvent("detail.alarmName is missing or not a string")
    state = detail.get("state")
    if not isinstance(state, Mapping):
        raise MalformedEvent("detail.state is missing or not an object")
    value = state.get("value")
    if value not in STATES:
        raise MalformedEvent(f"detail.state.value={value!r} is not one of {sorted(STATES)}")
    previous = detail.get("previousState")
    previous_value = previous.get("value") if isinstance(previous, Mapping) else None
    reason = state.get("reason", "")
    resources = event.get("resources")
    arn = resources[0] if isinstance(resources, list) and resources else None
    return AlarmEvent(
        alarm_name=alarm_name,
        state=str(value),
        previous_state=previous_value if isinstance(previous_value, str) else None,
        reason=reason if isinstance(reason, str) else "",
        timestamp=_timestamp(state.get("timestamp")),
        alarm_arn=arn if isinstance(arn, str) else None,
        event_id=event.get("id") if isinstance(event.get("id"), str) else None,
        reason_data=_reason_data(state.get("reasonData")),
    )


def _timestamp(raw: object) -> datetime:
    if not isinstance(raw, str):
        raise MalformedEvent("detail.state.timestamp is missing or not a string")
    try:
        # Python 3.11+ reads CloudWatch's "+0000" offset and the trailing "Z" form alike.
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedEvent(f"detail.state.timestamp={raw!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _reason_data(raw: object) -> Mapping[str, Any]:
    # reasonData only enriches the notification; a bad one must not stop a rollback.
    if not isinstance(raw, str):
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
