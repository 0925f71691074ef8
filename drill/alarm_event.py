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
    metrics: list[dict[str, Any]] = []

    def stat_entry(metric: Mapping[str, Any], period: Any, stat: Any) -> dict[str, Any]:
        return {
            "metric": {
                "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                "name": metric.get("MetricName"),
                "namespace": metric.get("Namespace"),
            },
            "period": period,
            "stat": stat,
        }

    if "Metrics" in properties:
        for query in properties["Metrics"]:
            entry: dict[str, Any] = {"id": query["Id"], "returnData": query.get("ReturnData", True)}
            if "Expression" in query:
                entry["expression"] = query["Expression"]
                entry["label"] = query.get("Label", "")
            else:
                stat = query["MetricStat"]
                entry["metricStat"] = stat_entry(stat["Metric"], stat["Period"], stat["Stat"])
            metrics.append(entry)
    else:
        stat = properties.get("Statistic") or properties.get("ExtendedStatistic")
        metrics.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
                "metricStat": stat_entry(properties, properties.get("Period"), stat),
                "returnData": True,
            }
        )
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
    data = dict(transition.reason_data)
    data["queryDate"] = event_timestamp(at)
    if previous is None:
        before = {
            "reason": "drill: the alarm was OK before the scenario",
            "timestamp": event_timestamp(at),
            "value": transition.old_state,
        }
    else:
        before = {
            "reason": previous.reason,
            "reasonData": json.dumps(previous.reason_data),
            "timestamp": event_timestamp(previous.at),
            "value": previous.new_state,
        }
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
            "state": {
                "reason": transition.reason,
                "reasonData": json.dumps(data),
                "timestamp": event_timestamp(at),
                "value": transition.new_state,
            },
        },
    }
