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
    release_world,  # noqa: F401
)


def _put(world: ReleaseWorld, deployment_id: str, execution_id: str, status: str) -> Any:
    return world.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )


def test_deployment_revision_is_the_lambda_appspec(release_world: ReleaseWorld) -> None:  # noqa: F811
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
    release_world: ReleaseWorld,  # noqa: F811
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
    release_world: ReleaseWorld,  # noqa: F811
) -> None:
    deployment_id, execution_id = release_world.start()
    _put(release_world, deployment_id, execution_id, "Failed")
    info = release_world.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Failed"
    with pytest.raises(ValueError, match="cannot succeed"):
        gaps.finish_deployment(deployment_id, "Succeeded")


def test_stopped_shift_leaves_the_alias_on_the_current_version(
    release_world: ReleaseWorld,  # noqa: F811
) -> None:
    deployment_id, execution_id = release_world.start()
    _put(release_world, deployment_id, execution_id, "Succeeded")
    gaps.finish_deployment(deployment_id, "Stopped")
    alias = release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"


def test_invoking_a_version_or_its_alias_runs_that_versions_callable(
    release_world: ReleaseWorld,  # noqa: F811
) -> None:
    gaps.register_version(FUNCTION, "1", lambda event, ctx: {"v": 1, "ctx": ctx.function_version})
    gaps.register_version(FUNCTION, "2", lambda event, ctx: {"v": 2, "echo": event})
    client = release_world.lambda_client

    by_version = client.invoke(FunctionName=FUNCTION, Qualifier="2", Payload=b'{"a": 1}')
    by_alias = client.invoke(FunctionName=FUNCTION, Qualifier="live", Payload=b"{}")

    assert json.loads(by_version["Payload"].read()) == {"v": 2, "echo": {"a": 1}}
    assert json.loads(by_alias["Payload"].read()) == {"v": 1, "ctx": "1"}


def test_an_exception_is_returned_as_lambda_reports_an_unhandled_error(
    release_world: ReleaseWorld,  # noqa: F811
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
    release_world: ReleaseWorld,  # noqa: F811
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
