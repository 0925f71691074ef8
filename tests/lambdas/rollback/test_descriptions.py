"""Every description the rollback function sends fits CodeDeploy's 256 characters and keeps
the kit's marker, with names as long as CloudFormation makes them.

CloudFormation names an alarm or a function ``<stack>-<construct path><hash>``, cut to the
resource's limit: 255 characters for an alarm name (CloudWatch API Reference, PutMetricAlarm)
and 64 for a function name (Lambda API Reference, CreateFunction); an alias name can reach
128. CodeDeploy refuses a description over 256 characters (CodeDeploy User Guide, "Quotas"),
which ``codedeploy_gaps`` enforces, so each case also proves CreateDeployment accepted it.
The marker must survive the cut: it is what keeps the kit from undoing its own rollback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollback import descriptions
from rollback.alarm_event import AlarmEvent
from rollback.config import KIT_MARKER
from rollback.decision import Deployment, rollback_description
from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.histories import baked
from tests.support.lambda_world import APPLICATION, LambdaWorld, environment
from tests.support.lambda_world import GROUP as LAMBDA_GROUP
from tests.support.rollback_world import APP, GROUP, World, alarm_event, deployment_event

MINUTE = timedelta(minutes=1)
STACK = "order-api-sandbox-api"


def _generated(path: str, limit: int) -> str:
    """A CloudFormation-style physical name ``<stack>-<path><hash>`` of exactly ``limit``."""
    name = f"{STACK}-{path}"
    name = (name * (limit // len(name) + 1))[: limit - 13]
    return f"{name}-1A2B3C4D5E6F"[:limit]


LONG_ALARM = _generated("OrdersApiHandlerReleaseCanaryHttp5xxAlarm", 255)
LONG_FUNCTION = _generated("OrdersApiHandlerFunction", 64)
LONG_ALIAS = "live-" + "a" * 123


def _sent(world_codedeploy: Any, since: str) -> list[dict[str, Any]]:
    """The deployments created after ``since`` (the ones the function sent)."""
    ids = world_codedeploy.list_deployments(
        applicationName=APPLICATION, deploymentGroupName=LAMBDA_GROUP
    )["deployments"]
    infos = world_codedeploy.batch_get_deployments(deploymentIds=ids)["deploymentsInfo"]
    created = next(d["createTime"] for d in infos if d["deploymentId"] == since)
    return [d for d in infos if d["createTime"] > created]


def _assert_fits_and_marks(description: str, undone_id: str) -> None:
    assert len(description) <= descriptions.MAX_DESCRIPTION
    assert description.startswith(f"{KIT_MARKER} ")
    assert undone_id in description[: len(KIT_MARKER) + 60]


def test_names_are_as_long_as_cloudformation_makes_them() -> None:
    assert (len(LONG_ALARM), len(LONG_FUNCTION), len(LONG_ALIAS)) == (255, 64, 128)
    assert LONG_ALARM.startswith(f"{STACK}-OrdersApi")


def test_fit_cuts_only_the_detail_and_marks_the_cut() -> None:
    head = descriptions.rollback_head("d-ABCDEFGHI")

    cut = descriptions.fit(head, "x" * 300)
    whole = descriptions.fit(head, "short")

    assert len(cut) == descriptions.MAX_DESCRIPTION
    assert cut.startswith(f"{head}: x")
    assert cut.endswith(descriptions.CUT)
    assert whole == f"{head}: short"


def test_ec2_redeploy_description_fits_with_a_255_character_alarm_name(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(ROLLBACK_ALARM_NAMES=LONG_ALARM)
    _, bad = baked(world)

    first = lambda_handler(alarm_event(world.now - MINUTE, name=LONG_ALARM), lambda_context)
    again = lambda_handler(alarm_event(world.now - MINUTE, name=LONG_ALARM), lambda_context)

    assert first["action"] == "redeployed"
    (created,) = world.rollbacks_created_by_kit()
    _assert_fits_and_marks(created["description"], bad)
    assert Deployment.from_info(created).is_rollback
    assert (again["action"], again["deploymentId"]) == ("skipped", created["deploymentId"])


def test_ec2_retry_description_fits_and_keeps_the_retry_marker(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(ROLLBACK_ALARM_NAMES=LONG_ALARM)
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=3 * MINUTE, status="InProgress")
    lambda_handler(alarm_event(world.now - MINUTE, name=LONG_ALARM), lambda_context)
    rollback = world.codedeploy_rollback()
    codedeploy_gaps.complete_deployment(rollback["deploymentId"], "Stopped")

    retried = lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)

    assert retried["action"] == "retried"
    (created,) = world.rollbacks_created_by_kit()
    _assert_fits_and_marks(created["description"], rollback["deploymentId"])
    assert created["description"].startswith(descriptions.retry_head(rollback["deploymentId"]))


def _long_named_function(world: LambdaWorld) -> None:
    """A function with a 64-character name, versions 1 and 2 and a 128-character alias."""
    lambda_ = world.clients["lambda"]
    role = lambda_.get_function(FunctionName="order-api")["Configuration"]["Role"]
    lambda_.create_function(
        FunctionName=LONG_FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="api.handler.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    for marker in ("good", "bad"):
        lambda_.update_function_code(
            FunctionName=LONG_FUNCTION, ZipFile=b"PK\x05\x06" + marker.encode().ljust(18, b"\0")
        )
        lambda_.publish_version(FunctionName=LONG_FUNCTION, Description=marker)
    lambda_.create_alias(FunctionName=LONG_FUNCTION, Name=LONG_ALIAS, FunctionVersion="1")


def test_lambda_undo_description_fits_with_cloudformation_length_names(
    lambda_release: LambdaWorld, set_env: Any, lambda_context: Any
) -> None:
    _long_named_function(lambda_release)
    set_env(
        **{
            **environment(),
            "ROLLBACK_ALARM_NAMES": LONG_ALARM,
            "LAMBDA_FUNCTION_NAME": LONG_FUNCTION,
            "LAMBDA_ALIAS_NAME": LONG_ALIAS,
        }
    )
    bad, hook_id = gaps.start_deployment(
        APPLICATION,
        LAMBDA_GROUP,
        function_name=LONG_FUNCTION,
        alias=LONG_ALIAS,
        current_version="1",
        target_version="2",
    )
    codedeploy_gaps.set_create_time(bad, lambda_release.now - 12 * MINUTE)
    lambda_release.codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=bad, lifecycleEventHookExecutionId=hook_id, status="Succeeded"
    )
    gaps.finish_deployment(bad, at=lambda_release.now - 4 * MINUTE)
    event = alarm_event(lambda_release.now - MINUTE, name=LONG_ALARM)

    first = lambda_handler(event, lambda_context)
    again = lambda_handler(event, lambda_context)

    assert first["action"] == "redeployed"
    (undo,) = _sent(lambda_release.codedeploy, bad)
    _assert_fits_and_marks(undo["description"], bad)
    spec = gaps.appspec_of(lambda_release.codedeploy, undo["deploymentId"])
    props = spec["Resources"][0][LONG_FUNCTION]["Properties"]
    assert (props["Alias"], props["CurrentVersion"], props["TargetVersion"]) == (
        LONG_ALIAS,
        "2",
        "1",
    )
    assert (again["action"], again["deploymentId"]) == ("skipped", undo["deploymentId"])


@pytest.mark.parametrize("source", ["d-GOODGOODG", None], ids=["source", "previous-revision"])
def test_every_description_builder_stays_within_the_limit(source: str | None) -> None:
    alarm = AlarmEvent(
        alarm_name=LONG_ALARM,
        state="ALARM",
        previous_state="OK",
        reason="Threshold Crossed",
        timestamp=datetime(2026, 3, 12, 14, 47, tzinfo=UTC),
        alarm_arn=None,
        event_id=None,
        reason_data={},
    )

    text = rollback_description("d-BADBADBAD", alarm, source)

    _assert_fits_and_marks(text, "d-BADBADBAD")


def test_codedeploy_gap_refuses_a_description_over_256_characters(world: World) -> None:
    revision = {
        "revisionType": "S3",
        "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"},
    }

    with pytest.raises(ClientError) as refused:
        world.codedeploy.create_deployment(
            applicationName=APP, deploymentGroupName=GROUP, revision=revision, description="x" * 257
        )

    assert refused.value.response["Error"]["Code"] == "DescriptionTooLongException"
    accepted = world.codedeploy.create_deployment(
        applicationName=APP, deploymentGroupName=GROUP, revision=revision, description="x" * 256
    )
    assert json.dumps(accepted["deploymentId"])
