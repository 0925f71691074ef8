"""A RollbackFunction over a Lambda group and alias imported from another stack: the
environment and IAM come from CDK's interfaces alone, and GetAlias is granted on the
function's unqualified ARN (Lambda authorizes GetAlias on the function resource: AWS Lambda
Developer Guide, "Fine-tuning the Resources and Conditions sections of policies")."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template

from alarm_rollback_kit.config import RollbackConfig
from alarm_rollback_kit.rollback_function import RollbackFunction
from tests.support.bare import ACCOUNT, REGION, bare_stack

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:shop-api"
GROUP_ARN_PART = "deploymentgroup:shop-api-releases/shop-api-live"


def _imported_template() -> Template:
    stack = bare_stack()
    version = lambda_.Version.from_version_arn(stack, "Version", f"{FUNCTION_ARN}:7")
    alias = lambda_.Alias.from_alias_attributes(
        stack, "Alias", alias_name="live", alias_version=version
    )
    group = codedeploy.LambdaDeploymentGroup.from_lambda_deployment_group_attributes(
        stack,
        "Group",
        application=codedeploy.LambdaApplication.from_lambda_application_name(
            stack, "Application", "shop-api-releases"
        ),
        deployment_group_name="shop-api-live",
    )
    alarm = cw.Alarm(
        stack,
        "Errors",
        metric=alias.metric_errors(),
        threshold=1,
        evaluation_periods=1,
    )
    RollbackFunction(
        stack,
        "Rollback",
        deployment_group=group,
        alias=alias,
        alarms=[alarm],
        config=RollbackConfig(),
    )
    return Template.from_stack(stack)


def _statement(template: Template, action: str) -> dict[str, Any]:
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            if action in ([actions] if isinstance(actions, str) else actions):
                found: dict[str, Any] = statement
                return found
    raise AssertionError(f"no statement allows {action}")


def test_get_alias_is_granted_on_the_unqualified_function_arn_and_the_alias() -> None:
    template = _imported_template()

    resources = _statement(template, "lambda:GetAlias")["Resource"]

    assert resources == [FUNCTION_ARN, f"{FUNCTION_ARN}:live"]


def test_imported_lambda_group_is_stopped_and_undone_on_its_own_arn() -> None:
    template = _imported_template()

    statement = _statement(template, "codedeploy:StopDeployment")

    assert GROUP_ARN_PART in str(statement["Resource"])
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "TARGET_TYPE": "LAMBDA",
                        "LAMBDA_FUNCTION_NAME": "shop-api",
                        "LAMBDA_ALIAS_NAME": "live",
                        "DEPLOYMENT_GROUP_NAME": "shop-api-live",
                    }
                )
            }
        },
    )
