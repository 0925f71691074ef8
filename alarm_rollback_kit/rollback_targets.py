"""What the rollback function is told about the deployment group it rolls back, and may do to it.

The function handles two kinds of CodeDeploy group (``TARGET_TYPE`` in its environment, so
it never guesses):

- ``Ec2Target``: an in-place server group behind an ALB. The function stops a running
  deployment (StopDeployment with automatic rollback) or redeploys the previous revision,
  and diagnoses from the ALB's metrics, so it is told the load balancer's and target
  group's CloudWatch dimensions (``app/<name>/<id>``, ``targetgroup/<name>/<id>``, derived
  from the ARNs when they are imported, as CDK derives an imported load balancer's metrics).
- ``LambdaTarget``: a Lambda group shifting an alias. The function stops a running
  deployment with rollback, as for EC2 (AWS documents no interval at which CodeDeploy polls
  the group's alarms, so it does not wait for them); after a succeeded one it reads its
  AppSpec (GetApplicationRevision), checks the alias (GetAlias) and creates the undo with
  ``CodeDeployDefault.LambdaAllAtOnce``. No GetMetricData: there is no ALB to diagnose.

Each target gives the environment variables and the IAM statements for exactly those
calls, every one on the resource it touches (CodeDeploy authorizes deployment calls on the
group, revisions on the application and configurations on the configuration: Service
Authorization Reference, "Actions, resources, and condition keys for AWS CodeDeploy").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Generic, TypeVar

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from alarm_rollback_kit.deployment import deploy_permissions

# What the function reads from its environment and names in its calls is defined once, in
# the function's own modules (deployed alone as the Lambda asset, they cannot import these);
# imported by name for the reason alarms.py gives.
_function_config = importlib.import_module("alarm_rollback_kit.functions.rollback.config")
_lambda_target = importlib.import_module("alarm_rollback_kit.functions.rollback.lambda_target")
# TARGET_TYPE values.
EC2: str = _function_config.EC2
LAMBDA: str = _function_config.LAMBDA
# The configuration the Lambda undo names in CreateDeployment.
LAMBDA_ALL_AT_ONCE: str = _lambda_target.ALL_AT_ONCE


def _arn_resource(arn: str) -> str:
    """The resource part of an ELB ARN (``arn:aws:elasticloadbalancing:r:a:<resource>``)."""
    if cdk.Token.is_unresolved(arn):
        return cdk.Fn.select(5, cdk.Fn.split(":", arn))
    return arn.split(":", 5)[5]


def load_balancer_full_name(load_balancer: elbv2.IApplicationLoadBalancer) -> str:
    """``app/<name>/<id>``, the ``LoadBalancer`` dimension of ALB metrics."""
    if isinstance(load_balancer, elbv2.ApplicationLoadBalancer):
        return load_balancer.load_balancer_full_name
    # ARN resource: loadbalancer/app/<name>/<id> (ELB User Guide, CloudWatch metrics).
    resource = _arn_resource(load_balancer.load_balancer_arn)
    if cdk.Token.is_unresolved(resource):
        return cdk.Fn.select(1, cdk.Fn.split("loadbalancer/", resource))
    return resource.removeprefix("loadbalancer/")


def target_group_full_name(target_group: elbv2.IApplicationTargetGroup) -> str:
    """``targetgroup/<name>/<id>``, the ``TargetGroup`` dimension of ALB metrics."""
    if isinstance(target_group, elbv2.ApplicationTargetGroup):
        return target_group.target_group_full_name
    return _arn_resource(target_group.target_group_arn)


def _on_group(group_arn: str) -> iam.PolicyStatement:
    """The calls authorized on the group itself."""
    return iam.PolicyStatement(
        actions=[
            "codedeploy:ListDeployments",
            "codedeploy:BatchGetDeployments",
            "codedeploy:StopDeployment",
            # The rollback overrides the group's alarm configuration (the alarm that
            # triggered it is still in ALARM), which CodeDeploy authorizes as
            # UpdateDeploymentGroup (API Reference, CreateDeployment).
            "codedeploy:UpdateDeploymentGroup",
        ],
        resources=[group_arn],
    )


Group = TypeVar("Group", codedeploy.IServerDeploymentGroup, codedeploy.ILambdaDeploymentGroup)


@dataclass(frozen=True)
class _Target(Generic[Group]):
    """What both kinds share: the group (of the kind's type), its application and name."""

    deployment_group: Group

    @property
    def application_name(self) -> str:
        return self.deployment_group.application.application_name

    @property
    def group_name(self) -> str:
        return self.deployment_group.deployment_group_name


@dataclass(frozen=True)
class Ec2Target(_Target[codedeploy.IServerDeploymentGroup]):
    load_balancer: elbv2.IApplicationLoadBalancer
    target_group: elbv2.IApplicationTargetGroup

    type_name = EC2
    reads_metrics = True

    def environment(self) -> dict[str, str]:
        return {
            "LOAD_BALANCER_FULL_NAME": load_balancer_full_name(self.load_balancer),
            "TARGET_GROUP_FULL_NAME": target_group_full_name(self.target_group),
        }

    def statements(self) -> list[iam.PolicyStatement]:
        group_arn = self.deployment_group.deployment_group_arn
        return [_on_group(group_arn), *deploy_permissions(self.deployment_group)]


@dataclass(frozen=True)
class LambdaTarget(_Target[codedeploy.ILambdaDeploymentGroup]):
    alias: lambda_.IAlias

    type_name = LAMBDA
    reads_metrics = False

    def environment(self) -> dict[str, str]:
        return {
            "LAMBDA_FUNCTION_NAME": self.alias.version.lambda_.function_name,
            "LAMBDA_ALIAS_NAME": self.alias.alias_name,
        }

    def statements(self) -> list[iam.PolicyStatement]:
        group = self.deployment_group
        stack = cdk.Stack.of(group)
        all_at_once = stack.format_arn(
            service="codedeploy",
            resource="deploymentconfig",
            resource_name=LAMBDA_ALL_AT_ONCE,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        return [
            _on_group(group.deployment_group_arn),
            # The undo's CreateDeployment names the all-at-once configuration, not the
            # group's. GetApplicationRevision also reads the release's AppSpec content by
            # its sha256 (GetDeployment returns none); whether CreateDeployment of an
            # AppSpecContent revision registers it is not documented: allowed, as for S3.
            *deploy_permissions(group, deployment_config_arn=all_at_once),
            # The alias must still point at the bad version before the undo moves it. Lambda
            # authorizes GetAlias on the function (Lambda Developer Guide, "Fine-tuning the
            # Resources and Conditions sections of policies"): the unqualified function ARN;
            # the alias ARN too, in case a request is matched against it.
            iam.PolicyStatement(
                actions=["lambda:GetAlias"],
                resources=[self.alias.version.lambda_.function_arn, self.alias.function_arn],
            ),
        ]


RollbackTarget = Ec2Target | LambdaTarget


def rollback_target(
    deployment_group: codedeploy.IServerDeploymentGroup | codedeploy.ILambdaDeploymentGroup,
    *,
    load_balancer: elbv2.IApplicationLoadBalancer | None,
    target_group: elbv2.IApplicationTargetGroup | None,
    alias: lambda_.IAlias | None,
) -> RollbackTarget:
    """The target the arguments describe: a Lambda group comes with its alias, a server
    group with its load balancer and target group, never both."""
    if alias is not None:
        if load_balancer is not None or target_group is not None:
            raise ValueError(
                "RollbackFunction: alias (a Lambda deployment group) takes no load_balancer "
                "or target_group; those belong to a server deployment group"
            )
        return LambdaTarget(deployment_group, alias)  # type: ignore[arg-type]
    if load_balancer is None or target_group is None:
        raise ValueError(
            "RollbackFunction needs load_balancer and target_group with a server "
            "deployment group, or alias with a Lambda deployment group"
        )
    return Ec2Target(deployment_group, load_balancer, target_group)  # type: ignore[arg-type]
