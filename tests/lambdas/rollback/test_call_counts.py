"""The exact AWS calls the rollback function makes for each kind of decision.

A redeploy claims its idempotency record (DynamoDB PutItem) right before CreateDeployment,
and gives it back (DeleteItem) when CreateDeployment fails; a stop claims one right before
StopDeployment the same way.

Counted independently of the function through botocore's ``before-parameter-build`` event
(see ``calls`` in conftest) and compared with the list the function reports in its decision
line, so an extra call, a lost call or a wrong order fails here. The redeploy (with and without
an edge), its dry run, the duplicate and the failed CreateDeployment are pinned by
``tests/tools/test_bench.py`` against the synthesized function; these are the rest. On a
Lambda group the AppSpec is read (GetApplicationRevision) only once the rules say undo,
never for a skip those rules decide (a skip the AppSpec or the alias then decides has read
them); those are the function's own list (``awsCalls``), since the botocore
hooks do not cover Lambda.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support.aws_calls import (
    BATCH,
    CLAIM,
    LIST,
    METRICS,
    PUBLISH,
    STOP,
    UNDO,
)
from tests.support.histories import baked, running
from tests.support.lambda_world import LAMBDA_ALARM, LambdaWorld
from tests.support.rollback_world import World, alarm_event, fire

MINUTE = timedelta(minutes=1)


def _rollback_in_progress(world: World) -> None:
    baked(world)
    world.kit_rollback("v1", created_ago=2 * MINUTE)


def _old_release(world: World) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))


def _nothing(world: World) -> None:
    return None


@pytest.mark.parametrize(
    ("history", "env", "action", "expected"),
    [
        pytest.param(
            running, {}, "stopped", [LIST, BATCH, CLAIM, STOP, METRICS, PUBLISH], id="stopped"
        ),
        pytest.param(
            running,
            {"DRY_RUN": "true"},
            "would-stop",
            [LIST, BATCH, METRICS, PUBLISH],
            id="would-stop",
        ),
        pytest.param(
            _old_release, {}, "skipped", [LIST, BATCH, METRICS, PUBLISH], id="skipped-notified"
        ),
        pytest.param(_nothing, {}, "skipped", [LIST, METRICS, PUBLISH], id="skipped-empty-group"),
        pytest.param(
            _rollback_in_progress, {}, "skipped", [LIST, BATCH], id="skipped-rollback-in-progress"
        ),
    ],
)
def test_aws_calls_per_decision(
    world: World,
    set_env: Callable[..., None],
    calls: list[str],
    lambda_context: Any,
    history: Callable[[World], None],
    env: dict[str, str],
    action: str,
    expected: list[str],
) -> None:
    set_env(**env)
    history(world)

    result = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    assert result["action"] == action
    assert calls == expected
    assert result["awsCalls"] == expected, result["reason"]


def test_aws_calls_for_an_event_that_is_not_alarm_are_none(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    baked(world)

    lambda_handler(
        alarm_event(world.now, file="cloudwatch-alarm-state-change-ok.json"), lambda_context
    )

    assert calls == []


def test_batch_get_deployments_asks_for_at_most_25_ids_a_call(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    # Given: 26 deployments in the lookback window, the newest the bad one
    for number in range(25):
        world.deploy(f"v{number}", created_ago=timedelta(hours=20) - number * MINUTE)
    world.deploy("v-bad", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    assert result["action"] == "redeployed"
    assert calls[:3] == [LIST, BATCH, BATCH]


def _lambda_release_baked(world: LambdaWorld) -> None:
    world.release(created_ago=12 * MINUTE, completed_ago=4 * MINUTE)


def _lambda_release_outside_the_bake_window(world: LambdaWorld) -> None:
    world.release(created_ago=50 * MINUTE, completed_ago=40 * MINUTE)


def _lambda_budget_spent(world: LambdaWorld) -> None:
    # MAX_ROLLBACKS_PER_HOUR is 1: CodeDeploy's rollback of an earlier release spent it.
    world.release(created_ago=50 * MINUTE, completed_ago=45 * MINUTE)
    rollback = world.release(
        created_ago=40 * MINUTE, completed_ago=39 * MINUTE, current="2", target="1"
    )
    codedeploy_gaps.get(rollback).creator = "codeDeployRollback"
    _lambda_release_baked(world)


def _lambda_release_created_after_the_alarm(world: LambdaWorld) -> None:
    # fire() dates the alarm a minute before now.
    world.release(created_ago=MINUTE / 2, completed_ago=MINUTE / 4)


def _lambda_rollback_newest(world: LambdaWorld) -> None:
    rollback = world.release(
        created_ago=6 * MINUTE, completed_ago=5 * MINUTE, current="2", target="1"
    )
    codedeploy_gaps.get(rollback).creator = "codeDeployRollback"


@pytest.mark.parametrize(
    ("history", "action", "expected"),
    [
        pytest.param(_lambda_release_baked, "redeployed", UNDO, id="undo"),
        pytest.param(
            _lambda_release_outside_the_bake_window,
            "skipped",
            [LIST, BATCH, PUBLISH],
            id="skipped-outside-the-bake-window",
        ),
        pytest.param(_lambda_rollback_newest, "skipped", [LIST, BATCH], id="skipped-rollback"),
        pytest.param(
            _lambda_budget_spent, "skipped", [LIST, BATCH, PUBLISH], id="skipped-budget-spent"
        ),
        pytest.param(
            _lambda_release_created_after_the_alarm,
            "skipped",
            [LIST, BATCH, PUBLISH],
            id="skipped-created-after-the-alarm",
        ),
    ],
)
def test_lambda_calls_per_decision_read_the_appspec_only_for_the_undo(
    lambda_release: LambdaWorld,
    lambda_context: Any,
    history: Callable[[LambdaWorld], None],
    action: str,
    expected: list[str],
) -> None:
    history(lambda_release)

    result = fire(lambda_release, lambda_context, name=LAMBDA_ALARM)

    assert result["action"] == action
    assert result["awsCalls"] == expected, result["reason"]
