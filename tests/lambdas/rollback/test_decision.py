"""The decision functions on plain data: no AWS, no moto, every branch and edge."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollback.alarm_event import AlarmEvent
from rollback.config import KIT_MARKER, Config
from rollback.decision import (
    Deployment,
    decide,
    lookback_start,
    rollback_description,
    screen,
)

NOW = datetime(2026, 3, 12, 14, 48, tzinfo=UTC)
ALARM_AT = NOW - timedelta(minutes=1)
MINUTE = timedelta(minutes=1)


def _config(**changes: Any) -> Config:
    values: dict[str, Any] = {
        "target_type": "EC2",
        "application_name": "order-api",
        "deployment_group_name": "prod",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:on-call",
        "bake_minutes": 30,
        "dry_run": False,
        "rollback_alarm_names": ("elb-5xx",),
        "max_rollbacks_per_hour": 1,
        "load_balancer_full_name": "app/order-api/1",
        "target_group_full_name": "targetgroup/order-api/2",
        "diagnosis_minutes": 5,
        "distribution_id": None,
        "invalidation_paths": ("/*",),
        "idempotency_table": "rollback-idempotency",
    }
    values.update(changes)
    return Config(**values)


def _alarm(state: str = "ALARM", name: str = "elb-5xx", at: datetime = ALARM_AT) -> AlarmEvent:
    return AlarmEvent(
        alarm_name=name,
        state=state,
        previous_state="OK",
        reason="Threshold Crossed",
        timestamp=at,
        alarm_arn=None,
        event_id=None,
        reason_data={},
    )


def _dep(
    deployment_id: str,
    *,
    created_ago: timedelta,
    status: str = "Succeeded",
    completed_ago: timedelta | None = None,
    key: str | None = None,
    creator: str = "user",
    description: str = "",
    previous_key: str | None = None,
) -> Deployment:
    done = completed_ago if completed_ago is not None else created_ago - 5 * MINUTE
    return Deployment(
        deployment_id=deployment_id,
        status=status,
        create_time=NOW - created_ago,
        complete_time=NOW - done if status in {"Succeeded", "Failed", "Stopped"} else None,
        creator=creator,
        description=description,
        revision={"key": key or deployment_id},
        previous_revision={"key": previous_key} if previous_key else {},
    )


GOOD = _dep("good", created_ago=timedelta(hours=3))
BAD = _dep("bad", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)


def test_screen_skips_ok_state_silently() -> None:
    decision = screen(_alarm(state="OK"), _config())

    assert decision is not None
    assert (decision.action, decision.notify) == ("skipped", False)


def test_screen_skips_foreign_alarm_silently() -> None:
    decision = screen(_alarm(name="other"), _config())

    assert decision is not None
    assert (decision.action, decision.notify) == ("skipped", False)


def test_screen_lets_our_alarm_in_alarm_state_through() -> None:
    assert screen(_alarm(), _config()) is None


def test_newest_by_create_time_wins_whatever_the_input_order() -> None:
    deployments = [GOOD, BAD, _dep("older", created_ago=timedelta(hours=5))]
    random.Random(7).shuffle(deployments)

    decision = decide(alarm=_alarm(), config=_config(), deployments=deployments, now=NOW)

    assert (decision.action, decision.deployment_id) == ("redeploy", "bad")
    assert decision.revision == {"key": "good"}


def test_completion_exactly_at_the_bake_window_edge_is_blamed() -> None:
    edge = _dep("edge", created_ago=40 * MINUTE, completed_ago=31 * MINUTE)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, edge], now=NOW)

    assert decision.action == "redeploy"


def test_completion_just_before_the_bake_window_is_not_blamed() -> None:
    early = _dep("early", created_ago=40 * MINUTE, completed_ago=31 * MINUTE + timedelta(seconds=1))

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, early], now=NOW)

    assert (decision.action, decision.notify) == ("skipped", True)
    assert "not correlated" in decision.reason


def test_newest_failed_deployment_outside_the_bake_window_is_not_correlated() -> None:
    failed = _dep("failed", created_ago=120 * MINUTE, status="Failed", completed_ago=110 * MINUTE)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, failed], now=NOW)

    assert (decision.action, decision.notify) == ("skipped", True)
    assert "not correlated" in decision.reason
    assert "is Failed" in decision.reason


def test_running_rollback_is_never_stopped() -> None:
    rollback = _dep("rb", created_ago=2 * MINUTE, status="InProgress", creator="codeDeployRollback")

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, BAD, rollback], now=NOW)

    assert (decision.action, decision.notify) == ("skipped", False)


def test_marker_in_description_makes_a_deployment_a_rollback() -> None:
    kit = _dep("kit", created_ago=2 * MINUTE, description=f"{KIT_MARKER} rollback of bad")

    assert kit.is_rollback


def test_previous_good_with_the_same_revision_is_passed_over() -> None:
    same = _dep("same", created_ago=timedelta(hours=1), key="bad")

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, same, BAD], now=NOW)

    assert decision.revision_source_id == "good"


def test_failed_deployments_are_never_a_rollback_target() -> None:
    failed = _dep("failed", created_ago=timedelta(hours=1), status="Failed")

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, failed, BAD], now=NOW)

    assert decision.revision_source_id == "good"


def test_previous_revision_field_is_the_fallback_target() -> None:
    bad = _dep("bad", created_ago=10 * MINUTE, completed_ago=4 * MINUTE, previous_key="v1")

    decision = decide(alarm=_alarm(), config=_config(), deployments=[bad], now=NOW)

    assert decision.action == "redeploy"
    assert (decision.revision, decision.revision_source_id) == ({"key": "v1"}, None)


def test_codedeploy_rollbacks_count_against_the_budget() -> None:
    stopped = _dep("stopped", created_ago=50 * MINUTE, status="Stopped", completed_ago=45 * MINUTE)
    rollback = _dep("rb", created_ago=45 * MINUTE, creator="codeDeployRollback", key="good")

    decision = decide(
        alarm=_alarm(), config=_config(), deployments=[GOOD, stopped, rollback, BAD], now=NOW
    )

    assert decision.action == "skipped"
    assert decision.facts["recentRollbackIds"] == ["rb"]


def test_budget_applies_to_stopping_too() -> None:
    rollback = _dep("rb", created_ago=45 * MINUTE, creator="codeDeployRollback", key="good")
    running = _dep("running", created_ago=5 * MINUTE, status="InProgress")

    decision = decide(
        alarm=_alarm(), config=_config(), deployments=[GOOD, rollback, running], now=NOW
    )

    assert decision.action == "skipped"
    assert "budget" in decision.reason


def test_dry_run_turns_stop_into_would_stop() -> None:
    running = _dep("running", created_ago=5 * MINUTE, status="InProgress")

    decision = decide(
        alarm=_alarm(), config=_config(dry_run=True), deployments=[GOOD, running], now=NOW
    )

    assert decision.action == "would-stop"


def test_lookback_covers_the_bake_window_the_budget_hour_and_a_long_deployment() -> None:
    start = lookback_start(_alarm(), _config(bake_minutes=120), NOW)

    assert start <= ALARM_AT - timedelta(minutes=120) - timedelta(hours=24)


def test_rollback_description_names_the_undone_deployment_the_alarm_and_the_time() -> None:
    text = rollback_description("d-BAD", _alarm(), "d-GOOD")

    assert text.startswith(KIT_MARKER)
    for part in ("d-BAD", "elb-5xx", "2026-03-12T14:47:00+00:00", "d-GOOD"):
        assert part in text


@pytest.mark.parametrize("status", ["Created", "Queued", "InProgress", "Baking", "Ready"])
def test_running_statuses(status: str) -> None:
    assert _dep("x", created_ago=MINUTE, status=status).is_running


@pytest.mark.parametrize("status", ["Stopped", "Failed"])
def test_deployment_codedeploy_already_stopped_is_left_to_its_own_rollback(status: str) -> None:
    # CodeDeploy's DEPLOYMENT_STOP_ON_ALARM won the race: its rollback may not exist yet.
    stopped = _dep("bad", created_ago=10 * MINUTE, completed_ago=1 * MINUTE, status=status)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, stopped], now=NOW)

    assert (decision.action, decision.notify) == ("skipped", False)
    assert "CodeDeploy's own automatic rollback" in decision.reason


# Creators (CodeDeploy API Reference, DeploymentInfo and DeploymentCreator) -----------------


@pytest.mark.parametrize("creator", ["user", "CloudFormation"])
def test_user_and_cloudformation_deployments_are_releases(creator: str) -> None:
    bad = _dep("bad", created_ago=10 * MINUTE, completed_ago=4 * MINUTE, creator=creator)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, bad], now=NOW)

    assert (decision.action, decision.deployment_id) == ("redeploy", "bad")


@pytest.mark.parametrize("creator", ["codeDeployRollback", "CloudFormationRollback"])
def test_codedeploy_and_cloudformation_rollbacks_are_never_undone(creator: str) -> None:
    # A stack rollback put N back: undoing it would put the bad N+1 live again.
    rollback = _dep("rb", created_ago=3 * MINUTE, completed_ago=1 * MINUTE, creator=creator)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, BAD, rollback], now=NOW)

    assert (decision.action, decision.notify) == ("skipped", False)
    assert "never roll back a rollback" in decision.reason


def test_a_deployment_with_a_rollback_trigger_is_a_rollback_whoever_created_it() -> None:
    info = {
        "deploymentId": "rb",
        "status": "Succeeded",
        "createTime": NOW - 3 * MINUTE,
        "completeTime": NOW - MINUTE,
        "creator": "user",
        "rollbackInfo": {"rollbackTriggeringDeploymentId": "bad"},
    }
    rollback = Deployment.from_info(info)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, BAD, rollback], now=NOW)

    assert rollback.is_aws_rollback
    assert (decision.action, decision.notify) == ("skipped", False)


@pytest.mark.parametrize(
    "creator", ["autoscaling", "CodeDeployAutoUpdate", "autoscalingTermination"]
)
def test_auto_scaling_deployments_are_launches_never_releases(creator: str) -> None:
    launch = _dep("launch", created_ago=2 * MINUTE, status="InProgress", creator=creator)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, BAD, launch], now=NOW)

    assert launch.is_launch
    # The launch is neither stopped nor blamed: the release before it is undone.
    assert (decision.action, decision.deployment_id) == ("redeploy", "bad")


@pytest.mark.parametrize("creator", ["CodeDeploy", "", "somethingNew"])
def test_a_deployment_of_any_other_creator_is_skipped_and_paged(creator: str) -> None:
    other = _dep("other", created_ago=3 * MINUTE, status="InProgress", creator=creator)

    decision = decide(alarm=_alarm(), config=_config(), deployments=[GOOD, BAD, other], now=NOW)

    assert (decision.action, decision.notify) == ("skipped", True)
    assert f"creator {creator!r}" in decision.reason
    assert "a human decides" in decision.reason
