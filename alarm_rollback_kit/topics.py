"""An SNS topic that CloudWatch alarms can publish to while it is encrypted and TLS-only.

Alarms (and EventBridge rules) can publish to an encrypted topic only with a customer
managed key whose policy lets ``cloudwatch.amazonaws.com`` (``events.amazonaws.com``) use it; the AWS managed ``alias/aws/sns`` key does not
(SNS Developer Guide, "Encryption at rest": CloudWatch alarms). Refusing plain HTTP adds a
topic policy, and a topic policy replaces SNS's default one, so the policy must also let
CloudWatch alarms of this account publish, or every alarm action fails with "not
authorized to perform SNS:Publish". Nothing here needs a KMS grant, so the key refuses
grants that are not for an AWS resource (``keys.deny_grants_except_for_aws``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from alarm_rollback_kit.compliance import KitConstruct
from alarm_rollback_kit.keys import kit_key


class AlarmTopic(KitConstruct):
    """``topic`` and its ``key``; optional e-mail subscription."""

    def __init__(self, scope: Construct, id_: str, *, display_name: str, email: str = "") -> None:
        super().__init__(scope, id_)
        publishers = iam.PolicyStatement(
            # EventBridge rules with this topic as target need the key too.
            principals=[
                iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                iam.ServicePrincipal("events.amazonaws.com"),
            ],
            # GenerateDataKey* is the documented form for this key policy statement.
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
        )
        self.key = kit_key(
            self,
            "Key",
            description=f"Encrypts the '{display_name}' topic",
            removal_policy=RemovalPolicy.DESTROY,
            allow=[publishers],
        )
        self.topic = sns.Topic(
            self, "Topic", display_name=display_name, master_key=self.key, enforce_ssl=True
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{cdk.Aws.PARTITION}:cloudwatch:"
                        f"{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:alarm:*"
                    },
                },
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
