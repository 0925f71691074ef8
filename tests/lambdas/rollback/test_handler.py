"""The rollback handler end to end under moto: each numbered case of the decision (failures,
retries, invalidation and the page are in ``test_handler_failures``, races in
``test_concurrency``).

Unless a test says otherwise the history is ``tests.support.histories.baked`` and the alarm
fires a minute before the world's clock (``rollback_world.fire``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollback.config import KIT_MARKER
from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support.histories import baked, running
from tests.support.rollback_world import (
    ALARM,
    World,
    alarm_event,
    fire,
    fire_redeploy,
    revision_key,
)

MINUTE = timedelta(minutes=1)


# Case 1: not an ALARM state change, or not one of ours ----------------------------------


@pytest.mark.parametrize(
    "event_file",
    [
        "cloudwatch-alarm-state-change-ok.json",
        "cloudwatch-alarm-state-change-insufficient-data.json",
    ],
)
def test_state_change_that_is_not_alarm_is_skipped_without_any_aws_call(
    world: World, calls: list[str], lambda_context: Any, event_file: str
) -> None:
    baked(world)

    result = lambda_handler(alarm_event(world.now, file=event_file), lambda_context)

    assert result["action"] == "skipped"
    assert "not ALARM" in result["reason"]
    assert calls == []
    assert world.notifications() == []


def test_alarm_not_listed_in_rollback_alarm_names_is_skipped_without_any_aws_call(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    baked(world)

    result = fire(world, lambda_context, name="someone-elses-alarm")

    assert result["action"] == "skipped"
    assert "ROLLBACK_ALARM_NAMES" in result["reason"]
    assert calls == []


# Case 2: the newest deployment is still running -----------------------------------------


def test_running_deployment_is_stopped_with_automatic_rollback(
    world: World, lambda_context: Any
) -> None:
    _, bad = running(world)

    result = fire(world, lambda_context)

    assert result["action"] == "stopped"
    assert result["deploymentId"] == bad
    stopped = codedeploy_gaps.get(bad)
    assert stopped.status == "Stopped"
    rollback = world.deployments()[-1]
    assert rollback["creator"] == "codeDeployRollback"
    assert revision_key(rollback) == "order-api-v1.zip"


@pytest.mark.parametrize("status", ["Created", "Queued", "Baking", "Ready"])
def test_every_running_status_counts_as_running(
    world: World, lambda_context: Any, status: str
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=5 * MINUTE, status=status)

    result = fire(world, lambda_context)

    assert (result["action"], result["deploymentId"]) == ("stopped", bad)


# Case 3: the newest deployment succeeded within the bake window -------------------------


def test_deployment_completed_within_bake_window_is_rolled_back_to_previous_revision(
    world: World, lambda_context: Any
) -> None:
    good, bad = baked(world)

    result = fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert result["deploymentId"] == bad
    assert result["revisionSourceDeploymentId"] == good
    [rollback] = world.rollbacks_created_by_kit()
    assert rollback["deploymentId"] == result["rollbackDeploymentId"]
    assert revision_key(rollback) == "order-api-v1.zip"


def test_rollback_description_records_what_it_undoes_and_why(
    world: World, lambda_context: Any
) -> None:
    good, bad = baked(world)

    fire(world, lambda_context)

    [rollback] = world.rollbacks_created_by_kit()
    description = rollback["description"]
    assert description.startswith(KIT_MARKER)
    assert bad in description
    assert ALARM in description
    assert (world.now - MINUTE).strftime("%Y-%m-%dT%H:%M:%S") in description
    assert good in description


def test_rollback_deployment_turns_alarm_polling_off(world: World, lambda_context: Any) -> None:
    baked(world)

    result = fire(world, lambda_context)

    rollback = world.codedeploy.get_deployment(deploymentId=result["rollbackDeploymentId"])
    assert rollback["deploymentInfo"]["overrideAlarmConfiguration"]["enabled"] is False


def test_deployment_completed_before_bake_window_is_not_blamed(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=45 * MINUTE, completed_ago=40 * MINUTE)

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "not correlated" in result["reason"]
    assert world.rollbacks_created_by_kit() == []


def test_deployments_are_ordered_by_create_time_not_list_order(
    world: World, lambda_context: Any
) -> None:
    # Given: the API lists `late` first, but `early` was created after it (backdated here)
    late = world.deploy("v3", created_ago=timedelta(hours=2))
    early = world.deploy("v1", created_ago=timedelta(hours=3))
    codedeploy_gaps.set_create_time(late, world.now - 10 * MINUTE)
    codedeploy_gaps.complete_deployment(late, at=world.now - 4 * MINUTE)
    listed = world.codedeploy.list_deployments(
        applicationName="order-api", deploymentGroupName="prod"
    )
    assert listed["deployments"] == [late, early]

    result = fire(world, lambda_context)

    assert result["deploymentId"] == late
    assert result["revisionSourceDeploymentId"] == early


def test_previous_revision_older_than_the_lookback_comes_from_previous_revision(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(days=3))
    bad = world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = fire(world, lambda_context)

    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)
    [rollback] = world.rollbacks_created_by_kit()
    assert revision_key(rollback) == "order-api-v1.zip"


# Case 4: never roll back a rollback ------------------------------------------------------


def test_newest_deployment_made_by_codedeploy_rollback_is_left_alone(
    world: World, lambda_context: Any
) -> None:
    _, bad = running(world)
    world.codedeploy.stop_deployment(deploymentId=bad, autoRollbackEnabled=True)
    before = world.deployments()

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "never roll back a rollback" in result["reason"]
    assert world.deployments() == before


def test_newest_deployment_made_by_the_kit_is_left_alone(world: World, lambda_context: Any) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=20 * MINUTE, completed_ago=15 * MINUTE)
    world.kit_rollback("v1", created_ago=10 * MINUTE)

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "never roll back a rollback" in result["reason"]
    assert world.notifications() == []


# Case 5 and 6: nothing to blame, nothing to go back to ------------------------------------


def test_alarm_without_recent_deployment_is_skipped_and_notified(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    [note] = world.notifications()
    assert "alarm not correlated with a recent deployment" in note["Message"]


def test_group_without_any_deployment_is_skipped_and_notified(
    world: World, lambda_context: Any
) -> None:
    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    [note] = world.notifications()
    assert "no deployment in the lookback window" in note["Message"]


def test_first_deployment_of_a_group_has_no_earlier_revision_and_is_notified(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert world.rollbacks_created_by_kit() == []
    [note] = world.notifications()
    assert "no earlier successful revision" in note["Message"]


def test_deployment_created_after_the_alarm_is_not_stopped(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    fix = world.deploy("v3", created_ago=timedelta(seconds=20), status="InProgress")

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert codedeploy_gaps.get(fix).status == "InProgress"


# Case 7: the hourly rollback budget ------------------------------------------------------


def _second_bad_release_after_a_rollback(world: World) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=50 * MINUTE, completed_ago=45 * MINUTE)
    world.kit_rollback("v1", created_ago=40 * MINUTE)
    world.deploy("v3", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)


def test_spent_rollback_budget_skips_and_asks_for_a_human(
    world: World, lambda_context: Any
) -> None:
    _second_bad_release_after_a_rollback(world)

    result = fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert world.rollbacks_created_by_kit() == []
    [note] = world.notifications()
    assert "a human is needed" in note["Message"]


def test_budget_of_two_allows_a_second_rollback_within_the_hour(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    fire_redeploy(
        world,
        lambda_context,
        set_env,
        _second_bad_release_after_a_rollback,
        MAX_ROLLBACKS_PER_HOUR="2",
    )

    assert revision_key(world.rollbacks_created_by_kit()[0]) == "order-api-v1.zip"


def test_rollbacks_older_than_an_hour_do_not_count_against_the_budget(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=5))
    world.deploy("v2", created_ago=timedelta(hours=4))
    world.kit_rollback("v1", created_ago=timedelta(minutes=70))
    world.deploy("v3", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = fire(world, lambda_context)

    assert result["action"] == "redeployed"


# Case 8: dry run -------------------------------------------------------------------------


def test_dry_run_reports_would_redeploy_and_writes_nothing(
    world: World, set_env: Any, calls: list[str], lambda_context: Any
) -> None:
    set_env(DRY_RUN="true", DISTRIBUTION_ID="E2QWRUHEXAMPLE")
    baked(world)

    result = fire(world, lambda_context)

    assert result["action"] == "would-redeploy"
    assert world.rollbacks_created_by_kit() == []
    assert not {"codedeploy:CreateDeployment", "cloudfront:CreateInvalidation"} & set(calls)
    [note] = world.notifications()
    assert "DRY RUN" in note["Subject"]


def test_dry_run_reports_would_stop_and_leaves_the_deployment_running(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(DRY_RUN="true")
    _, bad = running(world)

    result = fire(world, lambda_context)

    assert result["action"] == "would-stop"
    assert codedeploy_gaps.get(bad).status == "InProgress"
