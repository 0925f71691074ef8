"""The page's subject for every action and every diagnosis: ASCII, under 100, versions visible.

The decisions, diagnoses and releases are the shared page cases (``tests.support.page_cases``),
so each verdict is the one the function would really reach.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from rollback.notification import SUBJECT_LIMIT, subject
from tests.support.page_cases import (
    ACTIONS,
    BAD,
    GOOD,
    LONG_APP,
    VERDICTS,
    decision_result,
    deployment,
    s3_revision,
)


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
