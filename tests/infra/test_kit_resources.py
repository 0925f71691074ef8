"""AutoRollback over created and over imported resources, and its two parts used apart.

cdk-monitoring-constructs tests its monitors both ways; so does this module. Created
resources give CloudFormation attributes (``Fn::GetAtt``); imported ones give only
ARNs and names, from which the kit derives the CloudWatch dimensions the way CDK derives
an imported load balancer's metrics.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cw
from aws_cdk.assertions import Match, Template

from alarm_rollback_kit import AutoRollback, RollbackAlarms, RollbackConfig, RollbackFunction
from tests.support.bare import (
    APPLICATION,
    GROUP,
    bare_stack,
    created_service,
    imported_service,
)

FUNCTION = "AWS::Lambda::Function"


def _env(template: Template) -> dict[str, Any]:
    (function,) = template.find_resources(FUNCTION).values()
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def _alarm_rule(template: Template) -> dict[str, Any]:
    rules = template.find_resources(
        "AWS::Events::Rule", {"Properties": {"EventPattern": {"source": ["aws.cloudwatch"]}}}
    )
    (rule,) = rules.values()
    props: dict[str, Any] = rule["Properties"]
    return props


@pytest.fixture(scope="module")
def created() -> tuple[AutoRollback, Template]:
    stack = bare_stack()
    kit = AutoRollback(stack, "AutoRollback", **created_service(stack))
    return kit, Template.from_stack(stack)


@pytest.fixture(scope="module")
def imported() -> tuple[AutoRollback, Template]:
    stack = bare_stack()
    kit = AutoRollback(stack, "AutoRollback", **imported_service(stack))
    return kit, Template.from_stack(stack)


def test_created_resources_give_the_function_their_attributes(
    created: tuple[AutoRollback, Template],
) -> None:
    _, template = created
    env = _env(template)
    assert env["LOAD_BALANCER_FULL_NAME"]["Fn::GetAtt"][1] == "LoadBalancerFullName"
    assert env["TARGET_GROUP_FULL_NAME"]["Fn::GetAtt"][1] == "TargetGroupFullName"


def test_created_deployment_group_gets_the_rollback_alarms(
    created: tuple[AutoRollback, Template],
) -> None:
    kit, template = created
    assert kit.attached_to_deployment_group
    template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup",
        {
            "AlarmConfiguration": {
                "Enabled": True,
                "Alarms": [{"Name": {"Ref": Match.any_value()}}] * len(kit.rollback_alarms),
            }
        },
    )


def test_imported_resources_give_the_function_names_derived_from_their_arns(
    imported: tuple[AutoRollback, Template],
) -> None:
    _, template = imported
    env = _env(template)
    assert env["LOAD_BALANCER_FULL_NAME"] == "app/shop-web/50dc6c495c0c9188"
    assert env["TARGET_GROUP_FULL_NAME"] == "targetgroup/shop-web/73e2d6bc24d8a067"
    assert (env["APPLICATION_NAME"], env["DEPLOYMENT_GROUP_NAME"]) == (APPLICATION, GROUP)


def test_imported_alb_alarms_use_its_load_balancer_dimension(
    imported: tuple[AutoRollback, Template],
) -> None:
    kit, template = imported
    props = template.to_json()["Resources"]
    count = next(
        r["Properties"] for k, r in props.items() if k.startswith("AutoRollbackElb5xxCount")
    )
    errors = next(q for q in count["Metrics"] if q["Id"] == "errors")["MetricStat"]["Metric"]
    assert errors["MetricName"] == "HTTPCode_ELB_5XX_Count"
    assert errors["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": "app/shop-web/50dc6c495c0c9188"}
    ]
    assert kit.elb_5xx_count_alarm in kit.rollback_alarms


def test_imported_group_is_left_alone_and_the_function_may_stop_its_deployments(
    imported: tuple[AutoRollback, Template],
) -> None:
    kit, template = imported
    assert not kit.attached_to_deployment_group
    assert not template.find_resources("AWS::CodeDeploy::DeploymentGroup")
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["codedeploy:StopDeployment"]),
                                "Resource": Match.object_like(
                                    {
                                        "Fn::Join": [
                                            "",
                                            Match.array_with(
                                                [
                                                    Match.string_like_regexp(
                                                        f":deploymentgroup:{APPLICATION}/{GROUP}$"
                                                    )
                                                ]
                                            ),
                                        ]
                                    }
                                ),
                            }
                        )
                    ]
                )
            }
        },
    )


def test_imported_arns_that_are_tokens_are_split_by_cloudformation() -> None:
    stack = bare_stack()
    AutoRollback(
        stack,
        "AutoRollback",
        **imported_service(
            stack, alb_arn=cdk.Fn.import_value("AlbArn"), tg_arn=cdk.Fn.import_value("TgArn")
        ),
    )
    env = _env(Template.from_stack(stack))
    assert env["LOAD_BALANCER_FULL_NAME"] == {
        "Fn::Select": [
            1,
            {
                "Fn::Split": [
                    "loadbalancer/",
                    {"Fn::Select": [5, {"Fn::Split": [":", {"Fn::ImportValue": "AlbArn"}]}]},
                ]
            },
        ]
    }
    assert env["TARGET_GROUP_FULL_NAME"] == {
        "Fn::Select": [5, {"Fn::Split": [":", {"Fn::ImportValue": "TgArn"}]}]
    }


def test_alarms_alone_give_a_rule_for_your_own_remediation_and_no_function() -> None:
    stack = bare_stack()
    alarms = RollbackAlarms(
        stack,
        "Alarms",
        load_balancer=imported_service(stack)["load_balancer"],
        config=RollbackConfig(),
    )
    template = Template.from_stack(stack)
    assert not template.find_resources(FUNCTION)
    rule = _alarm_rule(template)
    assert "Targets" not in rule
    assert len(rule["EventPattern"]["resources"]) == len(alarms.rollback_alarms)
    assert alarms.elb_5xx_count_alarm in alarms.rollback_alarms
    # The rollback alarms plus the notify-only target 5xx alarm, nothing else.
    template.resource_count_is("AWS::CloudWatch::Alarm", len(alarms.rollback_alarms) + 1)


def test_function_alone_acts_on_alarms_of_your_own() -> None:
    stack = bare_stack()
    own = cw.Alarm(
        stack,
        "OwnAlarm",
        metric=cw.Metric(namespace="Shop", metric_name="CheckoutFailures"),
        threshold=10,
        evaluation_periods=1,
    )
    RollbackFunction(
        stack, "Rollback", **imported_service(stack), alarms=[own], config=RollbackConfig()
    )
    template = Template.from_stack(stack)
    own_id = stack.get_logical_id(own.node.default_child)  # type: ignore[arg-type]
    rule = _alarm_rule(template)
    assert rule["EventPattern"]["resources"] == [{"Fn::GetAtt": [own_id, "Arn"]}]
    assert rule["Targets"][0]["Arn"]["Fn::GetAtt"][1] == "Arn"
    assert _env(template)["ROLLBACK_ALARM_NAMES"] == {"Ref": own_id}


def test_function_without_alarms_is_refused() -> None:
    stack = bare_stack()
    with pytest.raises(ValueError, match="at least one alarm"):
        RollbackFunction(
            stack, "Rollback", **imported_service(stack), alarms=[], config=RollbackConfig()
        )
