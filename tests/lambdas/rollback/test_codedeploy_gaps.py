"""drill.codedeploy_gaps: the CodeDeploy behaviour it adds to moto matches the documentation.

Plain boto3 calls against moto with the gaps installed, as the rollback tests and the drill
use it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from drill import codedeploy_gaps
from tests.lambdas.rollback.conftest import s3_revision


@pytest.fixture
def codedeploy(setup_clients: dict[str, Any]) -> Iterator[Any]:
    with mock_aws(), codedeploy_gaps.install():
        client = setup_clients["codedeploy"]
        client.create_application(applicationName="app", computePlatform="Server")
        client.create_deployment_group(
            applicationName="app",
            deploymentGroupName="group",
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        )
        yield client


def _create(codedeploy: Any, key: str) -> str:
    return str(
        codedeploy.create_deployment(
            applicationName="app", deploymentGroupName="group", revision=s3_revision(key)
        )["deploymentId"]
    )


def _info(codedeploy: Any, deployment_id: str) -> dict[str, Any]:
    info: dict[str, Any] = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    return info


def _good_then_running(codedeploy: Any) -> tuple[str, str]:
    good = _create(codedeploy, "v1")
    codedeploy_gaps.complete_deployment(good)
    running = _create(codedeploy, "v2")
    codedeploy_gaps.set_status(running, "InProgress")
    return good, running


def test_stop_with_auto_rollback_redeploys_the_last_good_revision(codedeploy: Any) -> None:
    _, running = _good_then_running(codedeploy)

    answer = codedeploy.stop_deployment(deploymentId=running, autoRollbackEnabled=True)

    stopped = _info(codedeploy, running)
    rollback = _info(codedeploy, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert answer["status"] == "Succeeded"
    assert stopped["status"] == "Stopped"
    assert stopped["completeTime"] is not None
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["revision"] == s3_revision("v1")
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == running


def test_stop_without_auto_rollback_creates_no_deployment(codedeploy: Any) -> None:
    _, running = _good_then_running(codedeploy)

    codedeploy.stop_deployment(deploymentId=running)

    listed = codedeploy.list_deployments(applicationName="app", deploymentGroupName="group")
    assert len(listed["deployments"]) == 2
    assert _info(codedeploy, running)["status"] == "Stopped"


def test_stop_without_a_good_revision_only_stops(codedeploy: Any) -> None:
    first = _create(codedeploy, "v1")

    codedeploy.stop_deployment(deploymentId=first, autoRollbackEnabled=True)

    info = _info(codedeploy, first)
    assert info["status"] == "Stopped"
    assert "rollbackDeploymentId" not in info["rollbackInfo"]


@pytest.mark.parametrize("status", ["Succeeded", "Failed", "Stopped"])
def test_stop_of_a_completed_deployment_is_refused(codedeploy: Any, status: str) -> None:
    done = _create(codedeploy, "v1")
    codedeploy_gaps.complete_deployment(done, status)

    with pytest.raises(ClientError) as raised:
        codedeploy.stop_deployment(deploymentId=done, autoRollbackEnabled=True)

    assert raised.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_stop_of_an_unknown_deployment_is_refused(codedeploy: Any) -> None:
    with pytest.raises(ClientError) as raised:
        codedeploy.stop_deployment(deploymentId="d-NOPE")

    assert raised.value.response["Error"]["Code"] == "DeploymentDoesNotExistException"


def test_second_active_deployment_in_a_group_is_refused(codedeploy: Any) -> None:
    active = _create(codedeploy, "v1")

    with pytest.raises(ClientError) as raised:
        _create(codedeploy, "v2")

    assert raised.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert active in raised.value.response["Error"]["Message"]


def test_new_deployment_is_accepted_once_the_active_one_completes(codedeploy: Any) -> None:
    codedeploy_gaps.complete_deployment(_create(codedeploy, "v1"), "Failed")

    assert _create(codedeploy, "v2")


def test_concurrent_creates_in_a_group_let_exactly_one_through(codedeploy: Any) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            _create(codedeploy, "v1")
            outcomes.append("created")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["DeploymentLimitExceededException"] * 3 + ["created"]


def test_previous_revision_is_the_last_successful_one(codedeploy: Any) -> None:
    good = _create(codedeploy, "v1")
    codedeploy_gaps.complete_deployment(good)
    failed = _create(codedeploy, "v2")
    codedeploy_gaps.complete_deployment(failed, "Failed")

    latest = _create(codedeploy, "v3")

    assert _info(codedeploy, latest)["previousRevision"] == s3_revision("v1")


def test_complete_deployment_sets_status_and_complete_time(codedeploy: Any) -> None:
    deployment = _create(codedeploy, "v1")
    at = datetime.now(UTC) + timedelta(minutes=3)

    codedeploy_gaps.complete_deployment(deployment, "Succeeded", at=at)

    info = _info(codedeploy, deployment)
    assert info["status"] == "Succeeded"
    assert abs(info["completeTime"] - at) < timedelta(seconds=1)


def test_set_create_time_moves_a_deployment_out_of_a_create_time_range(codedeploy: Any) -> None:
    deployment = _create(codedeploy, "v1")
    now = datetime.now(UTC)

    codedeploy_gaps.set_create_time(deployment, now - timedelta(hours=2))

    recent = codedeploy.list_deployments(
        applicationName="app",
        deploymentGroupName="group",
        createTimeRange={"start": now - timedelta(hours=1)},
    )
    assert recent["deployments"] == []


def test_helpers_reject_statuses_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="set_status takes a running status"):
        codedeploy_gaps.set_status("d-1", "Succeeded")
    with pytest.raises(ValueError, match="completes as one of"):
        codedeploy_gaps.complete_deployment("d-1", "InProgress")


def test_completion_before_creation_is_refused(codedeploy: Any) -> None:
    deployment = _create(codedeploy, "v1")

    with pytest.raises(ValueError, match="before the deployment's createTime"):
        codedeploy_gaps.complete_deployment(deployment, at=datetime.now(UTC) - timedelta(days=1))


def test_patches_are_removed_when_the_block_ends(setup_clients: dict[str, Any]) -> None:
    with mock_aws():
        client = setup_clients["codedeploy"]
        with codedeploy_gaps.install():
            pass

        with pytest.raises(NotImplementedError):
            client.stop_deployment(deploymentId="d-1")
