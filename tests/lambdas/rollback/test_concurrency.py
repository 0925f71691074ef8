"""Exactly one rollback under duplicate, concurrent and paired deliveries, with no reserved
concurrency: the handler runs in several threads at once against the gap-filled CodeDeploy.

Every invocation reads the group before any of them creates a deployment (a barrier on
CreateDeployment holds them there), which is the worst order for a check-then-act design.
What keeps it at one rollback: CodeDeploy's one-active-deployment rule (the losers are
refused and find the winner's rollback active), and the idempotency record, a conditional
DynamoDB write per rolled-back deployment, for the order no rule catches: the winner's
rollback *ends* before a loser creates its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support.concurrency import gate, invoke_together
from tests.support.histories import baked, running
from tests.support.rollback_world import ALARM, SECOND_ALARM, Hooks, World, alarm_event

MINUTE = timedelta(minutes=1)


def _all_read_before_any_create(hooks: Hooks, parties: int) -> None:
    """Hold every first write (the claim) until all invocations have read the group."""
    gate(hooks, "dynamodb", "PutItem", parties)


def _rollbacks_end_at_once(hooks: Hooks) -> None:
    """Each CreateDeployment's deployment ends Succeeded before the next one is sent: the
    order the one-active rule cannot catch."""
    one_at_a_time = threading.Lock()

    def before(**_: Any) -> None:
        one_at_a_time.acquire()

    def after(parsed: dict[str, Any], **_: Any) -> None:
        try:
            if "deploymentId" in parsed:
                codedeploy_gaps.complete_deployment(parsed["deploymentId"])
        finally:
            one_at_a_time.release()

    hooks.register("codedeploy", "before-call.codedeploy.CreateDeployment", before)
    hooks.register("codedeploy", "after-call.codedeploy.CreateDeployment", after)


def _same_alarm(world: World, copies: int) -> list[dict[str, Any]]:
    return [alarm_event(world.now - MINUTE) for _ in range(copies)]


def _paired_alarms(world: World, copies: int) -> list[dict[str, Any]]:
    names = [ALARM, SECOND_ALARM] * copies
    return [alarm_event(world.now - MINUTE, name=name) for name in names[:copies]]


@pytest.mark.parametrize("events", [_same_alarm, _paired_alarms], ids=["duplicate", "paired"])
def test_invocations_that_all_read_first_still_roll_back_once(
    world: World,
    hooks: Hooks,
    lambda_context: Any,
    events: Callable[[World, int], list[dict[str, Any]]],
) -> None:
    _, bad = baked(world)
    _all_read_before_any_create(hooks, 3)

    results = invoke_together(lambda_handler, events(world, 3), lambda_context)

    assert sorted(r["action"] for r in results) == ["redeployed", "skipped", "skipped"]
    assert {r["deploymentId"] for r in results} == {bad}
    assert len(world.rollbacks_created_by_kit()) == 1


@pytest.mark.parametrize("events", [_same_alarm, _paired_alarms], ids=["duplicate", "paired"])
def test_a_rollback_that_ends_before_the_next_create_is_not_repeated(
    world: World,
    hooks: Hooks,
    lambda_context: Any,
    events: Callable[[World, int], list[dict[str, Any]]],
) -> None:
    # Given: all three read "v2 succeeded", and the first rollback ends before the others act
    baked(world)
    _all_read_before_any_create(hooks, 3)
    _rollbacks_end_at_once(hooks)

    results = invoke_together(lambda_handler, events(world, 3), lambda_context)

    assert sorted(r["action"] for r in results) == ["redeployed", "skipped", "skipped"]
    assert len(world.rollbacks_created_by_kit()) == 1


def test_two_alarms_on_a_running_release_stop_it_once_and_create_nothing(
    world: World, hooks: Hooks, lambda_context: Any
) -> None:
    running(world)
    # Both have read the running deployment before either claims the stop.
    gate(hooks, "dynamodb", "PutItem", 2)

    results = invoke_together(lambda_handler, _paired_alarms(world, 2), lambda_context)

    assert sorted(r["action"] for r in results) == ["skipped", "stopped"]
    assert sum(r["awsCalls"].count("codedeploy:StopDeployment") for r in results) == 1
    creators = [d["creator"] for d in world.deployments()]
    assert creators.count("codeDeployRollback") == 1
    assert world.rollbacks_created_by_kit() == []


def test_duplicate_delivery_of_the_same_event_rolls_back_once(
    world: World, lambda_context: Any
) -> None:
    baked(world)
    event = alarm_event(world.now - MINUTE)

    first = lambda_handler(event, lambda_context)
    second = lambda_handler(event, lambda_context)

    assert (first["action"], second["action"]) == ("redeployed", "skipped")
    assert len(world.rollbacks_created_by_kit()) == 1


@pytest.mark.parametrize(
    ("names", "actions"),
    [
        ([ALARM, ALARM, ALARM], ["redeployed", "skipped", "skipped"]),
        ([ALARM, SECOND_ALARM], ["redeployed", "skipped"]),
    ],
    ids=["same-alarm-three-times", "two-alarms"],
)
def test_deliveries_at_the_same_moment_roll_back_once(
    world: World, lambda_context: Any, names: list[str], actions: list[str]
) -> None:
    baked(world)
    events = [alarm_event(world.now - MINUTE, name=name) for name in names]

    results = invoke_together(lambda_handler, events, lambda_context)

    assert sorted(r["action"] for r in results) == actions
    assert len(world.rollbacks_created_by_kit()) == 1
