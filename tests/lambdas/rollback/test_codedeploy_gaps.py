"""tests.support.codedeploy_gaps: the CodeDeploy behaviour it adds to moto matches the documentation.

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

from tests.support import codedeploy_gaps
from tests.support.rollback_world import s3_revision


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


# Automatic rollback of a failed deployment, launches, reads from several threads ----------


def _group_rolls_back_on_failure() -> None:
    codedeploy_gaps.backend().get_deployment_group("app", "group").auto_rollback_configuration = {
        "enabled": True,
        "events": ["DEPLOYMENT_FAILURE"],
    }


def _succeeded(codedeploy: Any, key: str) -> str:
    deployment_id = _create(codedeploy, key)
    codedeploy_gaps.complete_deployment(deployment_id)
    return deployment_id


def test_failed_deployment_is_rolled_back_to_the_group_last_successful_revision(
    codedeploy: Any,
) -> None:
    # Given: v1 then the bad v2 succeeded; a redeploy of v1 without its own setting fails
    _group_rolls_back_on_failure()
    _succeeded(codedeploy, "v1")
    _succeeded(codedeploy, "v2")
    redeploy = _create(codedeploy, "v1")

    codedeploy_gaps.complete_deployment(redeploy, "Failed")

    # Then: CodeDeploy's rollback reinstalls the last *successful* revision: the bad v2
    rollback_id = _info(codedeploy, redeploy)["rollbackInfo"]["rollbackDeploymentId"]
    rollback = _info(codedeploy, rollback_id)
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["revision"] == s3_revision("v2")
    assert rollback["status"] == "Created"
    assert rollback["rollbackInfo"] == {"rollbackTriggeringDeploymentId": redeploy}


def test_deployment_own_auto_rollback_setting_overrides_the_group(codedeploy: Any) -> None:
    _group_rolls_back_on_failure()
    _succeeded(codedeploy, "v1")
    _succeeded(codedeploy, "v2")
    redeploy = str(
        codedeploy.create_deployment(
            applicationName="app",
            deploymentGroupName="group",
            revision=s3_revision("v1"),
            autoRollbackConfiguration={"enabled": False},
        )["deploymentId"]
    )

    codedeploy_gaps.complete_deployment(redeploy, "Failed")

    ids = codedeploy.list_deployments(applicationName="app", deploymentGroupName="group")
    assert len(ids["deployments"]) == 3
    assert _info(codedeploy, redeploy)["rollbackInfo"] == {}


def test_failure_without_any_auto_rollback_setting_creates_nothing(codedeploy: Any) -> None:
    _succeeded(codedeploy, "v1")
    failing = _create(codedeploy, "v2")

    codedeploy_gaps.complete_deployment(failing, "Failed")

    ids = codedeploy.list_deployments(applicationName="app", deploymentGroupName="group")
    assert len(ids["deployments"]) == 2
    assert _info(codedeploy, failing)["rollbackInfo"] == {}


@pytest.mark.parametrize("creator", ["autoscaling", "CodeDeployAutoUpdate"])
def test_launch_installs_the_last_good_revision_and_holds_the_group(
    codedeploy: Any, creator: str
) -> None:
    _succeeded(codedeploy, "v1")

    launch = codedeploy_gaps.launch_deployment("app", "group", creator=creator)

    info = _info(codedeploy, launch)
    assert (info["creator"], info["status"]) == (creator, "InProgress")
    assert info["revision"] == s3_revision("v1")
    with pytest.raises(ClientError) as refused:
        _create(codedeploy, "v2")
    assert refused.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert launch in refused.value.response["Error"]["Message"]


def test_launch_needs_a_successful_revision_and_a_launch_creator(codedeploy: Any) -> None:
    with pytest.raises(ValueError, match="no successful revision"):
        codedeploy_gaps.launch_deployment("app", "group")
    with pytest.raises(ValueError, match="creator='user'"):
        codedeploy_gaps.launch_deployment("app", "group", creator="user")


def test_reads_while_other_threads_create_never_see_a_half_written_backend(
    codedeploy: Any,
) -> None:
    # Given: one thread keeps creating and completing deployments while others list them
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for number in range(40):
                codedeploy_gaps.complete_deployment(_create(codedeploy, f"w{number}"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                ids = codedeploy.list_deployments(
                    applicationName="app", deploymentGroupName="group"
                )["deployments"]
                if ids:
                    codedeploy.batch_get_deployments(deploymentIds=ids[:25])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    ids = codedeploy.list_deployments(applicationName="app", deploymentGroupName="group")
    assert len(ids["deployments"]) == 40
