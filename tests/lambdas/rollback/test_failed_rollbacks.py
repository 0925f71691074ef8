"""A rollback that does not finish must never end with the bad release redeployed.

Two paths, each with the exact AWS calls asserted:

* the kit's own redeploy of the good revision fails: with the group's auto-rollback it would
  be rolled back to the group's last *successful* revision, the bad release; the kit turns
  auto-rollback off for its redeploy, so nothing follows it automatically;
* CodeDeploy's rollback after a stop ends Stopped (the same alarms stopped it) or Failed:
  the function hears of it through the deployment-state rule and redeploys the rollback's
  revision once, alarms ignored and auto-rollback off, and pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rollback.aws import RetryLater
from rollback.config import KIT_MARKER
from rollback.handler import lambda_handler
from tests.support import aws_calls, codedeploy_gaps
from tests.support.histories import baked, running
from tests.support.rollback_world import World, alarm_event, deployment_event, fire, revision_key

MINUTE = timedelta(minutes=1)
BAD = "order-api-v2.zip"
GOOD = "order-api-v1.zip"


def _created_after(world: World, deployment_id: str) -> list[dict[str, Any]]:
    pivot = codedeploy_gaps.get(deployment_id).create_time
    return [d for d in world.deployments() if d["createTime"].replace(tzinfo=None) > pivot]


def _codedeploy_rolling_back(world: World, context: Any) -> dict[str, Any]:
    """The kit stopped the running bad release; CodeDeploy's rollback of it now runs."""
    running(world)
    fire(world, context)
    return world.codedeploy_rollback()


def test_failed_kit_redeploy_never_leads_to_the_bad_revision_being_redeployed(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    # Given: the group rolls back failed deployments, and the bad release v2 has succeeded
    world.roll_back_on_failure()
    baked(world)
    redeploy = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)
    kit_id = str(redeploy["rollbackDeploymentId"])
    assert calls == aws_calls.REDEPLOY

    # When: the kit's redeploy fails; CodeDeploy reports it and the alarm is delivered again
    codedeploy_gaps.complete_deployment(kit_id, "Failed")
    calls.clear()
    on_failure = lambda_handler(deployment_event(kit_id), lambda_context)
    failure_calls = list(calls)
    calls.clear()
    redelivered = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    # Then: nothing was created after the failed redeploy, least of all the bad revision
    assert (on_failure["action"], failure_calls) == ("skipped", [aws_calls.BATCH])
    assert (redelivered["action"], calls) == ("skipped", [aws_calls.LIST, aws_calls.BATCH])
    assert _created_after(world, kit_id) == []
    assert [revision_key(d) for d in world.deployments()][-1] == GOOD
    info = world.codedeploy.get_deployment(deploymentId=kit_id)["deploymentInfo"]
    assert info["autoRollbackConfiguration"] == {"enabled": False}


@pytest.mark.parametrize("ending", ["Stopped", "Failed"])
def test_codedeploy_rollback_that_ends_badly_after_a_kit_stop_is_redeployed_once(
    world: World, calls: list[str], lambda_context: Any, ending: str
) -> None:
    # Given: the kit stopped the running bad release and CodeDeploy started its rollback
    running(world)
    stopped = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)
    assert stopped["action"] == "stopped"
    rollback = world.codedeploy_rollback()
    rollback_id = rollback["deploymentId"]
    world.notifications()

    # When: the rollback ends Stopped (the alarms) or Failed, and CodeDeploy says so
    codedeploy_gaps.complete_deployment(rollback_id, ending)
    calls.clear()
    retried = lambda_handler(
        deployment_event(rollback_id, "STOP" if ending == "Stopped" else "FAILURE"),
        lambda_context,
    )

    # Then: one redeploy of the rollback's (good) revision, alarms off, auto-rollback off
    assert retried["action"] == "retried"
    assert calls == [
        aws_calls.BATCH,
        aws_calls.LIST,
        aws_calls.BATCH,
        aws_calls.CLAIM,
        aws_calls.CREATE,
        aws_calls.METRICS,
        aws_calls.PUBLISH,
    ]
    info = world.codedeploy.get_deployment(deploymentId=retried["rollbackDeploymentId"])[
        "deploymentInfo"
    ]
    assert revision_key(info) == GOOD
    assert info["overrideAlarmConfiguration"] == {"enabled": False}
    assert info["autoRollbackConfiguration"] == {"enabled": False}
    assert info["description"].startswith(f"{KIT_MARKER} retry of rollback {rollback_id}")
    (page,) = world.notifications()
    assert page["Subject"].startswith("ROLLBACK RETRIED ")
    assert f"redeploying the revision of rollback {rollback_id} once" in page["Message"]
    assert f"CodeDeploy reported deployment {rollback_id} ended" in page["Message"]


def test_rollback_is_retried_only_once_even_if_the_retry_fails_too(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    # Given: the kit already retried CodeDeploy's stopped rollback, and the retry failed
    rollback = _codedeploy_rolling_back(world, lambda_context)
    codedeploy_gaps.complete_deployment(rollback["deploymentId"], "Stopped")
    retried = lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)
    retry_id = str(retried["rollbackDeploymentId"])
    codedeploy_gaps.complete_deployment(retry_id, "Failed")

    # When: both endings are delivered (again)
    calls.clear()
    again = lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)
    again_calls = list(calls)
    calls.clear()
    retry_failed = lambda_handler(deployment_event(retry_id), lambda_context)

    # Then: no third attempt; the deployment-failed rule pages the human
    assert (again["action"], again_calls) == (
        "skipped",
        [aws_calls.BATCH, aws_calls.LIST, aws_calls.BATCH],
    )
    assert "already retried once" in again["reason"]
    assert (retry_failed["action"], calls) == ("skipped", [aws_calls.BATCH])
    assert _created_after(world, retry_id) == []


def test_failed_release_is_left_to_codedeploy_own_rollback(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=5 * MINUTE, status="Failed", completed_ago=MINUTE)

    result = lambda_handler(deployment_event(bad), lambda_context)

    assert (result["action"], calls) == ("skipped", [aws_calls.BATCH])
    assert "not a CodeDeploy rollback" in result["reason"]


def test_deployment_event_of_another_group_makes_no_call(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    event = deployment_event("d-OTHER")
    event["detail"]["deploymentGroup"] = "someone-elses"

    result = lambda_handler(event, lambda_context)

    assert (result["action"], calls) == ("skipped", [])


def test_dry_run_reports_the_retry_and_creates_nothing(
    world: World, set_env: Callable[..., None], calls: list[str], lambda_context: Any
) -> None:
    rollback = _codedeploy_rolling_back(world, lambda_context)
    codedeploy_gaps.complete_deployment(rollback["deploymentId"], "Stopped")
    set_env(DRY_RUN="true")
    calls.clear()

    result = lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)

    assert (result["action"], calls) == (
        "would-redeploy",
        [aws_calls.BATCH, aws_calls.LIST, aws_calls.BATCH, aws_calls.METRICS, aws_calls.PUBLISH],
    )
    assert _created_after(world, rollback["deploymentId"]) == []


def test_rollback_ending_not_yet_visible_in_the_read_is_retried_later(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    # Given: CodeDeploy's STOP event for its rollback arrives while the read shows it running
    rollback = _codedeploy_rolling_back(world, lambda_context)
    world.notifications()
    calls.clear()

    with pytest.raises(RetryLater, match="reads Created"):
        lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)

    # Then: nothing created, no page; Lambda's retry decides once the ending is visible
    assert calls == [aws_calls.BATCH]
    assert _created_after(world, rollback["deploymentId"]) == []
    assert world.notifications() == []
