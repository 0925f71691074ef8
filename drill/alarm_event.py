"""CloudWatch alarm state-change events in the documented shape, for the drill's alarms.

CloudWatch User Guide, "Alarm events and EventBridge": the event's ``detail`` carries the
alarm name, its configuration (the metrics or metric-math queries), the new state with
``reason`` and ``reasonData`` (threshold and evaluated datapoints) and the previous state.
``world_alarm_event`` builds one for a synthesized alarm as the drill's world named it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alarm_rollback_kit.alarms import ALARM_EVENT_DETAIL_TYPE, ALARM_EVENT_SOURCE
from drill.assembly import ACCOUNT, REGION
from drill.evaluator import Transition, event_timestamp
from drill.template import WatchedAlarm
from drill.world import World


def _configuration(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The alarm's metric-math queries, or its one metric with an id CloudWatch makes up."""
    stat = properties.get("Statistic") or properties.get("ExtendedStatistic")
    single = {"Metric": properties, "Period": properties.get("Period"), "Stat": stat}
    queries = properties.get("Metrics") or [
        {"Id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)), "MetricStat": single}
    ]
    metrics = []
    for query in queries:
        entry = {"id": query["Id"], "returnData": query.get("ReturnData", True)}
        if "Expression" in query:
            entry |= {"expression": query["Expression"], "label": query.get("Label", "")}
        else:
            metric = query["MetricStat"]["Metric"]
            entry["metricStat"] = {
                "metric": {
                    "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                    "name": metric.get("MetricName"),
                    "namespace": metric.get("Namespace"),
                },
                "period": query["MetricStat"]["Period"],
                "stat": query["MetricStat"]["Stat"],
            }
        metrics.append(entry)
    return {"description": properties.get("AlarmDescription", ""), "metrics": metrics}


def world_alarm_event(
    world: World,
    alarm: WatchedAlarm,
    transition: Transition,
    *,
    previous: Transition | None,
    at: datetime,
) -> dict[str, Any]:
    """``alarm_event`` for a synthesized alarm, named and resolved as ``world`` created it."""
    return alarm_event(
        name=world.alarm_name(alarm.logical_id),
        arn=world.alarm_arn(alarm.logical_id),
        properties=world.resolver.resolve(dict(alarm.properties), world.template),
        transition=transition,
        previous=previous,
        at=at,
    )


def _state(value: str, reason: str, at: datetime, data: Any = None) -> dict[str, Any]:
    reason_data = {} if data is None else {"reasonData": json.dumps(data)}
    return {"reason": reason, **reason_data, "timestamp": event_timestamp(at), "value": value}


def alarm_event(
    *,
    name: str,
    arn: str,
    properties: Mapping[str, Any],
    transition: Transition,
    previous: Transition | None,
    at: datetime,
) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event in the documented shape, raised at ``at``."""
    before = (
        _state(transition.old_state, "drill: the alarm was OK before the scenario", at)
        if previous is None
        else _state(previous.new_state, previous.reason, previous.at, previous.reason_data)
    )
    data = transition.reason_data | {"queryDate": event_timestamp(at)}
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}/{at.isoformat()}")),
        "detail-type": ALARM_EVENT_DETAIL_TYPE,
        "source": ALARM_EVENT_SOURCE,
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "alarmName": name,
            "configuration": _configuration(properties, name),
            "previousState": before,
            "state": _state(transition.new_state, transition.reason, at, data),
        },
    }
