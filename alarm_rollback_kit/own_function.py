"""A Lambda function with its own log group and its own role: the kit's one way to make one.

Every function the kit and its sample stacks create (the rollback function, the order-api
handler and worker, the pre-traffic hook) gets a log group it owns, with a bounded
retention and retained on ``cdk destroy`` (it may be an incident's only record), and a role
of its own that may write to that log group and nowhere else, instead of
AWSLambdaBasicExecutionRole, whose log permissions span every log group in the account.
The runtime and architecture are chosen here once: Python 3.14 (cdk-nag's AwsSolutions-L1
wants the latest runtime) on arm64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True)
class OwnFunction:
    """The function, its role and its log group, for grants and acknowledgments."""

    function: lambda_.Function
    role: iam.Role
    log_group: logs.LogGroup


def own_function(
    scope: Construct,
    id_: str,
    *,
    logs_id: str,
    role_id: str,
    role_description: str,
    retention: logs.RetentionDays,
    encryption_key: kms.IKey | None = None,
    **function_props: Any,
) -> OwnFunction:
    """``lambda_.Function(scope, id_, **function_props)`` with its own log group and role.

    ``logs_id`` and ``role_id`` are the children's construct ids, passed in so that every
    existing function keeps its resources' logical ids.
    """
    log_group = logs.LogGroup(
        scope,
        logs_id,
        retention=retention,
        encryption_key=encryption_key,
        removal_policy=RemovalPolicy.RETAIN,
    )
    role = iam.Role(
        scope,
        role_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    function = lambda_.Function(
        scope,
        id_,
        role=role,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        log_group=log_group,
        **function_props,
    )
    return OwnFunction(function=function, role=role, log_group=log_group)
