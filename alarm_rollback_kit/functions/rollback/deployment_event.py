"""Reads an EventBridge "CodeDeploy Deployment State-change Notification" into a record.

The shape is documented in the CodeDeploy User Guide ("Monitoring deployments with Amazon
EventBridge"): ``source`` ``aws.codedeploy``, ``detail-type`` ``CodeDeploy Deployment
State-change Notification`` and a ``detail`` with ``application``, ``deploymentGroup``,
``deploymentId`` and ``state`` (``START``, ``SUCCESS``, ``FAILURE``, ``STOP``, ...). The
function hears of these so it can retry a rollback that CodeDeploy stopped or that failed:
such an ending raises no new alarm transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rollback.alarm_event import MalformedEvent

SOURCE = "aws.codedeploy"
DETAIL_TYPE = "CodeDeploy Deployment State-change Notification"


@dataclass(frozen=True, kw_only=True)
class DeploymentEvent:
    deployment_id: str
    state: str
    application: str
    deployment_group: str
    event_id: str | None


def is_deployment_event(event: object) -> bool:
    return isinstance(event, Mapping) and event.get("source") == SOURCE


def parse_deployment_event(event: object) -> DeploymentEvent:
    if not isinstance(event, Mapping) or event.get("detail-type") != DETAIL_TYPE:
        raise MalformedEvent(f"not a CodeDeploy deployment state change ({DETAIL_TYPE!r})")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedEvent("detail is missing or not an object")
    fields = {}
    for name in ("deploymentId", "state", "application", "deploymentGroup"):
        value = detail.get(name)
        if not isinstance(value, str) or not value:
            raise MalformedEvent(f"detail.{name} is missing or not a string")
        fields[name] = value
    event_id = event.get("id")
    return DeploymentEvent(
        deployment_id=fields["deploymentId"],
        state=fields["state"],
        application=fields["application"],
        deployment_group=fields["deploymentGroup"],
        event_id=event_id if isinstance(event_id, str) else None,
    )
