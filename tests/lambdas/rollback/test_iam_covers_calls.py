"""The synthesized IAM policy allows every call the rollback function really makes.

The calls are recorded from the handler under moto (botocore hooks, see ``calls`` in
conftest) for each kind of action, and each ``service:Operation`` must appear in the
function role's policy as synthesized by the app. moto does not enforce IAM, so without
this test a missing permission would only show in a real account, mid-incident.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from rollback.aws import RetryLater
from rollback.handler import lambda_handler
from tests.support import api_template, codedeploy_gaps
from tests.support.histories import baked, running
from tests.support.lambda_world import LAMBDA_ALARM, LambdaWorld
from tests.support.rollback_world import APP, GROUP, World, alarm_event, deployment_event, fire
from tests.support.templates import service_template

MINUTE = timedelta(minutes=1)


def _role_actions(template: Template, role: str) -> set[str]:
    """Every action the policies attached to the role whose logical id starts ``role`` allow."""
    policies = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp(f"^{role}")}]}},
    )
    assert policies, role
    actions: set[str] = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found = statement["Action"]
            actions.update([found] if isinstance(found, str) else found)
    return actions


@pytest.fixture(scope="module")
def allowed_actions() -> set[str]:
    return _role_actions(service_template(), "AutoRollbackFunctionRole")


@pytest.fixture(scope="module")
def api_allowed_actions() -> set[str]:
    """The API stack's rollback function (for the handler's Lambda group)."""
    return _role_actions(api_template.template(), "HandlerRollbackFunctionRole")


# CreateDeployment with a revision and an alarm override is authorized by these too
# (CodeDeploy API Reference / service authorization reference), though botocore sees one call.
IMPLIED = {
    "codedeploy:CreateDeployment": {
        "codedeploy:GetApplicationRevision",
        "codedeploy:RegisterApplicationRevision",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:UpdateDeploymentGroup",
    }
}


@pytest.mark.parametrize("history", [running, baked], ids=["stop", "redeploy"])
def test_every_call_of_an_acting_decision_is_allowed(
    world: World,
    set_env: Callable[..., None],
    calls: list[str],
    lambda_context: Any,
    allowed_actions: set[str],
    history: Callable[[World], None],
) -> None:
    set_env(DISTRIBUTION_ID=world.distribution())
    history(world)

    result = lambda_handler(alarm_event(world.now - MINUTE), lambda_context)

    assert result["action"] in {"stopped", "redeployed"}
    assert "cloudfront:CreateInvalidation" in calls
    missing = {c for c in calls if c not in allowed_actions}
    assert not missing, f"calls not allowed by the synthesized policy: {sorted(missing)}"
    for call in calls:
        assert IMPLIED.get(call, set()) <= allowed_actions, json.dumps(sorted(allowed_actions))


def test_calls_of_a_retried_rollback_and_a_given_back_claim_are_allowed(
    world: World, calls: list[str], lambda_context: Any, allowed_actions: set[str]
) -> None:
    # A claim given back (DeleteItem) when an Auto Scaling launch holds the group
    baked(world)
    launch = codedeploy_gaps.launch_deployment(APP, GROUP)
    with pytest.raises(RetryLater):
        lambda_handler(alarm_event(world.now - MINUTE), lambda_context)
    codedeploy_gaps.complete_deployment(launch)
    # and the retry of a CodeDeploy rollback that the alarms stopped
    world.deploy("v3", created_ago=3 * MINUTE, status="InProgress")
    lambda_handler(alarm_event(world.now - MINUTE), lambda_context)
    rollback = world.codedeploy_rollback()
    codedeploy_gaps.complete_deployment(rollback["deploymentId"], "Stopped")
    retried = lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)

    assert retried["action"] == "retried"
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= set(calls)
    missing = {c for c in calls if c not in allowed_actions}
    assert not missing, f"calls not allowed by the synthesized policy: {sorted(missing)}"


@pytest.mark.parametrize(
    ("created_ago", "completed_ago", "action", "expected_calls"),
    [
        (
            12 * MINUTE,
            4 * MINUTE,
            "redeployed",
            {"codedeploy:GetApplicationRevision", "lambda:GetAlias"},
        ),
        (3 * MINUTE, None, "stopped", {"dynamodb:PutItem", "codedeploy:StopDeployment"}),
    ],
    ids=["undo", "stop"],
)
def test_every_call_of_the_lambda_path_is_allowed(
    lambda_release: LambdaWorld,
    lambda_context: Any,
    api_allowed_actions: set[str],
    created_ago: timedelta,
    completed_ago: timedelta | None,
    action: str,
    expected_calls: set[str],
) -> None:
    lambda_release.release(created_ago=created_ago, completed_ago=completed_ago)

    result = fire(lambda_release, lambda_context, name=LAMBDA_ALARM)

    assert result["action"] == action
    # The Gateway's own record: it includes the Lambda GetAlias the botocore hooks skip.
    made = set(result["awsCalls"])
    assert expected_calls <= made
    missing = made - api_allowed_actions
    assert not missing, f"calls not allowed by the synthesized policy: {sorted(missing)}"


def test_the_lambda_undo_policy_allows_what_create_deployment_implies(
    api_allowed_actions: set[str],
) -> None:
    assert (
        IMPLIED["codedeploy:CreateDeployment"] - {"codedeploy:RegisterApplicationRevision"}
        <= api_allowed_actions
    )
