"""A Slack channel that receives the pages: AWS Chatbot (Amazon Q Developer in chat applications).

The channel configuration subscribes to the given SNS topics, so the rollback decisions and
P1 alarms that page on-call also land in the team's channel. The Slack workspace must be
authorized once in the console first; CloudFormation cannot do that step
(AWS::Chatbot::SlackChannelConfiguration, CloudFormation Template Reference).

The channel only reads: its role has no policies, and the guardrail caps whatever a member's
role could do from the channel at read-only CloudWatch. Without a guardrail AWS applies
AdministratorAccess as the channel's ceiling (same reference, GuardrailPolicies).
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import ChatConfig, ConfigError

# ConfigurationName: ^[A-Za-z0-9-_]+$, at most 128 characters (same reference).
_NAME_MAX = 128


class SlackChannel(Construct):
    """``channel``: the Slack channel configuration subscribed to ``topics``."""

    def __init__(
        self, scope: Construct, id_: str, *, config: ChatConfig, topics: Sequence[sns.ITopic]
    ) -> None:
        super().__init__(scope, id_)
        if not config.enabled:
            raise ConfigError("chat.slack_workspace_id", "", "a Slack workspace id for a channel")
        self.channel = chatbot.SlackChannelConfiguration(
            self,
            "Channel",
            # A physical name is required; derived from the construct path, so it is
            # unique per stack and stable across deploys.
            slack_channel_configuration_name=cdk.Names.unique_resource_name(
                self, max_length=_NAME_MAX, separator="-"
            ),
            slack_workspace_id=config.slack_workspace_id,
            slack_channel_id=config.slack_channel_id,
            notification_topics=list(topics),
            guardrail_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchReadOnlyAccess")
            ],
            logging_level=chatbot.LoggingLevel.ERROR,
        )
