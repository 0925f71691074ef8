"""What a page needs beyond the decision: versions, onset, the signature and the next step.

Plain functions over plain data. ``incident_facts`` gathers, once per decision, what the
workflow already holds (the group's deployments, the alarm's reasonData, the time) into
JSON-ready fields of the decision, so the subject, the message and the log line all read
the same figures:

- ``releases``: the deployment the alarm blames (``bad``) and the revision the rollback
  goes back to (``good``), each with a human version. CodeDeploy knows a revision only by
  where it is stored (CodeDeploy API Reference, RevisionLocation and S3Location), so the
  version is read from the S3 key (``tools/release.py`` names bundles
  ``<service>-<version>-<variant>.zip``); failing that a short eTag, S3 object version,
  commit or SHA-256 stands in, and ``?`` when nothing does.
- ``onsetTime``: the earliest datapoint the alarm evaluated above its threshold
  (reasonData ``evaluatedDatapoints``, CloudWatch User Guide, alarm events and EventBridge).
- ``decidedAt``: when the function acted.

``signature`` and ``next_step`` turn a diagnosis verdict (``diagnosis._rule``) into a few
subject words and the first thing a human should do; an unknown verdict gets a generic
answer, so new verdicts and actions never break a page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rollback import lambda_target
from rollback.alarm_event import AlarmEvent
from rollback.decision import Decision, Deployment, previous_good

_ARCHIVE_SUFFIX = re.compile(r"\.(zip|tar|tgz|tar\.gz)$", re.IGNORECASE)
# A version bounded by separators: "v1", "v2.3.2", "2.3.2", "1.4.0-rc.1" (not "-bad").
_VERSION = re.compile(
    r"(?:^|(?<=[-_/.]))(?:v(?P<v>\d+(?:\.\d+)*)|(?P<n>\d+(?:\.\d+)+))"
    r"(?P<pre>-(?:rc|alpha|beta|pre)[.0-9]*)?(?=$|[-_/.])",
    re.IGNORECASE,
)
_SHORT = 8


def version_of(revision: Mapping[str, Any] | None) -> str:
    """A human version for a CodeDeploy RevisionLocation, or ``?``."""
    if not revision:
        return "?"
    s3 = revision.get("s3Location") or {}
    key = str(s3.get("key") or "")
    found = _VERSION.search(_ARCHIVE_SUFFIX.sub("", key))
    if found:
        return "v" + (found.group("v") or found.group("n")) + (found.group("pre") or "")
    if s3.get("eTag"):
        return f"etag {str(s3['eTag']).strip(chr(34))[:_SHORT]}"
    if s3.get("version"):
        return f"s3 version {str(s3['version'])[:_SHORT]}"
    github = revision.get("gitHubLocation") or {}
    if github.get("commitId"):
        return f"commit {str(github['commitId'])[:_SHORT]}"
    for kind in ("appSpecContent", "string"):
        content = revision.get(kind) or {}
        if content.get("sha256"):
            return f"sha256 {str(content['sha256'])[:_SHORT]}"
    return "?"


def service_of(revision: Mapping[str, Any] | None) -> str | None:
    """The service name in front of the version in the S3 key's file name, if any."""
    key = str(((revision or {}).get("s3Location") or {}).get("key") or "")
    name = _ARCHIVE_SUFFIX.sub("", key.rsplit("/", 1)[-1])
    found = _VERSION.search(name)
    if not found:
        return None
    return name[: found.start()].rstrip("-_.") or None


def location_of(revision: Mapping[str, Any] | None) -> str | None:
    """``s3://bucket/key`` (or the GitHub repository@commit) for the message body."""
    revision = revision or {}
    s3 = revision.get("s3Location") or {}
    if s3.get("bucket") and s3.get("key"):
        return f"s3://{s3['bucket']}/{s3['key']}"
    github = revision.get("gitHubLocation") or {}
    if github.get("repository"):
        return f"github:{github['repository']}@{github.get('commitId', '?')}"
    return None


def release(
    revision: Mapping[str, Any] | None, deployment: Deployment | None = None
) -> dict[str, Any]:
    """One side of the rollback as plain data."""
    return {
        "version": version_of(revision),
        "service": service_of(revision),
        "location": location_of(revision),
        "deploymentId": deployment.deployment_id if deployment else None,
        "createTime": _iso(deployment.create_time) if deployment else None,
        "completeTime": _iso(deployment.complete_time) if deployment else None,
        "status": deployment.status if deployment else None,
    }


def releases(deployments: Sequence[Deployment], decision: Decision) -> dict[str, Any]:
    """The blamed release and the one the group goes (or would go) back to."""
    ordered = sorted(deployments, key=lambda d: d.create_time)
    bad = next((d for d in ordered if d.deployment_id == decision.deployment_id), None)
    if bad is None:
        return {}
    shift = decision.facts.get("aliasShift")
    if isinstance(shift, Mapping):
        return _alias_releases(bad, shift, (shift["fromVersion"], shift["toVersion"]))
    found = decision.facts.get("aliasNow")
    if isinstance(found, Mapping):
        # A moved alias: the release's own version, and where the alias points instead.
        released = lambda_target.read_shift(bad.revision)
        newest = released.target if isinstance(released, lambda_target.AliasShift) else "?"
        sides = _alias_releases(bad, found, (newest, found["version"]))
        sides["good"]["version"] = lambda_target.points_at(found)
        return sides
    if decision.revision:
        # The kit's redeploy: exactly the revision it sends to CreateDeployment.
        source = next((d for d in ordered if d.deployment_id == decision.revision_source_id), None)
        good = release(decision.revision, source)
    else:
        # A stop hands the rollback to CodeDeploy, which redeploys the last good revision.
        earlier = previous_good(ordered, bad)
        good = release(
            earlier.revision if earlier else bad.previous_revision or None,
            earlier,
        )
    return {"bad": release(bad.revision, bad), "good": good}


def _alias_releases(
    bad: Deployment, alias: Mapping[str, Any], versions: tuple[str, str]
) -> dict[str, Any]:
    """A Lambda group: the versions (bad, then good or where the alias points) are the
    alias's, the service is the function."""
    sides = {"bad": (versions[0], bad), "good": (versions[1], None)}
    found: dict[str, Any] = {}
    for side, (version, deployment) in sides.items():
        info = release(None, deployment)
        info.update(
            version=f"version {version}",
            service=str(alias["function"]),
            location=f"lambda:{alias['function']}:{version} (alias {alias['alias']})",
        )
        found[side] = info
    return found


def onset(alarm: AlarmEvent) -> str | None:
    """The earliest datapoint the alarm evaluated above its threshold, ISO 8601, or None."""
    data = alarm.reason_data
    threshold = data.get("threshold")
    points = data.get("evaluatedDatapoints")
    if not isinstance(threshold, int | float) or not isinstance(points, list):
        return None
    breaching = [
        str(p["timestamp"])
        for p in points
        if isinstance(p, Mapping)
        and isinstance(p.get("value"), int | float)
        and p["value"] > threshold
        and isinstance(p.get("timestamp"), str)
    ]
    return min(breaching, default=None)


def incident_facts(
    *, alarm: AlarmEvent, deployments: Sequence[Deployment], decision: Decision, now: datetime
) -> dict[str, Any]:
    return {
        "releases": releases(deployments, decision),
        "onsetTime": onset(alarm),
        "decidedAt": _iso(now),
    }


def signature(diagnosis: Mapping[str, Any] | None) -> str:
    """A few subject words for the diagnosis: the dominant code, its share, target health."""
    if not isinstance(diagnosis, Mapping):
        return "no diagnosis"
    verdict = str(diagnosis.get("verdict") or "")
    raw = diagnosis.get("facts")
    facts: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    unhealthy = facts.get("unhealthyHosts")
    words = {
        "malformed-response": f"ELB 502{_share(facts, 'elb502')}, targets healthy",
        "502-unhealthy-targets": f"ELB 502{_share(facts, 'elb502')}, {unhealthy} unhealthy",
        "elb-502": f"ELB 502{_share(facts, 'elb502')}",
        "no-registered-targets": f"ELB 503{_share(facts, 'elb503')}, no registered targets",
        "503-all-unhealthy": f"ELB 503{_share(facts, 'elb503')}, all targets unhealthy",
        "elb-503": f"ELB 503{_share(facts, 'elb503')}, targets healthy",
        "target-timeout": f"ELB 504{_share(facts, 'elb504')}",
        "application-5xx": f"target 5xx{_share(facts, 'target5xx')}",
        "elb-5xx-other": f"ELB 5xx{_share(facts, 'elb5xx')}",
        "no-5xx": "no 5xx in the window now",
        "not-enough-data": "no ALB data to diagnose",
        "lambda-release": "Lambda alias release",
    }
    return words.get(verdict, verdict or "no diagnosis")


def _share(facts: Mapping[str, Any], key: str) -> str:
    """`` 8.3 %`` of requests, or `` 615 in 5 min`` without a request count, or nothing."""
    count = facts.get(key)
    if not isinstance(count, int) or count <= 0:
        return ""
    requests = facts.get("requests")
    if isinstance(requests, int) and requests > 0:
        return f" {100.0 * count / requests:.1f} %"
    # No RequestCount (a 503 outage before any target is chosen): the count says more.
    return f" {count} in {facts.get('windowMinutes', '?')} min"


# (heading, what to do first) per diagnosis verdict.
_NEXT_STEPS: dict[str, tuple[str, str]] = {
    "malformed-response": (
        "502 with every target healthy and no target 5xx",
        "The release answers with broken responses (cut-short body, bad header block, or a "
        "connection closed mid-answer) while its health check passes. Keep the bad version "
        "out: diff how it writes responses against the good one, and run the bundle's "
        "pre-traffic checks (checks/pre_traffic.py) against it locally. ALB access logs show "
        "these requests with target_status_code '-'.",
    ),
    "502-unhealthy-targets": (
        "502 with unhealthy targets",
        "Targets crash or drop connections: look at the instances' service logs for restarts "
        "and out-of-memory kills, and check the app's keep-alive is longer than the ALB's "
        "idle timeout.",
    ),
    "elb-502": (
        "502, target health unknown",
        "Targets closed connections or sent invalid responses. Open the dashboard for target "
        "health, then the ALB access logs (target_status_code '-').",
    ),
    "no-registered-targets": (
        "503 with no registered targets",
        "The ALB answers 503 when its target group has no registered targets. Targets that "
        "are all registered but unhealthy still get traffic (the ALB fails open), so look "
        "for deregistered ones: Auto Scaling replacing instances that fail the ELB health "
        "check, or a deployment draining too many at once. Then check the health-check path "
        "and success codes against what the release answers.",
    ),
    "503-all-unhealthy": (
        "503 while every target is unhealthy",
        "Unhealthy targets still get traffic (the ALB fails open), so these 503s come from "
        "targets leaving the group during the window: check the Auto Scaling group's "
        "activity for replacements, then the health-check path and success codes.",
    ),
    "elb-503": (
        "503 while targets report healthy",
        "Targets are draining or not registered: check the deployment's batch size, the "
        "Auto Scaling group's activity and the target group's registered targets.",
    ),
    "target-timeout": (
        "504 from the ALB",
        "Targets answer slower than the ALB idle timeout, or announce a longer body than "
        "they send. Find the slow dependency on the dashboard (target response time). Do "
        "not replay failed requests blindly: the work behind a 504 may have been done.",
    ),
    "application-5xx": (
        "target 5xx (the application's own errors)",
        "The application itself answers 5xx: read the release's error logs for the first "
        "exception after the deploy.",
    ),
    "elb-5xx-other": (
        "ALB 5xx other than 502/503/504",
        "The load balancer made them itself (a listener rule, an authentication action): "
        "check the listener configuration.",
    ),
    "no-5xx": (
        "no 5xx in the diagnosis window",
        "The errors stopped or their datapoints are older than the window: confirm on the "
        "dashboard before doing anything else.",
    ),
    "lambda-release": (
        "a Lambda version behind the alias",
        "The alias is back on the previous version. Read the bad version's log for the first "
        "exception after the deployment (the problem's trace_id for a caught Http5xx, the "
        "function log for Errors), and keep it out of the alias until it is fixed.",
    ),
}
# When the kit moved nothing (a skip, a dry run), where a verdict's step assumes it did.
_NEXT_STEPS_NOTHING_MOVED: dict[str, tuple[str, str]] = {
    "lambda-release": (
        "a Lambda version behind the alias, not moved by the kit",
        "The kit did not move the alias: check which version it routes to now (the "
        "function's alias in the Lambda console), read the newest version's log for the "
        "first exception after the deployment, and shift the alias yourself if that "
        "version should not serve.",
    ),
}
_GENERIC_STEP = (
    "no clear signature",
    "Open the dashboard: compare ELB 5xx with target 5xx and check target health.",
)


def next_step(diagnosis: Mapping[str, Any] | None, *, moved: bool = True) -> tuple[str, str]:
    """The heading and first step for the verdict; ``moved``: the kit stopped or
    redeployed (a skip or a dry run did not)."""
    verdict = str(diagnosis.get("verdict")) if isinstance(diagnosis, Mapping) else ""
    if not moved and verdict in _NEXT_STEPS_NOTHING_MOVED:
        return _NEXT_STEPS_NOTHING_MOVED[verdict]
    return _NEXT_STEPS.get(verdict, _GENERIC_STEP)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None
