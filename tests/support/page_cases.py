"""Pages the rollback function writes, as plain data: the decisions, diagnoses and releases
the notification tests of every action and verdict share.

Revisions are shaped as BatchGetDeployments returns them and keyed as ``tools/release.py``
names bundles; diagnoses come from ``diagnosis.diagnose`` over GetMetricData-shaped
results, so each verdict is the one the function would really reach.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollback import diagnosis as diag
from rollback import oncall
from rollback.decision import Decision, Deployment
from tools.release import DEFAULT_KEY_PREFIX, BundleSpec

NOW = datetime(2026, 3, 12, 14, 47, 7, tzinfo=UTC)
LONG_ALARM = "order-api-sandbox-service-AutoRollbackElb5xxCount1A803DA0-AB491901A71E"
LONG_APP = "order-api-sandbox-service-DeploymentApplication6C1A1F7B-Q2W3E4R5T6Y7"


def s3_revision(key: str) -> dict[str, Any]:
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": "artifacts", "key": key, "bundleType": "zip", "eTag": "9f2c"},
    }


def release_key(variant: str) -> str:
    return DEFAULT_KEY_PREFIX + BundleSpec(variant=variant).file_name


def deployment(deployment_id: str, key: str, *, minutes_ago: int, status: str) -> Deployment:
    return Deployment.from_info(
        {
            "deploymentId": deployment_id,
            "status": status,
            "createTime": NOW - timedelta(minutes=minutes_ago),
            "completeTime": NOW - timedelta(minutes=minutes_ago - 1),
            "creator": "user",
            "revision": s3_revision(key),
        }
    )


GOOD = deployment("d-GOOD", release_key("good"), minutes_ago=180, status="Succeeded")
BAD = deployment("d-BAD", release_key("bad"), minutes_ago=3, status="Succeeded")


def metric_results(**totals: float) -> list[dict[str, Any]]:
    """GetMetricData MetricDataResults with one value per query id over one minute."""
    return [
        {"Id": query_id, "Label": query_id, "Values": [value], "StatusCode": "Complete"}
        for query_id, value in totals.items()
    ]


# The incident's minute, by query id: ALB 502s, six healthy targets, no target 5xx.
INCIDENT = {
    "elb5xx": 615,
    "elb502": 615,
    "target5xx": 0,
    "requests": 7368,
    "healthy": 6,
    "unhealthy": 0,
}
# One GetMetricData picture per verdict the diagnosis can reach.
PICTURES: dict[str, list[dict[str, Any]]] = {
    "malformed-response": metric_results(**INCIDENT),
    "502-unhealthy-targets": metric_results(elb502=300, requests=3000, healthy=4, unhealthy=2),
    "elb-502": metric_results(elb502=300, requests=3000),
    "no-registered-targets": metric_results(elb503=1200, healthy=0, unhealthy=0),
    "503-all-unhealthy": metric_results(elb503=1200, healthy=0, unhealthy=6),
    "elb-503": metric_results(elb503=90, requests=3000, healthy=6, unhealthy=0),
    "target-timeout": metric_results(elb504=80, requests=2000, healthy=6),
    "application-5xx": metric_results(elb5xx=5, target5xx=400, requests=2000, healthy=6),
    "elb-5xx-other": metric_results(elb5xx=70, requests=2000, healthy=6),
    "no-5xx": metric_results(requests=2000, healthy=6),
}


def diagnosis_for(verdict: str) -> dict[str, Any]:
    if verdict == "not-enough-data":
        return diag.unavailable(5, "no ALB datapoints in the last 5 min").as_dict()
    return diag.diagnose(PICTURES[verdict], window_minutes=5).as_dict()


VERDICTS = [*PICTURES, "not-enough-data"]
# (action, what the decision carried, headline the subject must start with)
ACTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("redeployed", {"revision": GOOD.revision, "revision_source_id": "d-GOOD"}, "ROLLED BACK"),
    ("stopped", {}, "STOPPED, ROLLING BACK"),
    ("would-redeploy", {"revision": GOOD.revision}, "DRY RUN would roll back"),
    ("would-stop", {}, "DRY RUN would stop"),
    ("skipped", {}, "NO ROLLBACK, HUMAN NEEDED"),
    ("failed", {}, "ROLLBACK FAILED"),
    # An action this module has never heard of still gets a headline from its name.
    ("redeploy-retried", {"revision": GOOD.revision}, "REDEPLOY RETRIED"),
]


def decision_result(
    action: str,
    carried: dict[str, Any],
    verdict: str,
    *,
    alarm: str = LONG_ALARM,
    application: str = LONG_APP,
    deployments: list[Deployment] | None = None,
) -> dict[str, Any]:
    decision = Decision(action="skipped", reason="r", notify=True, deployment_id="d-BAD", **carried)
    return {
        "action": action,
        "reason": "r",
        "alarmName": alarm,
        "applicationName": application,
        "deploymentId": "d-BAD",
        "error": "AccessDeniedException: not authorized" if action == "failed" else None,
        "diagnosis": diagnosis_for(verdict),
        "releases": oncall.releases(deployments or [GOOD, BAD], decision),
    }
