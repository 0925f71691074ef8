"""The order-api on API Gateway (REST) + Lambda, as its own deployable stack.

A thin stack: the ``OrdersApi`` construct, the encrypted topic its alarms notify (unless
the caller passes one it already has), the kit's ``RollbackFunction`` for the handler's
Lambda deployment group (it undoes a release that has already succeeded when one of the
group's alarms fires within the bake window; the same topic hears its decisions), and the
API's URL as an output. The logic lives in the constructs; the values in
``StageConfig.api`` and, for the rollback function's guard rails (bake window, budget, dry
run), ``StageConfig.rollback``, which the service's rollback function uses too.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from constructs import Construct

from alarm_rollback_kit.rollback_function import RollbackFunction
from alarm_rollback_kit.topics import AlarmTopic
from stacks.config import StageConfig
from stacks.constructs.orders_api import OrdersApi


class ApiStack(cdk.Stack):
    """Everything ``make deploy`` puts in the sandbox for the API Gateway + Lambda variant."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: StageConfig,
        alarm_topic: sns.ITopic | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.alarm_topic = (
            alarm_topic
            or AlarmTopic(
                self, "Alarms", display_name=f"{config.service.service_name} API alarms"
            ).topic
        )
        self.api = OrdersApi(self, "OrdersApi", config=config.api, alarm_topic=self.alarm_topic)
        release = self.api.handler_release
        self.rollback = RollbackFunction(
            self,
            "HandlerRollback",
            deployment_group=release.deployment_group,
            alias=release.alias,
            # The group's own alarms: while a deployment runs CodeDeploy acts on them, after
            # it has succeeded the function does.
            alarms=release.alarms,
            config=config.rollback,
            topic=self.alarm_topic,
        )

        for name, value, description in (
            ("ApiUrl", self.api.rest_api.url, "Base URL of the order-api stage"),
            ("AlarmTopicArn", self.alarm_topic.topic_arn, "Topic the order-api alarms notify"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)
