"""The API stack's rollback function for the handler's Lambda deployment group: its rule
matches the group's alarms and invokes it, its environment names the group, function and
alias, and its IAM names exactly the group, the application, the all-at-once
configuration, the function and its alias, its table and the stack's topic."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Capture, Match, Template

from tests.support.api_template import (
    FUNCTION,
    Resources,
    of_type,
)

ROLLBACK_HANDLER = "rollback.handler.lambda_handler"


def _id(stack_resources: Resources, type_: str, prefix: str) -> str:
    (found,) = [k for k in of_type(stack_resources, type_) if k.startswith(prefix)]
    return found


def _rollback_function(stack_resources: Resources) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r["Properties"])
        for k, r in of_type(stack_resources, FUNCTION).items()
        if r["Properties"]["Handler"] == ROLLBACK_HANDLER
    ]
    return found


def test_rule_matches_each_alarm_the_handlers_group_watches_entering_alarm(
    template: Template, stack_resources: Resources
) -> None:
    watched = Capture()
    template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup",
        {
            "DeploymentConfigName": Match.string_like_regexp("Lambda"),
            "AlarmConfiguration": {"Alarms": watched, "Enabled": True},
        },
    )
    arns = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "resources": arns,
                "detail": {"state": {"value": ["ALARM"]}},
            },
            "Targets": Match.array_with(
                [
                    Match.object_like(
                        {"Arn": {"Fn::GetAtt": [_rollback_function(stack_resources)[0], "Arn"]}}
                    )
                ]
            ),
        },
    )
    # The group names each alarm (Ref, or the stage alarm's synth-time name); the rule names
    # the same alarms by ARN.
    group_alarms = [alarm["Name"] for alarm in watched.as_array()]
    rule_arns = arns.as_array()
    assert len(rule_arns) == len(group_alarms) == 4
    for name in group_alarms:
        if isinstance(name, dict):
            assert {"Fn::GetAtt": [name["Ref"], "Arn"]} in rule_arns
        else:
            assert name.endswith("-Api5xx")
            assert name in str(rule_arns)


def test_function_is_told_it_rolls_back_a_lambda_alias_and_which(
    stack_resources: Resources,
) -> None:
    _, props = _rollback_function(stack_resources)
    env = props["Environment"]["Variables"]
    alias_id = _id(stack_resources, "AWS::Lambda::Alias", "OrdersApiHandlerReleaseAlias")
    group_id = _id(
        stack_resources,
        "AWS::CodeDeploy::DeploymentGroup",
        "OrdersApiHandlerReleaseDeploymentGroup",
    )
    assert env["TARGET_TYPE"] == "LAMBDA"
    assert env["DEPLOYMENT_GROUP_NAME"] == {"Ref": group_id}
    assert env["LAMBDA_ALIAS_NAME"] == "live"
    assert env["LAMBDA_FUNCTION_NAME"] == stack_resources[alias_id]["Properties"]["FunctionName"]
    assert env["BAKE_MINUTES"] == "20"
    assert env["ROLLBACK_ALARM_NAMES"]["Fn::Join"][0] == ","
    assert "LOAD_BALANCER_FULL_NAME" not in env


def test_decisions_go_to_the_stacks_existing_alarm_topic(stack_resources: Resources) -> None:
    (topic,) = of_type(stack_resources, "AWS::SNS::Topic")
    _, props = _rollback_function(stack_resources)
    assert props["Environment"]["Variables"]["TOPIC_ARN"] == {"Ref": topic}


def _policy(stack_resources: Resources) -> list[dict[str, Any]]:
    role = _rollback_function(stack_resources)[1]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(stack_resources, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role}]
    ]
    return list(policy)


def _by_action(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        action: s["Resource"]
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }


def test_iam_names_the_group_the_application_the_config_and_the_alias(
    stack_resources: Resources,
) -> None:
    statements = _policy(stack_resources)
    by_action = _by_action(statements)
    group_id = _id(
        stack_resources,
        "AWS::CodeDeploy::DeploymentGroup",
        "OrdersApiHandlerReleaseDeploymentGroup",
    )
    alias_id = _id(stack_resources, "AWS::Lambda::Alias", "OrdersApiHandlerReleaseAlias")
    assert all(resource != "*" for s in statements for resource in _listed(s["Resource"]))
    for action in (
        "codedeploy:ListDeployments",
        "codedeploy:BatchGetDeployments",
        "codedeploy:StopDeployment",
        "codedeploy:CreateDeployment",
        "codedeploy:UpdateDeploymentGroup",
    ):
        assert "deploymentgroup:" in str(by_action[action]), action
        assert group_id in str(by_action[action]), action
    assert ":application:" in str(by_action["codedeploy:GetApplicationRevision"])
    assert ":deploymentconfig:CodeDeployDefault.LambdaAllAtOnce" in str(
        by_action["codedeploy:GetDeploymentConfig"]
    )
    # Lambda authorizes GetAlias on the function: its unqualified ARN (the alias's too).
    function_name = stack_resources[alias_id]["Properties"]["FunctionName"]
    assert by_action["lambda:GetAlias"] == [
        {"Fn::GetAtt": [function_name["Ref"], "Arn"]},
        {"Ref": alias_id},
    ]
    # No GetMetricData: there is no ALB to diagnose.
    assert "cloudwatch:GetMetricData" not in by_action


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_failed_deployments_of_the_group_page_and_reach_the_function(
    template: Template, stack_resources: Resources
) -> None:
    group_id = _id(
        stack_resources,
        "AWS::CodeDeploy::DeploymentGroup",
        "OrdersApiHandlerReleaseDeploymentGroup",
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.codedeploy"],
                    "detail": {
                        "state": ["FAILURE", "STOP"],
                        "application": Match.any_value(),
                        "deploymentGroup": [{"Ref": group_id}],
                    },
                }
            ),
            "Targets": Match.array_with(
                [
                    Match.object_like(
                        {
                            "InputTransformer": Match.object_like(
                                {
                                    "InputTemplate": Match.string_like_regexp(
                                        "the function pages: the alias may still route"
                                    )
                                }
                            )
                        }
                    )
                ]
            ),
        },
    )
