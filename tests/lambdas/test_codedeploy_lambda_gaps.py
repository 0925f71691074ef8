"""The Lambda-deployment gap-filler behaves as CodeDeploy and Lambda document it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.release_world import (
    APPLICATION,
    FUNCTION,
    ReleaseWorld,
)


def _put(world: ReleaseWorld, deployment_id: str, execution_id: str, status: str) -> Any:
    return world.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )


def test_deployment_revision_is_the_lambda_appspec(release_world: ReleaseWorld) -> None:
    deployment_id, _ = release_world.start("2")
    info = release_world.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    spec = gaps.appspec_of(release_world.codedeploy, deployment_id)
    assert spec["version"] == 0.0
    assert spec["Resources"][0][FUNCTION] == {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Name": FUNCTION,
            "Alias": "live",
            "CurrentVersion": "1",
            "TargetVersion": "2",
        },
    }
    assert info["status"] == "InProgress"


def test_hook_status_is_answered_once_with_succeeded_or_failed_only(
    release_world: ReleaseWorld,
) -> None:
    deployment_id, execution_id = release_world.start()
    with pytest.raises(ClientError, match="InvalidLifecycleEventHookExecutionStatus"):
        _put(release_world, deployment_id, execution_id, "InProgress")
    with pytest.raises(ClientError, match="InvalidLifecycleEventHookExecutionId"):
        _put(release_world, deployment_id, "not-issued", "Succeeded")

    answer = _put(release_world, deployment_id, execution_id, "Succeeded")

    assert answer["lifecycleEventHookExecutionId"] == execution_id
    with pytest.raises(ClientError, match="LifecycleEventAlreadyCompleted"):
        _put(release_world, deployment_id, execution_id, "Failed")


def test_failed_hook_fails_the_deployment_and_it_cannot_then_succeed(
    release_world: ReleaseWorld,
) -> None:
    deployment_id, execution_id = release_world.start()
    _put(release_world, deployment_id, execution_id, "Failed")
    info = release_world.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed"
    with pytest.raises(ValueError, match="cannot succeed"):
        gaps.finish_deployment(deployment_id, "Succeeded")


def test_stopped_shift_leaves_the_alias_on_the_current_version(
    release_world: ReleaseWorld,
) -> None:
    deployment_id, execution_id = release_world.start()
    _put(release_world, deployment_id, execution_id, "Succeeded")
    gaps.finish_deployment(deployment_id, "Stopped")
    alias = release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"


def test_invoking_a_version_or_its_alias_runs_that_versions_callable(
    release_world: ReleaseWorld,
) -> None:
    gaps.register_version(FUNCTION, "1", lambda event, ctx: {"v": 1, "ctx": ctx.function_version})
    gaps.register_version(FUNCTION, "2", lambda event, ctx: {"v": 2, "echo": event})
    client = release_world.lambda_client

    by_version = client.invoke(FunctionName=FUNCTION, Qualifier="2", Payload=b'{"a": 1}')
    by_alias = client.invoke(FunctionName=FUNCTION, Qualifier="live", Payload=b"{}")

    assert json.loads(by_version["Payload"].read()) == {"v": 2, "echo": {"a": 1}}
    assert json.loads(by_alias["Payload"].read()) == {"v": 1, "ctx": "1"}


def test_an_exception_is_returned_as_lambda_reports_an_unhandled_error(
    release_world: ReleaseWorld,
) -> None:
    def boom(event: Any, ctx: Any) -> Any:
        raise KeyError("order_id")

    gaps.register_version(FUNCTION, "2", boom)
    answer = release_world.lambda_client.invoke(FunctionName=FUNCTION, Qualifier="2", Payload=b"{}")

    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    payload = json.loads(answer["Payload"].read())
    assert (payload["errorType"], payload["errorMessage"]) == ("KeyError", "'order_id'")
    assert payload["stackTrace"]


def test_appspec_content_reads_back_null_and_only_get_application_revision_has_it(
    release_world: ReleaseWorld,
) -> None:
    deployment_id, _ = release_world.start("2")
    content = gaps.lambda_appspec(FUNCTION, "live", "1", "2")
    codedeploy = release_world.codedeploy

    got = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["revision"]
    (batch,) = codedeploy.batch_get_deployments(deploymentIds=[deployment_id])["deploymentsInfo"]

    for revision in (got, batch["revision"]):
        assert revision["appSpecContent"] == {"sha256": gaps.sha256(content)}
    assert gaps.appspec_of(codedeploy, deployment_id) == json.loads(content)
    with pytest.raises(ClientError) as refused:
        codedeploy.get_application_revision(
            applicationName=APPLICATION,
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "0" * 64}},
        )
    assert refused.value.response["Error"]["Code"] == "RevisionDoesNotExistException"


def _shifting(world: ReleaseWorld) -> str:
    """A deployment past its hook with 10% of the alias's traffic on version 2."""
    deployment_id, execution_id = world.start("2")
    _put(world, deployment_id, execution_id, "Succeeded")
    gaps.shift_traffic(deployment_id, 10)
    return deployment_id


def _alias(world: ReleaseWorld) -> dict[str, Any]:
    found: dict[str, Any] = world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    return found


def test_traffic_shift_weights_the_alias_towards_the_target_version(
    release_world: ReleaseWorld,
) -> None:
    _shifting(release_world)
    alias = _alias(release_world)
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}


def test_stop_with_rollback_ends_stopped_and_a_rollback_shifts_the_alias_back(
    release_world: ReleaseWorld,
) -> None:
    deployment_id = _shifting(release_world)
    codedeploy = release_world.codedeploy

    answer = codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)

    assert answer["status"] == "Succeeded"
    stopped = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    rollback_id = stopped["rollbackInfo"]["rollbackDeploymentId"]
    rollback = codedeploy.get_deployment(deploymentId=rollback_id)["deploymentInfo"]
    assert stopped["status"] == "Stopped"
    assert (rollback["creator"], rollback["status"]) == ("codeDeployRollback", "InProgress")
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment_id
    # The alias goes back only when CodeDeploy's rollback deployment finishes.
    assert _alias(release_world)["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    gaps.finish_deployment(rollback_id)
    alias = _alias(release_world)
    assert (alias["FunctionVersion"], alias.get("RoutingConfig")) == ("1", None)
    with pytest.raises(ClientError, match="DeploymentAlreadyCompleted"):
        codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)


def test_stop_without_rollback_leaves_the_alias_weighted(
    release_world: ReleaseWorld,
) -> None:
    deployment_id = _shifting(release_world)

    release_world.codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=False)

    assert gaps.rollback_of(deployment_id) is None
    assert _alias(release_world)["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}


def test_pending_stop_keeps_the_deployment_running_until_it_lands(
    release_world: ReleaseWorld,
) -> None:
    deployment_id = _shifting(release_world)
    gaps.stop_answers("Pending")
    codedeploy = release_world.codedeploy

    answer = codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)

    assert answer["status"] == "Pending"
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "InProgress"
    rollback_id = gaps.complete_stop(deployment_id)
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Stopped"
    assert info["rollbackInfo"]["rollbackDeploymentId"] == rollback_id
    with pytest.raises(ValueError, match="answers one of"):
        gaps.stop_answers("Forced")
