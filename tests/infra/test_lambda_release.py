"""Synth-and-assert for the order-api's Lambda releases: ``live`` aliases, CodeDeploy canary, alarms.

Synthesized once from non-default ``api.*`` release settings, passed as ``cdk synth -c``
passes them, so the deployment configuration and the canary threshold are seen flowing
from config.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.api_stack import ApiStack
from stacks.config import LAMBDA_DEPLOYMENT_CONFIGS, ConfigError, load_config
from tests.support.templates import new_app

OVERRIDES = {
    "api.deployment_config_name": "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    "api.canary_http_5xx_threshold": "3",
    "api.http_5xx_alarm_threshold": "9",
}
HANDLER = "api.handler.lambda_handler"
WORKER = "api.worker.lambda_handler"


@pytest.fixture(scope="module")
def resources() -> dict[str, dict[str, Any]]:
    app = new_app(OVERRIDES)
    stack = ApiStack(app, "order-api-release-test", config=load_config(app.node.get_all_context()))
    found: dict[str, dict[str, Any]] = Template.from_stack(stack).to_json()["Resources"]
    return found


def _of_type(resources: dict[str, dict[str, Any]], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in resources.items() if r["Type"] == type_}


def _function_id(resources: dict[str, dict[str, Any]], handler: str) -> str:
    (logical_id,) = [
        k
        for k, r in _of_type(resources, "AWS::Lambda::Function").items()
        if r["Properties"].get("Handler") == handler
    ]
    return logical_id


def _alias(resources: dict[str, dict[str, Any]], handler: str) -> tuple[str, dict[str, Any]]:
    function = _function_id(resources, handler)
    (found,) = [
        (k, r)
        for k, r in _of_type(resources, "AWS::Lambda::Alias").items()
        if r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    return found


def _group_for(resources: dict[str, dict[str, Any]], alias_id: str) -> dict[str, Any]:
    """The deployment group the alias's CodeDeploy update policy names."""
    policy = resources[alias_id]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    group_id = policy["DeploymentGroupName"]["Ref"]
    props: dict[str, Any] = resources[group_id]["Properties"]
    return props


def _alarm_by_ref(resources: dict[str, dict[str, Any]], ref: Any) -> tuple[str, dict[str, Any]]:
    """The alarm a group names: by Ref, or by a literal name (the stage alarm, see below)."""
    if isinstance(ref, str):
        (logical_id,) = [
            k
            for k, r in _of_type(resources, "AWS::CloudWatch::Alarm").items()
            if r["Properties"].get("AlarmName") == ref
        ]
    else:
        logical_id = ref["Ref"]
    return logical_id, resources[logical_id]["Properties"]


def _depends_on(resources: dict[str, dict[str, Any]], start: str) -> set[str]:
    """Every resource ``start`` depends on, by Ref, GetAtt or DependsOn, transitively."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        text = json.dumps(resources[current])
        for other in resources:
            if (
                other not in seen
                and other != current
                and (
                    f'"Ref": "{other}"' in text
                    or f'["{other}",' in text
                    or f'"{other}"' in json.dumps(resources[current].get("DependsOn", []))
                )
            ):
                seen.add(other)
                todo.append(other)
    return seen


def test_alias_and_its_deployment_group_form_no_dependency_cycle(
    resources: dict[str, dict[str, Any]],
) -> None:
    # CloudFormation refuses a template with a cycle (cfn-lint E3004 caught one: the group
    # watched the stage alarm by Ref, and the stage depends on the methods on the alias).
    for handler in (HANDLER, WORKER):
        alias_id, _ = _alias(resources, handler)
        assert alias_id not in _depends_on(resources, alias_id)


def _dims(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


@pytest.mark.parametrize("handler", [HANDLER, WORKER])
def test_each_function_publishes_a_version_behind_a_live_alias(
    resources: dict[str, dict[str, Any]], handler: str
) -> None:
    function = _function_id(resources, handler)
    _, alias = _alias(resources, handler)
    assert alias["Properties"]["Name"] == "live"
    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert resources[version_id]["Type"] == "AWS::Lambda::Version"
    assert resources[version_id]["Properties"]["FunctionName"] == {"Ref": function}


@pytest.mark.parametrize("handler", [HANDLER, WORKER])
def test_alias_is_shifted_by_a_lambda_deployment_group_with_the_configured_config(
    resources: dict[str, dict[str, Any]], handler: str
) -> None:
    alias_id, alias = _alias(resources, handler)
    policy = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    app = resources[policy["ApplicationName"]["Ref"]]
    assert app["Properties"]["ComputePlatform"] == "Lambda"
    group = _group_for(resources, alias_id)
    assert group["DeploymentConfigName"] == OVERRIDES["api.deployment_config_name"]
    assert group["DeploymentStyle"] == {
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
        "DeploymentType": "BLUE_GREEN",
    }
    assert set(group["AutoRollbackConfiguration"]["Events"]) == {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_ALARM",
        "DEPLOYMENT_STOP_ON_REQUEST",
    }
    assert group["AutoRollbackConfiguration"]["Enabled"] is True
    assert group["AlarmConfiguration"]["Enabled"] is True


def test_handler_group_watches_new_version_5xx_alias_errors_throttles_and_stage_5xx(
    resources: dict[str, dict[str, Any]],
) -> None:
    alias_id, _ = _alias(resources, HANDLER)
    function = _function_id(resources, HANDLER)
    group = _group_for(resources, alias_id)
    alarms = dict(
        _alarm_by_ref(resources, a["Name"]) for a in group["AlarmConfiguration"]["Alarms"]
    )
    by_metric = {(a["Namespace"], a["MetricName"]): (k, a) for k, a in alarms.items()}
    assert set(by_metric) == {
        ("OrderApi", "Http5xx"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "5XXError"),
    }
    # Caught 5xx of the version being released: the dimension is that version's number.
    canary_id, canary = by_metric[("OrderApi", "Http5xx")]
    version_id = resources[alias_id]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert _dims(canary) == {
        "service": "order-api",
        "version": {"Fn::GetAtt": [version_id, "Version"]},
    }
    assert canary["Threshold"] == 3
    # The alias update (which starts the deployment) waits for the alarm's update.
    assert canary_id in resources[alias_id]["DependsOn"]
    for metric in ("Errors", "Throttles"):
        _, alarm = by_metric[("AWS/Lambda", metric)]
        assert _dims(alarm) == {
            "FunctionName": {"Ref": function},
            "Resource": {"Fn::Join": ["", [{"Ref": function}, ":live"]]},
        }
        assert alarm["Threshold"] == 1
    _, stage_5xx = by_metric[("AWS/ApiGateway", "5XXError")]
    assert set(_dims(stage_5xx)) == {"ApiName", "Stage"}
    assert stage_5xx["Threshold"] == 9


def test_worker_group_watches_its_alias_errors_and_throttles(
    resources: dict[str, dict[str, Any]],
) -> None:
    alias_id, _ = _alias(resources, WORKER)
    function = _function_id(resources, WORKER)
    group = _group_for(resources, alias_id)
    alarms = [_alarm_by_ref(resources, a["Name"])[1] for a in group["AlarmConfiguration"]["Alarms"]]
    assert sorted(a["MetricName"] for a in alarms) == ["Errors", "Throttles"]
    assert all(_dims(a)["FunctionName"] == {"Ref": function} for a in alarms)


def test_sqs_event_source_invokes_the_workers_alias(resources: dict[str, dict[str, Any]]) -> None:
    alias_id, _ = _alias(resources, WORKER)
    (mapping,) = _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    # CDK names the alias as "<function name>:live", the name taken from the alias ARN.
    assert mapping["Properties"]["FunctionName"] == {
        "Fn::Join": ["", [{"Fn::Select": [6, {"Fn::Split": [":", {"Ref": alias_id}]}]}, ":live"]]
    }


def test_default_deployment_config_is_canary_10_percent_10_minutes() -> None:
    assert load_config({}).api.deployment_config_name == (
        "CodeDeployDefault.LambdaCanary10Percent10Minutes"
    )
    assert "CodeDeployDefault.LambdaCanary10Percent10Minutes" in LAMBDA_DEPLOYMENT_CONFIGS


@pytest.mark.parametrize(
    "value",
    ["CodeDeployDefault.HalfAtATime", "Canary10Percent5Minutes", "CodeDeployDefault.ECSAllAtOnce"],
)
def test_a_deployment_config_that_is_not_a_predefined_lambda_one_fails_at_synth(
    value: str,
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({"api.deployment_config_name": value})
    message = str(raised.value)
    assert f"api.deployment_config_name={value!r}" in message
    assert "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes" in message


def test_canary_threshold_below_one_fails_at_synth() -> None:
    with pytest.raises(ConfigError, match=r"api\.canary_http_5xx_threshold=0: allowed 1\.\.100000"):
        load_config({"api.canary_http_5xx_threshold": "0"})


# --- pre-traffic hook -------------------------------------------------------------------


def _hook_id(resources: dict[str, dict[str, Any]]) -> str:
    return _function_id(resources, "pretraffic.handler.lambda_handler")


def test_handler_alias_runs_the_pre_traffic_hook_before_allowing_traffic(
    resources: dict[str, dict[str, Any]],
) -> None:
    _, alias = _alias(resources, HANDLER)
    policy = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert policy["BeforeAllowTrafficHook"] == {"Ref": _hook_id(resources)}
    _, worker_alias = _alias(resources, WORKER)
    assert (
        "BeforeAllowTrafficHook" not in worker_alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    )


def test_hook_checks_the_version_the_alias_shifts_to(resources: dict[str, dict[str, Any]]) -> None:
    _, alias = _alias(resources, HANDLER)
    env = resources[_hook_id(resources)]["Properties"]["Environment"]["Variables"]
    assert env["TARGET_FUNCTION"] == {"Ref": _function_id(resources, HANDLER)}
    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert env["TARGET_VERSION"] == {"Fn::GetAtt": [version_id, "Version"]}


def test_hook_may_invoke_only_the_handlers_versions_and_report_on_its_group(
    resources: dict[str, dict[str, Any]],
) -> None:
    hook = resources[_hook_id(resources)]
    role_id = hook["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for policy in _of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {
        action: s
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    handler = _function_id(resources, HANDLER)
    invoke = by_action["lambda:InvokeFunction"]
    assert invoke["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [handler, "Arn"]}, ":*"]]}
    for action in ("codedeploy:PutLifecycleEventHookExecutionStatus", "codedeploy:GetDeployment"):
        assert "deploymentgroup:" in json.dumps(by_action[action]["Resource"])
    # GetDeployment returns no AppSpec content: the hook reads it by sha256 (the API
    # Reference's GetDeployment), on the application and nothing wider.
    assert ":application:" in json.dumps(by_action["codedeploy:GetApplicationRevision"]["Resource"])
    assert set(by_action) == {
        "lambda:InvokeFunction",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "codedeploy:GetDeployment",
        "codedeploy:GetApplicationRevision",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_hook_asset_bundles_the_documented_api_gateway_events() -> None:
    from stacks.constructs.pre_traffic_hook import EVENTS_DIR, bundled_events

    targets = {target for _, target in bundled_events()}
    assert "pretraffic/events/apigw-rest-post-orders.json" in targets
    assert len(targets) == len(list(EVENTS_DIR.glob("apigw-rest-*.json")))
