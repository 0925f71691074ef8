"""Words for on-call: the SNS subject and message for a decision, built from plain data.

The message says what the function saw (the alarm and the ALB figures), what it did, and
what that means, then repeats the decision as a JSON block for tools. SNS subjects must be
UTF-8 without line breaks or control characters and less than 100 characters long (Amazon
SNS API Reference, Publish), so the subject is cleaned and cut to 99.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rollback.config import KIT_MARKER

SUBJECT_LIMIT = 99

_HEADLINES = {
    "stopped": "stopped deployment {deploymentId}, CodeDeploy rolls back",
    "redeployed": "rolled back {deploymentId}",
    "retried": "rollback {deploymentId} ended badly, redeployed its revision",
    "would-stop": "DRY RUN would stop {deploymentId}",
    "would-redeploy": "DRY RUN would roll back {deploymentId}",
    "skipped": "no rollback, needs a look",
    "failed": "rollback FAILED, a human is needed",
}


def subject(result: Mapping[str, Any]) -> str:
    headline = _HEADLINES.get(str(result.get("action")), str(result.get("action")))
    # What was done comes first: generated alarm names run to ~70 characters and the
    # subject is cut at SNS's limit, so the alarm name is what may be lost, not the action.
    text = (
        f"{KIT_MARKER} "
        + headline.format_map({"deploymentId": result.get("deploymentId") or "?"})
        + f" ({result.get('alarmName') or result.get('deploymentId')})"
    )
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return printable[:SUBJECT_LIMIT]


def message(result: Mapping[str, Any], *, alarm_reason: str = "") -> str:
    trigger = result.get("trigger") or (
        f"Alarm {result.get('alarmName')} went to ALARM at {result.get('alarmTime')}."
    )
    lines = ["What happened", f"  {trigger}"]
    if alarm_reason:
        lines.append(f"  CloudWatch said: {alarm_reason}")
    lines += [
        f"  Deployment group: {result.get('applicationName')}/{result.get('deploymentGroupName')}",
        "",
        "What the kit did",
        f"  {_did(result)}",
        f"  Why: {result.get('reason')}",
    ]
    if result.get("invalidationId"):
        lines.append(f"  CloudFront invalidation {result['invalidationId']} created.")
    if result.get("invalidationError"):
        lines.append(
            f"  CloudFront invalidation FAILED ({result['invalidationError']}): cached errors "
            "may be served until their TTL ends; invalidate by hand."
        )
    diagnosis = result.get("diagnosis")
    if isinstance(diagnosis, Mapping):
        lines += ["", "What it means", f"  {diagnosis.get('summary')}"]
    lines += [
        "",
        "--- decision (JSON) ---",
        json.dumps(result, indent=2, sort_keys=True, default=str),
    ]
    return "\n".join(lines)


def _did(result: Mapping[str, Any]) -> str:
    action = result.get("action")
    if action == "stopped":
        return (
            f"Stopped deployment {result.get('deploymentId')} with automatic rollback: "
            "CodeDeploy is redeploying the last good revision."
        )
    if action == "redeployed":
        return (
            f"Created rollback deployment {result.get('rollbackDeploymentId')}, redeploying "
            f"the revision before {result.get('deploymentId')}."
        )
    if action == "retried":
        return (
            f"Created deployment {result.get('rollbackDeploymentId')}, redeploying the revision "
            f"of rollback {result.get('deploymentId')} once, alarms ignored, no auto-rollback."
        )
    if action in {"would-stop", "would-redeploy"}:
        return f"Nothing (DRY_RUN=true). It would have: {action.removeprefix('would-')}."
    if action == "failed":
        return f"Tried and failed: {result.get('error')}. Nothing further was done."
    return "Nothing: no rollback was made."
