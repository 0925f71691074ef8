"""The rollback function on a CodeDeploy Lambda group: the alias goes back after a succeeded
bad release, with the EC2 path's rules (never a rollback, bake window, dry run, one
rollback under duplicates), under moto and the Lambda gap-filler."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from rollback.config import KIT_MARKER
from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.concurrency import gate, invoke_together
from tests.support.lambda_world import (
    ALIAS,
    APPLICATION,
    FUNCTION,
    GROUP,
    LAMBDA_ALARM,
    LambdaWorld,
    environment,
)
from tests.support.rollback_world import Hooks, World, alarm_event, deployment_event

MINUTE = timedelta(minutes=1)
UNDO_CALLS = [
    "codedeploy:ListDeployments",
    "codedeploy:BatchGetDeployments",
    "codedeploy:GetApplicationRevision",
    "lambda:GetAlias",
    "dynamodb:PutItem",
    "codedeploy:CreateDeployment",
    "sns:Publish",
]


def _alarm(world: LambdaWorld) -> dict[str, Any]:
    return alarm_event(world.now - MINUTE, name=LAMBDA_ALARM)


def _bad_release_baked(world: LambdaWorld) -> str:
    """Version 2 took the alias 4 minutes ago, inside the 30-minute bake window."""
    return world.release(created_ago=12 * MINUTE, completed_ago=4 * MINUTE)


def _created_by_function(world: LambdaWorld, since: str) -> list[dict[str, Any]]:
    infos = world.deployments()
    index = next(i for i, d in enumerate(infos) if d["deploymentId"] == since)
    return infos[index + 1 :]


def test_succeeded_bad_release_is_undone_by_an_all_at_once_alias_shift(
    lambda_release: LambdaWorld, lambda_context: Any
) -> None:
    bad = _bad_release_baked(lambda_release)
    assert lambda_release.alias_version() == "2"

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert result["action"] == "redeployed"
    assert result["awsCalls"] == UNDO_CALLS
    (undo,) = _created_by_function(lambda_release, bad)
    assert undo["deploymentId"] == result["rollbackDeploymentId"]
    assert gaps.appspec_of(lambda_release.codedeploy, undo["deploymentId"]) == {
        "version": 0.0,
        "Resources": [
            {
                FUNCTION: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": FUNCTION,
                        "Alias": ALIAS,
                        "CurrentVersion": "2",
                        "TargetVersion": "1",
                    },
                }
            }
        ],
    }
    assert undo["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    assert undo["autoRollbackConfiguration"] == {"enabled": False}
    assert undo["description"].startswith(f"{KIT_MARKER} rollback of {bad}")
    # CodeDeploy runs the undo: the alias is back on the version the bad release replaced.
    lambda_release.finish(undo["deploymentId"])
    assert lambda_release.alias_version() == "1"


def test_page_says_it_is_a_lambda_alias_undo_with_function_alias_and_versions(
    lambda_release: LambdaWorld, world: World, lambda_context: Any
) -> None:
    _bad_release_baked(lambda_release)

    lambda_handler(_alarm(lambda_release), lambda_context)

    (page,) = world.notifications()
    assert page["Subject"].startswith("ROLLED BACK order-api version 2 -> version 1")
    assert (
        f"Lambda alias undo, all at once): it shifts alias {ALIAS} of Lambda function "
        f"{FUNCTION} from version 2 back to version 1" in page["Message"]
    )
    # After the undo the stack and the alias disagree, and nothing puts them back in step.
    assert "The alias no longer matches what the CloudFormation stack declares" in (page["Message"])
    assert "check the alias before and after the next release" in page["Message"]
    decision = json.loads(page["Message"].split("--- decision (JSON) ---\n", 1)[1])
    assert decision["facts"]["aliasShift"] == {
        "function": FUNCTION,
        "alias": ALIAS,
        "fromVersion": "2",
        "toVersion": "1",
    }


def test_kit_made_undo_is_never_undone(lambda_release: LambdaWorld, lambda_context: Any) -> None:
    bad = _bad_release_baked(lambda_release)
    first = lambda_handler(_alarm(lambda_release), lambda_context)
    lambda_release.finish(first["rollbackDeploymentId"])

    again = lambda_handler(_alarm(lambda_release), lambda_context)

    assert again["action"] == "skipped"
    assert "never roll back a rollback" in again["reason"]
    assert len(_created_by_function(lambda_release, bad)) == 1
    assert lambda_release.alias_version() == "1"


def test_codedeploy_made_rollback_is_never_undone(
    lambda_release: LambdaWorld, lambda_context: Any
) -> None:
    rollback = lambda_release.release(
        created_ago=6 * MINUTE, completed_ago=5 * MINUTE, current="2", target="1"
    )
    codedeploy_gaps.get(rollback).creator = "codeDeployRollback"

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert result["action"] == "skipped"
    assert "codeDeployRollback" in result["reason"]
    assert "codedeploy:CreateDeployment" not in result["awsCalls"]
    # A rollback is never undone, so its AppSpec is not even read.
    assert "codedeploy:GetApplicationRevision" not in result["awsCalls"]


def test_release_outside_the_bake_window_is_not_undone(
    lambda_release: LambdaWorld, lambda_context: Any
) -> None:
    lambda_release.release(created_ago=50 * MINUTE, completed_ago=40 * MINUTE)

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert result["action"] == "skipped"
    assert "outside the 30-minute bake window" in result["reason"]
    assert "codedeploy:CreateDeployment" not in result["awsCalls"]
    assert lambda_release.alias_version() == "2"


def test_duplicate_alarm_events_make_one_undo(
    lambda_release: LambdaWorld, lambda_context: Any
) -> None:
    bad = _bad_release_baked(lambda_release)
    event = _alarm(lambda_release)

    results = [lambda_handler(event, lambda_context) for _ in range(3)]

    assert [r["action"] for r in results] == ["redeployed", "skipped", "skipped"]
    assert len(_created_by_function(lambda_release, bad)) == 1


def test_dry_run_makes_no_write_call(
    lambda_release: LambdaWorld, set_env: Any, lambda_context: Any
) -> None:
    bad = _bad_release_baked(lambda_release)
    set_env(**environment(), DRY_RUN="true")

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert result["action"] == "would-redeploy"
    assert result["awsCalls"] == [
        "codedeploy:ListDeployments",
        "codedeploy:BatchGetDeployments",
        "codedeploy:GetApplicationRevision",
        "lambda:GetAlias",
        "sns:Publish",
    ]
    assert _created_by_function(lambda_release, bad) == []
    assert lambda_release.alias_version() == "2"


def _running_canary(world: LambdaWorld) -> str:
    """Version 2 takes 10% of the alias's traffic; the deployment is still InProgress."""
    bad = world.release(created_ago=3 * MINUTE, completed_ago=None)
    hook_id = gaps.track(bad)
    world.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=bad, lifecycleEventHookExecutionId=hook_id, status="Succeeded"
    )
    gaps.shift_traffic(bad, 10)
    return bad


def test_running_lambda_deployment_is_stopped_with_rollback_and_the_alias_goes_back(
    lambda_release: LambdaWorld, hooks: Hooks, lambda_context: Any
) -> None:
    bad = _running_canary(lambda_release)
    stops: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        stops.append(dict(params))

    hooks.register("codedeploy", "provide-client-params.codedeploy.StopDeployment", record)

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert (result["action"], result["deploymentId"]) == ("stopped", bad)
    assert result["awsCalls"] == [
        "codedeploy:ListDeployments",
        "codedeploy:BatchGetDeployments",
        "dynamodb:PutItem",
        "codedeploy:StopDeployment",
        "sns:Publish",
    ]
    assert stops == [{"deploymentId": bad, "autoRollbackEnabled": True}]
    assert result["notified"] is True
    infos = {d["deploymentId"]: d for d in lambda_release.deployments()}
    stopped, rollback = infos[bad], infos[str(gaps.rollback_of(bad))]
    assert stopped["status"] == "Stopped"
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == bad
    # CodeDeploy's rollback deployment runs to its end: the alias is on version 1 alone.
    gaps.finish_deployment(rollback["deploymentId"])
    alias = lambda_release.clients["lambda"].get_alias(FunctionName=FUNCTION, Name=ALIAS)
    assert alias["FunctionVersion"] == "1"
    assert not (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights")


def test_duplicate_alarm_event_during_a_pending_stop_makes_no_second_stop(
    lambda_release: LambdaWorld, world: World, lambda_context: Any
) -> None:
    bad = _running_canary(lambda_release)
    gaps.stop_answers("Pending")
    event = _alarm(lambda_release)

    first = lambda_handler(event, lambda_context)
    # The stop has not landed: the deployment still reads InProgress.
    second = lambda_handler(event, lambda_context)

    assert (first["action"], first["stopStatus"]) == ("stopped", "Pending")
    assert second["action"] == "skipped"
    assert "already claimed the stop" in second["reason"]
    assert "codedeploy:StopDeployment" not in second["awsCalls"]
    assert codedeploy_gaps.get(bad).status == "InProgress"
    (page,) = world.notifications()
    assert "The stop answered Pending" in page["Message"]
    rollback = gaps.complete_stop(bad)
    assert rollback is not None
    gaps.finish_deployment(rollback)
    assert lambda_release.alias_version() == "1"


def test_deployment_codedeploy_stopped_first_is_decided_again_and_left_to_its_rollback(
    lambda_release: LambdaWorld, hooks: Hooks, lambda_context: Any
) -> None:
    # Given: the group's own alarms stop the deployment just before the kit's StopDeployment
    bad = _running_canary(lambda_release)

    def codedeploy_stops_it(**_: Any) -> None:
        lambda_release.codedeploy.stop_deployment(deploymentId=bad, autoRollbackEnabled=True)

    hooks.register(
        "codedeploy", "before-call.codedeploy.StopDeployment", codedeploy_stops_it, first=True
    )

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert result["action"] == "skipped"
    assert result["awsCalls"].count("codedeploy:StopDeployment") == 1
    assert "dynamodb:DeleteItem" in result["awsCalls"]
    creators = [d["creator"] for d in lambda_release.deployments()]
    assert creators.count("codeDeployRollback") == 1


def test_deployment_that_succeeded_while_being_stopped_is_undone(
    lambda_release: LambdaWorld, hooks: Hooks, lambda_context: Any
) -> None:
    # Given: the last shift lands between the kit's read and its StopDeployment
    bad = _running_canary(lambda_release)

    def last_shift(**_: Any) -> None:
        gaps.finish_deployment(bad, at=lambda_release.now)

    hooks.register("codedeploy", "before-call.codedeploy.StopDeployment", last_shift, first=True)

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)
    assert result["facts"]["aliasShift"]["toVersion"] == "1"


def test_deployment_of_another_alias_is_not_undone(
    lambda_release: LambdaWorld, lambda_context: Any
) -> None:
    lambda_release.clients["lambda"].create_alias(
        FunctionName=FUNCTION, Name="beta", FunctionVersion="1"
    )
    lambda_release.release(created_ago=12 * MINUTE, completed_ago=4 * MINUTE, alias="beta")

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert result["action"] == "skipped"
    assert "moves alias beta of order-api, not live of order-api" in result["reason"]
    assert result["notified"] is True
    assert "codedeploy:CreateDeployment" not in result["awsCalls"]


def test_failed_codedeploy_rollback_of_the_alias_is_paged_not_retried(
    lambda_release: LambdaWorld, world: World, lambda_context: Any
) -> None:
    rollback = lambda_release.release(
        created_ago=6 * MINUTE, completed_ago=5 * MINUTE, current="2", target="1", status="Failed"
    )
    codedeploy_gaps.get(rollback).creator = "codeDeployRollback"
    event = deployment_event(rollback)
    event["detail"].update(application=APPLICATION, deploymentGroup=GROUP)

    result = lambda_handler(event, lambda_context)

    assert result["action"] == "skipped"
    assert "check its weights" in result["reason"]
    assert "codedeploy:CreateDeployment" not in result["awsCalls"]
    (page,) = world.notifications()
    assert page["Subject"].startswith("NO ROLLBACK, HUMAN NEEDED")


@pytest.mark.parametrize(
    ("version", "weights", "where"),
    [
        ("1", {}, "version 1"),
        ("2", {"1": 0.5}, "version 2 with version 1 at 50 %"),
    ],
    ids=["moved", "weighted"],
)
def test_a_moved_alias_is_left_to_a_human_with_a_page_of_where_it_points(
    lambda_release: LambdaWorld,
    world: World,
    lambda_context: Any,
    version: str,
    weights: dict[str, float],
    where: str,
) -> None:
    bad = _bad_release_baked(lambda_release)
    # Someone moved the alias by hand since the release.
    routing = {"AdditionalVersionWeights": weights} if weights else {}
    lambda_release.clients["lambda"].update_alias(
        FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=version, RoutingConfig=routing
    )

    result = lambda_handler(_alarm(lambda_release), lambda_context)

    assert (result["action"], result["notified"]) == ("skipped", True)
    assert f"points at {where}, not only at the bad version 2" in result["reason"]
    assert _created_by_function(lambda_release, bad) == []
    (page,) = world.notifications()
    message = page["Message"]
    assert page["Subject"].startswith("NO ROLLBACK, HUMAN NEEDED")
    assert f"Alias {ALIAS} of Lambda function {FUNCTION} points at {where}; a human" in message
    assert f"alias now {where}  lambda:{FUNCTION}:{version}" in message
    # Nothing of the undo that is not happening: no from/to versions, no "back on".
    assert "back to version" not in message
    assert "The alias is back on the previous version" not in message
    decision = json.loads(message.split("--- decision (JSON) ---\n", 1)[1])
    assert "aliasShift" not in decision["facts"]
    assert decision["facts"]["aliasNow"] == {
        "function": FUNCTION,
        "alias": ALIAS,
        "version": version,
        "weights": weights,
    }


def test_concurrent_deliveries_that_all_read_first_make_one_undo(
    lambda_release: LambdaWorld, hooks: Hooks, lambda_context: Any
) -> None:
    bad = _bad_release_baked(lambda_release)
    # Every invocation has read the group and the alias before any claims the undo.
    gate(hooks, "dynamodb", "PutItem", 3)
    events = [_alarm(lambda_release) for _ in range(3)]

    results = invoke_together(lambda_handler, events, lambda_context)

    assert sorted(r["action"] for r in results) == ["redeployed", "skipped", "skipped"]
    assert len(_created_by_function(lambda_release, bad)) == 1
