"""The page's subject for every action and every diagnosis: ASCII, under 100, versions visible.

Revisions are shaped as BatchGetDeployments returns them and keyed as ``tools/release.py``
names bundles; diagnoses come from ``diagnosis.diagnose`` over GetMetricData-shaped
results, so each verdict is the one the function would really reach.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollback import diagnosis as diag
from rollback import oncall
from rollback.decision import Decision, Deployment
from rollback.notification import SUBJECT_LIMIT, subject
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


@pytest.mark.parametrize("verdict", VERDICTS)
@pytest.mark.parametrize(("action", "carried", "headline"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_every_subject_is_sns_valid_and_leads_with_action_service_and_versions(
    action: str, carried: dict[str, Any], headline: str, verdict: str
) -> None:
    text = subject(decision_result(action, carried, verdict))

    assert text.isascii()
    assert text.isprintable()
    assert len(text) < 100
    assert text[0].isalnum()
    versions = "v2.3.2" if action == "skipped" else "v2.3.2 -> v2.3.1"
    assert text.startswith(f"{headline} order-api {versions}: ")


@pytest.mark.parametrize(
    ("verdict", "words"),
    [
        ("malformed-response", "ELB 502 8.3 %, targets healthy"),
        ("502-unhealthy-targets", "ELB 502 10.0 %, 2 unhealthy"),
        ("elb-502", "ELB 502 10.0 %"),
        ("no-registered-targets", "ELB 503 1200 in 5 min, no registered targets"),
        ("503-all-unhealthy", "ELB 503 1200 in 5 min, all targets unhealthy"),
        ("elb-503", "ELB 503 3.0 %, targets healthy"),
        ("target-timeout", "ELB 504 4.0 %"),
        ("application-5xx", "target 5xx 20.0 %"),
        ("elb-5xx-other", "ELB 5xx 3.5 %"),
        ("no-5xx", "no 5xx in the window now"),
        ("not-enough-data", "no ALB data to diagnose"),
    ],
)
def test_subject_states_the_diagnosed_signature_in_figures(verdict: str, words: str) -> None:
    text = subject(decision_result("redeployed", ACTIONS[0][1], verdict, alarm="a"))

    assert text == f"ROLLED BACK order-api v2.3.2 -> v2.3.1: {words} (a)"


def test_subject_of_the_incident_reads_action_service_versions_signature() -> None:
    text = subject(decision_result("redeployed", ACTIONS[0][1], "malformed-response", alarm=""))

    assert text == "ROLLED BACK order-api v2.3.2 -> v2.3.1: ELB 502 8.3 %, targets healthy"


def test_generated_alarm_name_is_kept_only_as_far_as_it_fits() -> None:
    text = subject(decision_result("redeployed", ACTIONS[0][1], "malformed-response"))

    assert len(text) == SUBJECT_LIMIT
    assert text.endswith("~)")
    assert "(order-api-sandbox-service" in text


def test_alarm_name_too_long_for_a_useful_stub_is_left_out() -> None:
    long_key = f"revisions/{'x' * 40}-2.3.2-bad.zip"
    bad = deployment("d-BAD", long_key, minutes_ago=3, status="Succeeded")

    text = subject(decision_result("stopped", {}, "502-unhealthy-targets", deployments=[GOOD, bad]))

    assert "(order-api-sandbox" not in text
    assert len(text) < 100


def test_without_a_version_in_the_key_a_long_application_name_gives_way() -> None:
    # Keys without a version: the eTag stands in, the application name is the service.
    plain_good = dataclasses.replace(GOOD, revision=s3_revision("app/good.zip"))
    plain_bad = dataclasses.replace(BAD, revision=s3_revision("app/bundle.zip"))
    long_app = LONG_APP * 2

    text = subject(
        decision_result(
            "redeployed",
            {"revision": plain_good.revision},
            "malformed-response",
            application=long_app,
            deployments=[plain_good, plain_bad],
        )
    )

    assert len(text) < 100
    assert text.startswith("ROLLED BACK order-api-sandbox-service")
    assert "~ etag 9f2c -> etag 9f2c: ELB 502 8.3 %, targets healthy" in text


def test_failed_subject_names_the_error_code() -> None:
    text = subject(decision_result("failed", {}, "not-enough-data", alarm=""))

    assert text == "ROLLBACK FAILED order-api v2.3.2 -> v2.3.1: AccessDeniedException"


def test_failure_before_any_lookup_still_has_a_subject() -> None:
    # notify_failure's result: no releases, no diagnosis.
    text = subject({"action": "failed", "error": "KMSAccessDenied: x", "applicationName": "app"})

    assert text == "ROLLBACK FAILED app: KMSAccessDenied"


def test_line_breaks_and_non_ascii_in_names_never_reach_the_subject() -> None:
    text = subject(
        decision_result(
            "redeployed", ACTIONS[0][1], "elb-502", alarm="bad\nname\u2192\tthere\u00e9"
        )
    )

    assert text.isascii()
    assert text.isprintable()
    assert text.endswith("(bad name there)")
