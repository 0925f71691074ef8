"""Undoing a succeeded Lambda deployment under moto and the Lambda gap-filler."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollback import lambda_target
from rollback.config import KIT_MARKER
from rollback.decision import Deployment
from tests.lambdas.pretraffic.conftest import (
    APPLICATION,
    FUNCTION,
    GROUP,
    ReleaseWorld,
    release_world,  # noqa: F401
)
from tests.support import codedeploy_lambda_gaps as gaps


def _info(world: ReleaseWorld, deployment_id: str) -> Deployment:
    (info,) = world.codedeploy.batch_get_deployments(deploymentIds=[deployment_id])[
        "deploymentsInfo"
    ]
    return Deployment.from_info(info)


def _succeeded_release(world: ReleaseWorld) -> str:
    deployment_id, execution_id = world.start("2")
    world.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status="Succeeded"
    )
    gaps.finish_deployment(deployment_id, "Succeeded")
    return deployment_id


def test_undo_of_a_succeeded_bad_release_moves_the_alias_back_all_at_once(
    release_world: ReleaseWorld,  # noqa: F811
) -> None:
    bad = _succeeded_release(release_world)
    assert (
        release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"]
        == "2"
    )

    shift = lambda_target.undo_shift(_info(release_world, bad))
    assert shift is not None
    request = lambda_target.rollback_request(
        APPLICATION, GROUP, shift, f"{KIT_MARKER} rollback of {bad}"
    )
    undo = release_world.codedeploy.create_deployment(**request)["deploymentId"]
    execution_id = gaps.track(undo)
    release_world.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=undo, lifecycleEventHookExecutionId=execution_id, status="Succeeded"
    )
    gaps.finish_deployment(undo, "Succeeded")

    assert (shift.current, shift.target) == ("2", "1")
    assert request["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    assert request["autoRollbackConfiguration"] == {"enabled": False}
    assert (
        release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"]
        == "1"
    )
    # The undo carries the marker, so it is never undone in turn.
    assert lambda_target.undo_shift(_info(release_world, undo)) is None


def test_a_codedeploy_rollback_or_an_unfinished_release_is_never_undone(
    release_world: ReleaseWorld,  # noqa: F811
) -> None:
    running, _ = release_world.start("2")
    assert lambda_target.undo_shift(_info(release_world, running)) is None
    rollback = Deployment.from_info(
        {
            "deploymentId": "d-ROLLBACK",
            "status": "Succeeded",
            "createTime": datetime(2026, 1, 1, tzinfo=UTC),
            "creator": "codeDeployRollback",
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
        }
    )
    assert lambda_target.undo_shift(rollback) is None


@pytest.mark.parametrize(
    "revision",
    [
        {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k"}},
        {"revisionType": "AppSpecContent", "appSpecContent": {"content": "not json"}},
        {
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": '{"Resources": [{"svc": {"Type": "AWS::ECS::Service", "Properties": {}}}]}'
            },
        },
    ],
)
def test_a_revision_that_is_not_a_lambda_appspec_gives_no_shift(
    revision: dict[str, object],
) -> None:
    assert lambda_target.alias_shift(revision) is None
