"""Words for on-call: the SNS subject and message for a decision, built from plain data.

The subject leads with what was done, the service and the versions, then the diagnosed
signature, and the generated alarm name only if it still fits:
``ROLLED BACK order-api v2.3.2 -> v2.3.1: ELB 502 8.3 %, targets healthy``. Amazon SNS
accepts a subject of ASCII text that begins with a letter, number or punctuation mark, has
no line breaks or control characters and is under 100 characters (Amazon SNS API
Reference, Publish), so every part is reduced to printable ASCII and the whole kept to 99.

The message: what the kit did and why, the next step for the diagnosed signature, the
diagnosis, a timeline (deploy, onset, alarm, action, invalidation), the versions with their
S3 keys, console links, the alarm, and the decision as a JSON block for tools. Everything
is read from the decision's fields, so a new action gets a readable page without code
here: its name becomes the headline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rollback import lambda_target, links, oncall

SUBJECT_LIMIT = 99
# A generated alarm name is cut no shorter than this; below it, it is left out.
_MIN_ALARM_CHARS = 12
_MIN_SERVICE_CHARS = 10

# Headline per action; an action not listed is written in capitals ("redeploy-retried"
# -> "REDEPLOY RETRIED"). A skip moved nothing: its subject names only the newest version.
_HEADLINES = {
    "redeployed": "ROLLED BACK",
    "retried": "ROLLBACK RETRIED",
    "stopped": "STOPPED, ROLLING BACK",
    "would-redeploy": "DRY RUN would roll back",
    "would-stop": "DRY RUN would stop",
    "skipped": "NO ROLLBACK, HUMAN NEEDED",
    "failed": "ROLLBACK FAILED",
}
_NOTHING_MOVED = frozenset({"skipped"})
# What the kit really did to the group; a dry run only says what it would have.
_MOVED = frozenset({"redeployed", "retried", "stopped"})


def subject(result: Mapping[str, Any]) -> str:
    action = str(result.get("action") or "unknown")
    headline = _HEADLINES.get(action, action.replace("-", " ").upper())
    service = _ascii(_service(result))
    versions = _ascii(_versions(result, both=action not in _NOTHING_MOVED))
    tail = _ascii(
        _error_code(result) if action == "failed" else oncall.signature(result.get("diagnosis"))
    )
    alarm = _ascii(str(result.get("alarmName") or ""))

    def core(name: str) -> str:
        return f"{headline} {name}{' ' + versions if versions else ''}: {tail}"

    text = core(service)
    if len(text) > SUBJECT_LIMIT:
        # A long application name gives way first; the action and versions stay whole.
        room = max(_MIN_SERVICE_CHARS, len(service) - (len(text) - SUBJECT_LIMIT) - 1)
        text = core(service[:room] + "~")
    room = SUBJECT_LIMIT - len(text) - len(" ()")
    if alarm and room >= min(len(alarm), _MIN_ALARM_CHARS):
        text += f" ({alarm if len(alarm) <= room else alarm[: room - 1] + '~'})"
    return text[:SUBJECT_LIMIT]


def message(
    result: Mapping[str, Any], *, alarm_reason: str = "", console: links.Console | None = None
) -> str:
    releases = _releases(result)
    lines = [subject(result), "", "What the kit did", f"  {_did(result)}"]
    lines.append(f"  Why: {result.get('reason')}")
    if result.get("invalidationId"):
        lines.append(f"  CloudFront invalidation {result['invalidationId']} created.")
    if result.get("invalidationError"):
        lines.append(
            f"  CloudFront invalidation FAILED ({result['invalidationError']}): cached errors "
            "may be served until their TTL ends; invalidate by hand."
        )
    diagnosis = result.get("diagnosis")
    heading, step = oncall.next_step(
        diagnosis if isinstance(diagnosis, Mapping) else None,
        moved=result.get("action") in _MOVED,
    )
    lines += ["", f"Next step ({heading})", f"  {step}"]
    if isinstance(diagnosis, Mapping):
        lines += ["", "What it means", f"  {diagnosis.get('summary')}"]
    lines += ["", "Timeline (UTC)", *_timeline(result, releases)]
    if releases:
        lines += ["", "Versions"]
        # A skip moved nothing: name the releases, blame none.
        still = result.get("action") in _NOTHING_MOVED
        labels = ("newest", "last good") if still else ("blamed", "back to")
        if "aliasNow" in (result.get("facts") or {}):
            labels = ("newest", "alias now")
        for side, label in zip(("bad", "good"), labels, strict=True):
            info = releases.get(side) or {}
            lines.append(
                f"  {label:9} {info.get('version', '?')}  {info.get('location') or '(location unknown)'}"
                + (f"  deployment {info['deploymentId']}" if info.get("deploymentId") else "")
            )
    if console is not None:
        lines += ["", "Links", *_links(result, releases, console)]
    lines += [
        "",
        "Alarm",
        # A page caused by a CodeDeploy state change (a failed rollback) says so instead.
        "  "
        + (
            result.get("trigger")
            or f"{result.get('alarmName')} went to ALARM at {result.get('alarmTime')}."
        ),
    ]
    if alarm_reason:
        lines.append(f"  CloudWatch said: {alarm_reason}")
    lines += [
        f"  Deployment group: {result.get('applicationName')}/{result.get('deploymentGroupName')}",
        "",
        "--- decision (JSON) ---",
        json.dumps(result, indent=2, sort_keys=True, default=str),
    ]
    return "\n".join(lines)


def _did(result: Mapping[str, Any]) -> str:
    action = result.get("action")
    if action == "stopped":
        pending = (
            " The stop answered Pending: the deployment may still read as running for a while."
            if result.get("stopStatus") == "Pending"
            else ""
        )
        return (
            f"Stopped deployment {result.get('deploymentId')} with automatic rollback: "
            "CodeDeploy's rollback deployment takes the group back to the last good revision "
            "(on a Lambda group, the alias back to the version it replaced)." + pending
        )
    shift = (result.get("facts") or {}).get("aliasShift")
    if action in {"redeployed", "would-redeploy"} and isinstance(shift, Mapping):
        return _did_alias(result, shift)
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
    found = (result.get("facts") or {}).get("aliasNow")
    if action == "skipped" and isinstance(found, Mapping):
        return (
            f"Nothing: no rollback was made. Alias {found.get('alias')} of Lambda function "
            f"{found.get('function')} points at {lambda_target.points_at(found)}; a human "
            "decides which version it serves."
        )
    if action == "skipped":
        return "Nothing: no rollback was made."
    rollback = result.get("rollbackDeploymentId")
    return f"{action}" + (f": deployment {rollback}." if rollback else ".")


def _did_alias(result: Mapping[str, Any], shift: Mapping[str, Any]) -> str:
    """The Lambda undo in words: which function, which alias, which versions."""
    moves = lambda_target.moves(shift)
    if result.get("action") == "would-redeploy":
        return f"Nothing (DRY_RUN=true). It would have shifted {moves}."
    return (
        f"Created rollback deployment {result.get('rollbackDeploymentId')} (Lambda alias "
        f"undo, all at once): it shifts {moves}, undoing {result.get('deploymentId')}. "
        f"{STACK_DRIFT}"
    )


# CloudFormation updates only the resources whose template changed (CloudFormation User
# Guide, "AWS CloudFormation stack updates"), so nothing puts the stack and the alias back
# in step by itself, and AWS does not document which version the next alias-update
# deployment starts from.
STACK_DRIFT = (
    "The alias no longer matches what the CloudFormation stack declares: an unchanged stack "
    "update leaves it on the old version, and what the next release's deployment takes as "
    "its current version is not documented, so check the alias before and after the next "
    "release."
)


def _releases(result: Mapping[str, Any]) -> Mapping[str, Any]:
    releases = result.get("releases")
    return releases if isinstance(releases, Mapping) else {}


def _service(result: Mapping[str, Any]) -> str:
    releases = _releases(result)
    for side in ("bad", "good"):
        info = releases.get(side)
        if isinstance(info, Mapping) and info.get("service"):
            return str(info["service"])
    return str(result.get("applicationName") or "service")


def _versions(result: Mapping[str, Any], *, both: bool) -> str:
    releases = _releases(result)
    bad = (releases.get("bad") or {}).get("version")
    good = (releases.get("good") or {}).get("version")
    if not bad:
        return ""
    return f"{bad} -> {good or '?'}" if both else str(bad)


def _error_code(result: Mapping[str, Any]) -> str:
    return str(result.get("error") or "error").split(":", 1)[0]


def _timeline(result: Mapping[str, Any], releases: Mapping[str, Any]) -> list[str]:
    bad = releases.get("bad") or {}
    deployed = bad.get("createTime")
    entries: list[tuple[str | None, str, str]] = [
        (
            deployed,
            "deploy",
            f"{bad.get('deploymentId')} ({bad.get('version')}) created"
            + (
                f", {bad.get('status')} {_clock(bad['completeTime'])}"
                if bad.get("completeTime")
                else ""
            ),
        )
        if bad
        else (None, "deploy", "no deployment in the lookback window"),
        (result.get("onsetTime"), "onset", "first minute the alarm saw above its threshold"),
        (result.get("alarmTime"), "alarm", f"{result.get('alarmName')} went to ALARM"),
        (result.get("decidedAt"), "action", _did(result)),
    ]
    if result.get("invalidationId"):
        entries.append(
            (result.get("decidedAt"), "invalidation", f"{result['invalidationId']} created")
        )
    return [f"  {_clock(at):19}  {what:12} {text}" for at, what, text in entries]


def _links(
    result: Mapping[str, Any], releases: Mapping[str, Any], console: links.Console
) -> list[str]:
    found: list[tuple[str, str | None]] = []
    bad_id = (releases.get("bad") or {}).get("deploymentId") or result.get("deploymentId")
    if bad_id:
        found.append(("blamed deployment", console.deployment(str(bad_id))))
    if result.get("rollbackDeploymentId"):
        found.append(
            ("rollback deployment", console.deployment(str(result["rollbackDeploymentId"])))
        )
    if result.get("alarmName"):
        found.append(("alarm", console.alarm(str(result["alarmName"]))))
    found.append(("dashboard", console.dashboard()))
    query = links.decision_query(
        alarm_name=result.get("alarmName"), deployment_id=result.get("deploymentId")
    )
    found.append(("decision log (Logs Insights)", console.insights(query)))
    return [f"  {label}: {url}" for label, url in found if url]


def _clock(raw: object) -> str:
    if not isinstance(raw, str) or not raw:
        return "unknown"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _ascii(text: str) -> str:
    """Printable ASCII only: anything else (line breaks, tabs, arrows, accents) is a space."""
    cleaned = "".join(ch if " " <= ch <= "~" else " " for ch in text)
    return " ".join(cleaned.split())
