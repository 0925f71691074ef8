"""The words on-call receives: a subject SNS accepts and a message that explains."""

from __future__ import annotations

import json
from typing import Any

from rollback.notification import message, subject


def _result(**changes: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "action": "redeployed",
        "reason": "deployment d-BAD completed within the bake window",
        "alarmName": "order-api-prod-elb-5xx",
        "alarmTime": "2026-03-12T14:47:05+00:00",
        "applicationName": "order-api",
        "deploymentGroupName": "prod",
        "deploymentId": "d-BAD",
        "rollbackDeploymentId": "d-ROLLBACK",
        "invalidationId": None,
        "diagnosis": {"verdict": "malformed-response", "summary": "targets are sending ..."},
    }
    result.update(changes)
    return result


def test_subject_fits_sns_limit_even_for_a_long_alarm_name() -> None:
    text = subject(_result(alarmName="x" * 255))

    assert len(text) < 100


def test_subject_has_no_line_breaks_or_control_characters() -> None:
    text = subject(_result(alarmName="bad\nname\tthere"))

    assert text.isprintable()


def test_subject_keeps_the_action_when_the_alarm_name_is_long() -> None:
    long_name = "order-api-sandbox-service-AutoRollbackElb5xxCount1A803DA0-AB491901A71E" * 2
    assert subject(_result(alarmName=long_name)).startswith("ROLLED BACK order-api")


def test_subject_says_what_was_done() -> None:
    assert subject(_result()).startswith("ROLLED BACK ")


def test_message_says_what_it_saw_did_and_means() -> None:
    text = message(_result(), alarm_reason="Threshold Crossed: 412 > 50")

    assert "Threshold Crossed: 412 > 50" in text
    assert "Created rollback deployment d-ROLLBACK" in text
    assert "targets are sending ..." in text


def test_message_ends_with_the_decision_as_json() -> None:
    text = message(_result())

    block = text.split("--- decision (JSON) ---\n", 1)[1]
    assert json.loads(block)["deploymentId"] == "d-BAD"


def test_dry_run_message_says_nothing_was_done() -> None:
    text = message(_result(action="would-stop"))

    assert "Nothing (DRY_RUN=true)" in text
    assert "would have: stop" in text
