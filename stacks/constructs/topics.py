"""An SNS topic that CloudWatch alarms can publish to while it is encrypted.

Alarms can publish to an encrypted topic only with a customer managed key whose policy
lets ``cloudwatch.amazonaws.com`` use it; the AWS managed ``alias/aws/sns`` key does not
(SNS Developer Guide, "Encryption at rest": CloudWatch alarms). The topic also refuses
publishes over plain HTTP.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    """``topic`` and its ``key``; optional e-mail subscription."""

    def __init__(self, scope: Construct, id_: str, *, display_name: str, email: str = "") -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Encrypts the '{display_name}' topic",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(
            self, "Topic", display_name=display_name, master_key=self.key, enforce_ssl=True
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
