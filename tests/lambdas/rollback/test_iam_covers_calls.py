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
from aws_cdk.assertions import Match

from rollback.aws import RetryLater
from rollback.handler import lambda_handler
from tests.infra.conftest import service_template
from tests.lambdas.rollback.conftest import APP, GROUP, World, alarm_event, deployment_event
from tests.lambdas.rollback.test_call_counts import _baked, _running
from tests.support import codedeploy_gaps

MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def allowed_actions() -> set[str]:
    template = service_template()
    policies = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("AutoRollbackFunctionRole")}]}},
    )
    actions: set[str] = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found = statement["Action"]
            actions.update([found] if isinstance(found, str) else found)
    return actions


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


@pytest.mark.parametrize("history", [_running, _baked], ids=["stop", "redeploy"])
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
    _baked(world)
    launch = codedeploy_gaps.launch_deployment(APP, GROUP)
    with pytest.raises(RetryLater):
        lambda_handler(alarm_event(world.now - MINUTE), lambda_context)
    codedeploy_gaps.complete_deployment(launch)
    # and the retry of a CodeDeploy rollback that the alarms stopped
    world.deploy("v3", created_ago=3 * MINUTE, status="InProgress")
    lambda_handler(alarm_event(world.now - MINUTE), lambda_context)
    (rollback,) = [d for d in world.deployments() if d["creator"] == "codeDeployRollback"]
    codedeploy_gaps.complete_deployment(rollback["deploymentId"], "Stopped")
    retried = lambda_handler(deployment_event(rollback["deploymentId"], "STOP"), lambda_context)

    assert retried["action"] == "retried"
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= set(calls)
    missing = {c for c in calls if c not in allowed_actions}
    assert not missing, f"calls not allowed by the synthesized policy: {sorted(missing)}"
