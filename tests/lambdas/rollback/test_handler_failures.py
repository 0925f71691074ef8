"""The rollback handler end to end under moto when things go wrong around it: refusals and
changes under it, retries and errors, malformed events, the CloudFront invalidation, and
what on-call receives. (The numbered decision cases are in ``test_handler``, the races in
``test_concurrency``.) Histories and the alarm's time are those of ``test_handler``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from rollback import aws, workflow
from rollback.alarm_event import parse_alarm_event
from rollback.aws import Gateway
from rollback.config import Config
from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support.histories import baked, running
from tests.support.lambda_world import LAMBDA_ALARM, LambdaWorld
from tests.support.rollback_world import (
    ALARM,
    LOAD_BALANCER,
    TARGET_GROUP,
    Clocked,
    Faults,
    Hooks,
    World,
    alarm_event,
    fire,
    fire_redeploy,
)

MINUTE = timedelta(minutes=1)


def test_active_deployment_refusal_on_create_is_a_skip(
    world: World, faults: Faults, lambda_context: Any
) -> None:
    baked(world)
    faults.add("codedeploy", "CreateDeployment", "DeploymentLimitExceededException")

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "a deployment is already in progress" in result["reason"]


def test_deployment_that_succeeded_while_being_stopped_is_decided_again_and_redeployed(
    world: World, hooks: Hooks, lambda_context: Any
) -> None:
    # Given: the deployment is running when listed, then finishes before StopDeployment lands
    _, bad = running(world)

    def finish(**_: Any) -> None:
        codedeploy_gaps.complete_deployment(bad, at=world.now)

    hooks.register("codedeploy", "before-call.codedeploy.StopDeployment", finish, first=True)

    result = fire(world, lambda_context)

    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)


# Retries and failures --------------------------------------------------------------------


def test_throttled_create_deployment_is_retried_then_succeeds(
    world: World, faults: Faults, calls: list[str], sleeps: list[float], lambda_context: Any
) -> None:
    baked(world)
    faults.add("codedeploy", "CreateDeployment", "ThrottlingException", "ThrottlingException")

    result = fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert calls.count("codedeploy:CreateDeployment") == 3
    assert len(sleeps) == 2
    assert len(world.rollbacks_created_by_kit()) == 1


def test_connection_error_is_retried(
    world: World, faults: Faults, calls: list[str], lambda_context: Any
) -> None:
    baked(world)
    faults.add(
        "codedeploy", "BatchGetDeployments", EndpointConnectionError(endpoint_url="https://x")
    )

    result = fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert calls.count("codedeploy:BatchGetDeployments") == 2


def test_throttling_that_persists_is_reraised_without_notifying(
    world: World, faults: Faults, calls: list[str], sleeps: list[float], lambda_context: Any
) -> None:
    baked(world)
    faults.add("codedeploy", "ListDeployments", *["Throttling"] * aws.DEFAULT_RETRY.attempts)

    with pytest.raises(ClientError, match="Throttling"):
        fire(world, lambda_context)

    assert calls == ["codedeploy:ListDeployments"] * aws.DEFAULT_RETRY.attempts
    assert all(0 <= pause <= aws.DEFAULT_RETRY.max_delay for pause in sleeps)
    assert world.notifications() == []


def test_service_unavailable_is_retried(
    world: World, faults: Faults, calls: list[str], lambda_context: Any
) -> None:
    baked(world)
    faults.add("sns", "Publish", "ServiceUnavailable")

    result = fire(world, lambda_context)

    assert result["notified"] is True
    assert calls.count("sns:Publish") == 2


def test_non_retryable_error_notifies_a_human_then_reraises(
    world: World, faults: Faults, calls: list[str], lambda_context: Any
) -> None:
    baked(world)
    faults.add("codedeploy", "CreateDeployment", "AccessDeniedException")

    with pytest.raises(ClientError, match="AccessDeniedException"):
        fire(world, lambda_context)

    assert calls.count("codedeploy:CreateDeployment") == 1
    [note] = world.notifications()
    assert "FAILED" in note["Subject"]
    assert "AccessDeniedException" in note["Message"]


# Malformed events -------------------------------------------------------------------------


def _event_with(path: list[str], value: Any) -> dict[str, Any]:
    event = alarm_event(datetime(2026, 3, 12, 14, 47, tzinfo=UTC))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="list"),
        pytest.param("ALARM", id="string"),
        pytest.param({}, id="empty-object"),
        pytest.param(_event_with(["detail"], KeyError), id="no-detail"),
        pytest.param(_event_with(["detail"], "ALARM"), id="detail-not-object"),
        pytest.param(_event_with(["source"], "aws.ec2"), id="other-source"),
        pytest.param(_event_with(["detail", "alarmName"], 42), id="alarm-name-not-string"),
        pytest.param(_event_with(["detail", "state"], KeyError), id="no-state"),
        pytest.param(_event_with(["detail", "state", "value"], "BROKEN"), id="unknown-state"),
        pytest.param(_event_with(["detail", "state", "timestamp"], "yesterday"), id="bad-time"),
        pytest.param(_event_with(["detail", "state", "timestamp"], 1700000000), id="int-time"),
    ],
)
def test_malformed_event_is_logged_and_skipped(
    world: World,
    calls: list[str],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    event: Any,
) -> None:
    result = lambda_handler(event, lambda_context)

    assert result["action"] == "skipped"
    assert result["reason"].startswith("malformed event:")
    assert calls == []
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["rawEvent"] == json.dumps(event)


# CloudFront invalidation ------------------------------------------------------------------


def test_rollback_invalidates_the_distribution_with_a_reference_from_the_rollback(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    distribution = world.distribution()
    set_env(DISTRIBUTION_ID=distribution, INVALIDATION_PATHS="/*,/api/*")
    baked(world)

    result = fire(world, lambda_context)

    invalidation = world.cloudfront.get_invalidation(
        DistributionId=distribution, Id=result["invalidationId"]
    )["Invalidation"]["InvalidationBatch"]
    assert invalidation["Paths"]["Items"] == ["/*", "/api/*"]
    assert result["rollbackDeploymentId"] in invalidation["CallerReference"]
    [note] = world.notifications()
    assert result["invalidationId"] in note["Message"]


def test_stop_also_invalidates_the_distribution(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(DISTRIBUTION_ID=world.distribution())
    running(world)

    result = fire(world, lambda_context)

    assert result["action"] == "stopped"
    assert result["invalidationId"]


def test_without_distribution_id_nothing_is_invalidated(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    baked(world)

    result = fire(world, lambda_context)

    assert result["invalidationId"] is None
    assert "cloudfront:CreateInvalidation" not in calls


def test_failed_invalidation_keeps_the_rollback_and_is_reported(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    result = fire_redeploy(world, lambda_context, set_env, baked, DISTRIBUTION_ID="EDOESNOTEXIST")

    assert "NoSuchDistribution" in result["invalidationError"]
    [note] = world.notifications()
    assert "invalidation FAILED" in note["Message"]


# What on-call receives and what the log says ----------------------------------------------


def test_notification_explains_the_reference_incident_signature(
    world: World, lambda_context: Any
) -> None:
    # Given: the Section 12 picture, ALB 502s with six healthy targets and no target 5xx
    baked(world)
    world.put_alb_metrics(
        HTTPCode_ELB_5XX_Count=615,
        HTTPCode_ELB_502_Count=615,
        HTTPCode_Target_5XX_Count=0,
        RequestCount=7368,
        HealthyHostCount=6,
        UnHealthyHostCount=0,
    )

    result = fire(world, lambda_context)

    [note] = world.notifications()
    assert "malformed or truncated responses" in note["Message"]
    assert "ALB 5xx 1845" in note["Message"]
    assert result["diagnosis"]["facts"]["healthyHosts"] == 6
    assert len(note["Subject"]) < 100


def _run_with(config: Config, world: Clocked, alarm_name: str) -> tuple[dict[str, Any], list[str]]:
    """The workflow under a Config the environment could not give (a name left out)."""
    gateway = Gateway()
    alarm = parse_alarm_event(alarm_event(world.now - MINUTE, name=alarm_name))
    return workflow.run(alarm, config, gateway, world.now), gateway.calls


def test_ec2_group_without_alb_names_pages_with_no_diagnosis_rather_than_a_lambda_one(
    world: World,
) -> None:
    baked(world)
    config = replace(Config.from_environ(os.environ), target_group_full_name=None)

    result, calls = _run_with(config, world, ALARM)

    assert result["notified"] is True
    assert result["diagnosis"]["verdict"] == "not-enough-data"
    assert "cloudwatch:GetMetricData" not in calls


def test_lambda_group_is_diagnosed_as_a_lambda_release_whatever_names_it_holds(
    lambda_release: LambdaWorld,
) -> None:
    lambda_release.release(created_ago=50 * MINUTE, completed_ago=40 * MINUTE)
    config = replace(
        Config.from_environ(os.environ),
        load_balancer_full_name=LOAD_BALANCER,
        target_group_full_name=TARGET_GROUP,
    )

    result, calls = _run_with(config, lambda_release, LAMBDA_ALARM)

    assert result["diagnosis"]["verdict"] == "lambda-release"
    assert "cloudwatch:GetMetricData" not in calls


def test_notification_carries_the_decision_as_json(world: World, lambda_context: Any) -> None:
    baked(world)

    result = fire(world, lambda_context)

    [note] = world.notifications()
    block = note["Message"].split("--- decision (JSON) ---\n", 1)[1]
    assert json.loads(block)["rollbackDeploymentId"] == result["rollbackDeploymentId"]


def test_decision_is_logged_as_one_json_line(
    world: World, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    baked(world)

    result = fire(world, lambda_context)

    [line] = capsys.readouterr().out.splitlines()
    logged = json.loads(line)
    assert logged["action"] == "redeployed"
    assert logged["rollbackDeploymentId"] == result["rollbackDeploymentId"]
    assert logged["requestId"] == lambda_context.aws_request_id
    # The ids that tie the line to the EventBridge delivery and the alarm.
    assert logged["eventId"]
    assert logged["alarmArn"].startswith("arn:aws:cloudwatch:")
