"""Deployments CodeDeploy makes for Auto Scaling launches are never releases.

A scale-out launch gets a deployment of the group's current revision whose ``creator`` is
``autoscaling`` (or ``CodeDeployAutoUpdate``). The kit never stops one, never blames one,
and when one holds the group's single active deployment while a rollback is needed, the
event is handed back to Lambda as retryable (no page yet: the retries and then the
dead-letter queue's alarm carry it), and the rollback happens on a later attempt.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollback.aws import RetryLater
from rollback.handler import lambda_handler
from tests.support import aws_calls, codedeploy_gaps
from tests.support.rollback_world import (
    APP,
    GROUP,
    Hooks,
    World,
    alarm_event,
    revision_key,
)

MINUTE = timedelta(minutes=1)
CREATORS = ["autoscaling", "CodeDeployAutoUpdate"]


@pytest.mark.parametrize("creator", CREATORS)
def test_running_launch_is_never_stopped_and_an_old_release_is_not_blamed(
    world: World, calls: list[str], lambda_context: Any, creator: str
) -> None:
    # Given: the last release finished hours ago; a launch is installing it on a new instance
    world.deploy("v1", created_ago=timedelta(hours=5))
    world.deploy("v2", created_ago=timedelta(hours=3))
    launch = codedeploy_gaps.launch_deployment(APP, GROUP, creator=creator)
    codedeploy_gaps.set_create_time(launch, world.now - 3 * MINUTE)

    result = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    assert result["action"] == "skipped"
    assert "not correlated with a recent deployment" in result["reason"]
    assert calls == [aws_calls.LIST, aws_calls.BATCH, aws_calls.METRICS, aws_calls.PUBLISH]
    assert codedeploy_gaps.get(launch).status == "InProgress"


@pytest.mark.parametrize("creator", CREATORS)
def test_finished_launch_after_the_bad_release_is_not_blamed(
    world: World, calls: list[str], lambda_context: Any, creator: str
) -> None:
    # Given: the bad release v2 succeeded, then a scale-out installed v2 on a new instance
    world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=10 * MINUTE, completed_ago=6 * MINUTE)
    launch = codedeploy_gaps.launch_deployment(APP, GROUP, creator=creator)
    codedeploy_gaps.set_create_time(launch, world.now - 4 * MINUTE)
    codedeploy_gaps.complete_deployment(launch, at=world.now - 2 * MINUTE)

    result = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    # Then: the release is rolled back, not the launch
    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)
    assert calls == aws_calls.REDEPLOY
    assert revision_key(world.deployments()[-1]) == "order-api-v1.zip"


def test_launch_holding_the_group_makes_the_rollback_retryable_then_it_happens(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    # Given: the bad release succeeded and a scale-out launch is running when the alarm fires
    world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)
    launch = codedeploy_gaps.launch_deployment(APP, GROUP)
    event = alarm_event(world.now - MINUTE)

    # When: the first attempt meets the launch
    with pytest.raises(RetryLater, match=launch):
        lambda_handler(event, lambda_context)

    # Then: nothing was stopped or skipped silently; no page yet (Lambda retries the event)
    assert calls == aws_calls.REFUSED_THEN_REREAD
    assert codedeploy_gaps.get(launch).status == "InProgress"
    assert world.notifications() == []

    # When: the launch finishes and Lambda delivers the event again
    codedeploy_gaps.complete_deployment(launch)
    calls.clear()
    retried = lambda_handler(event, lambda_context)

    # Then: the rollback happens now
    assert (retried["action"], retried["deploymentId"]) == ("redeployed", bad)
    assert calls == aws_calls.REDEPLOY


def test_active_rollback_holding_the_group_is_still_a_silent_skip(
    world: World, calls: list[str], hooks: Hooks, lambda_context: Any
) -> None:
    # Given: another invocation's rollback was created between this one's read and create
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    def rollback_first(**_: Any) -> None:
        world.kit_rollback("v1", created_ago=timedelta(seconds=1))
        codedeploy_gaps.set_status(world.deployments()[-1]["deploymentId"], "InProgress")

    hooks.register("codedeploy", "before-call.codedeploy.CreateDeployment", rollback_first)

    result = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    assert result["action"] == "skipped"
    assert "already in progress" in result["reason"]
    assert calls == aws_calls.REFUSED_THEN_REREAD
