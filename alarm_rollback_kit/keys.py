"""Customer managed KMS keys: the grant restriction every kit key carries, and a key for logs.

A KMS grant lets its grantee use a key outside the key policy, so a principal allowed to
call ``kms:CreateGrant`` could hand the key to anyone. The kit's keys are used directly
by services through their key policies (SNS, CloudWatch alarms, EventBridge, CloudWatch
Logs), none of which needs a grant from a person or a role; ``deny_grants_except_for_aws``
adds the deny statement the AWS Control Tower control CT.KMS.PR.3 describes: refuse
``kms:CreateGrant`` unless the grant is for an AWS resource (``kms:GrantIsForAWSResource``)
or the caller is an AWS service (``aws:PrincipalIsAWSService``) (AWS KMS Developer Guide,
"AWS global condition keys" and "kms:GrantIsForAWSResource").

``LogsKey`` encrypts log groups that hold client addresses (API access logs, VPC flow
logs). CloudWatch Logs uses the key as the regional service principal
``logs.<region>.amazonaws.com``, and the key policy limits that to log groups of this
account and Region through the ``kms:EncryptionContext:aws:logs:arn`` condition
(CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS Key
Management Service").
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


def deny_grants_except_for_aws(key: kms.IKey) -> None:
    """Deny ``kms:CreateGrant`` unless it is for an AWS resource or made by an AWS service."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],  # in a key policy "*" means this key
            # BoolIfExists: a request without the key (no grant for an AWS resource, not
            # a service) counts as "false" and is denied.
            conditions={
                "BoolIfExists": {
                    "kms:GrantIsForAWSResource": "false",
                    "aws:PrincipalIsAWSService": "false",
                }
            },
        )
    )


def kit_key(
    scope: Construct,
    id_: str,
    *,
    description: str,
    removal_policy: RemovalPolicy,
    allow: Sequence[iam.PolicyStatement],
) -> kms.Key:
    """A key as every kit key is: rotated yearly, its policy allowing ``allow`` (the services
    that use it) and refusing grants except for AWS (``deny_grants_except_for_aws``)."""
    key = kms.Key(
        scope, id_, description=description, enable_key_rotation=True, removal_policy=removal_policy
    )
    for statement in allow:
        key.add_to_resource_policy(statement)
    deny_grants_except_for_aws(key)
    return key


class LogsKey(Construct):
    """A rotating key CloudWatch Logs may use for this account's log groups in this Region."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        description: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        """``removal_policy``: match the log groups it encrypts; a retained log group is
        unreadable without its key, so the default keeps the key too."""
        super().__init__(scope, id_)
        logs_of_this_account = iam.PolicyStatement(
            sid="CloudWatchLogsOfThisAccountAndRegion",
            principals=[iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:"
                        f"{cdk.Aws.ACCOUNT_ID}:log-group:*"
                    )
                }
            },
        )
        self.key = kit_key(
            self,
            "Key",
            description=description,
            removal_policy=removal_policy,
            allow=[logs_of_this_account],
        )
