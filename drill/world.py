"""The AWS side of a drill, in process under moto: what the rollback function talks to.

``World`` starts ``mock_aws`` with ``tests.support.codedeploy_gaps`` installed and creates,
with CloudFormation-style names, what the synthesized kit declares and the function
reaches: the CodeDeploy application and group, the SNS topics (each with an SQS queue to
read notifications back), the on-failure dead-letter queue, the alarms' names (no alarm
is created: the function reads none, and ``drill.evaluator`` decides states), a CloudFront
distribution per nested-stack distribution and the EventBridge rule with the synthesized
pattern, whose target is an SQS queue standing in for the function (moto delivers to SQS
targets, not Lambda ones). The environment and pattern are the template's, resolved by
``drill.resolver``. Time is the scenario's: ``advance_to`` applies the deployment history
due by then (``drill.history``) and publishes each minute's datapoints once landed
(``drill.metric_feed``), with the dimensions the function's diagnosis asks for, in its
order (moto compares dimension lists in order).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from moto import mock_aws

from drill.assembly import ACCOUNT, REGION, Template
from drill.function import AssetFunction, DrillContext, KitInvocation
from drill.history import DeploymentHistory
from drill.metric_feed import MetricFeed
from drill.resolver import Resolver, load_balancer_attributes, physical_name
from drill.sandbox import client, sandbox_environment
from drill.scenario import HOST_COUNTS, Scenario
from drill.template import Kit
from tests.support import codedeploy_gaps

SERVICES = ("codedeploy", "cloudwatch", "cloudfront", "dynamodb", "events", "sns", "sqs")


# The managed CachingDisabled policy: the drill's distribution only needs to exist, so that
# the function's CreateInvalidation has a target.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def create_distribution(cloudfront: Any, nested: Template, distribution_id: str) -> Any:
    """A moto distribution standing for ``distribution_id`` of the nested edge stack."""
    config = nested.properties(distribution_id).get("DistributionConfig", {})
    origin = {
        "Id": "alb",
        "DomainName": "alb.drill.invalid",
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "http-only",
        },
    }
    return cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": f"drill-{nested.name}-{distribution_id}",
            "Comment": str(config.get("Comment", ""))[:128],
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "alb",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_DISABLED,
            },
        }
    )["Distribution"]


class World:
    """The mocked account for one drill run; use as a context manager."""

    def __init__(
        self,
        kit: Kit,
        scenario: Scenario,
        function: AssetFunction,
        *,
        metric_delay: timedelta,
        environment_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.kit = kit
        self.scenario = scenario
        self.function = function
        self.metric_delay = metric_delay
        self._overrides = dict(environment_overrides or {})
        self._stack = contextlib.ExitStack()
        self.clients: dict[str, Any] = {}
        self.physical: dict[tuple[str, str], dict[str, str]] = {}
        self.notes: list[str] = []
        self.environment: dict[str, str] = {}
        self.pattern: dict[str, Any] = {}
        self.history = DeploymentHistory(scenario, self.notes)

    # --- Lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> World:
        try:
            self._stack.enter_context(sandbox_environment())
            self._stack.enter_context(mock_aws())
            self._stack.enter_context(codedeploy_gaps.install())
            self._stack.enter_context(self.history.refusals.installed())
            self.clients = {name: client(name) for name in SERVICES}
            self._create()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def template(self) -> Template:
        return self.kit.template

    def _set(self, template: Template, logical_id: str, **attributes: str) -> None:
        self.physical[(template.name, logical_id)] = dict(attributes)

    # --- Creating the resources --------------------------------------------------------------

    def _create(self) -> None:
        kit, tpl = self.kit, self.template
        self.application_name = physical_name(tpl, kit.application_id)
        self.group_name = physical_name(tpl, kit.group_id)
        self._set(tpl, kit.application_id, Ref=self.application_name)
        self._set(tpl, kit.group_id, Ref=self.group_name)
        codedeploy = self.clients["codedeploy"]
        codedeploy.create_application(
            applicationName=self.application_name, computePlatform="Server"
        )
        codedeploy.create_deployment_group(
            applicationName=self.application_name,
            deploymentGroupName=self.group_name,
            deploymentConfigName=kit.restore.deployment_config_name,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{physical_name(tpl, 'CodeDeployRole')}",
        )
        if kit.load_balancer_id:
            self._set(
                tpl,
                kit.load_balancer_id,
                **load_balancer_attributes(tpl, kit.load_balancer_id, self.scenario.load_balancer),
            )
        self._create_topics()
        self._create_queues()
        self._create_distributions()
        function_name = physical_name(tpl, kit.function_id, limit=64)
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self._set(tpl, kit.function_id, Ref=function_name, Arn=self.function_arn)
        self.function_name = function_name
        for alarm in kit.alarms:
            name = physical_name(tpl, alarm.logical_id, limit=255)
            arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
            self._set(tpl, alarm.logical_id, Ref=name, Arn=arn)

        self.resolver = Resolver(kit.assembly, self.physical)
        self.environment = {
            name: str(self.resolver.resolve(value, tpl)) for name, value in kit.environment.items()
        }
        self.environment.update(self._overrides)
        if self.environment.get("IDEMPOTENCY_TABLE"):
            # The rollback function's idempotency table, keyed as the template declares it.
            self.clients["dynamodb"].create_table(
                TableName=self.environment["IDEMPOTENCY_TABLE"],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        self.pattern = self.resolver.resolve(dict(kit.rule_pattern), tpl)
        self._create_rule()
        self.history.bind(
            self.clients["codedeploy"],
            self.application_name,
            self.group_name,
            self._artifact_bucket(),
        )
        self.feed = MetricFeed(
            self.clients["cloudwatch"], self.scenario, self.metric_delay, self._dimensions
        )

    def _create_topics(self) -> None:
        sns, sqs = self.clients["sns"], self.clients["sqs"]
        self.inbox_url = sqs.create_queue(QueueName="drill-notifications")["QueueUrl"]
        inbox_arn = self._queue_arn(self.inbox_url)
        for topic_id in self.kit.topic_ids:
            name = physical_name(self.template, topic_id, limit=256)
            arn = sns.create_topic(Name=name)["TopicArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=inbox_arn)
            self._set(self.template, topic_id, Ref=arn, TopicName=name, TopicArn=arn)

    def _create_queues(self) -> None:
        sqs = self.clients["sqs"]
        # The rule's target: moto cannot invoke a Lambda target, so an SQS queue receives
        # what EventBridge would have handed to the function.
        self.target_url = sqs.create_queue(QueueName="drill-rollback-function-target")["QueueUrl"]
        self.dlq_url: str | None = None
        if self.kit.on_failure_id:
            name = physical_name(self.template, self.kit.on_failure_id, limit=80)
            self.dlq_url = sqs.create_queue(QueueName=name)["QueueUrl"]
            self._set(
                self.template,
                self.kit.on_failure_id,
                Ref=self.dlq_url,
                Arn=self._queue_arn(self.dlq_url),
                QueueName=name,
            )

    def _queue_arn(self, url: str) -> str:
        attributes = self.clients["sqs"].get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )
        return str(attributes["Attributes"]["QueueArn"])

    def _create_distributions(self) -> None:
        self.distribution_ids: list[str] = []
        for _, nested, distribution_id in self.kit.distributions:
            created = create_distribution(self.clients["cloudfront"], nested, distribution_id)
            self.distribution_ids.append(created["Id"])
            self._set(nested, distribution_id, Ref=created["Id"], Id=created["Id"])
            self.physical[(nested.name, distribution_id)]["DomainName"] = created["DomainName"]

    def _create_rule(self) -> None:
        events = self.clients["events"]
        self.rule_name = physical_name(self.template, self.kit.rule_id, limit=64)
        events.put_rule(Name=self.rule_name, EventPattern=json.dumps(self.pattern))
        events.put_targets(
            Rule=self.rule_name,
            Targets=[{"Id": "rollback-function", "Arn": self._queue_arn(self.target_url)}],
        )

    def _artifact_bucket(self) -> str:
        outputs = self.template.body.get("Outputs", {})
        for name, output in outputs.items():
            if "artifact" in name.lower():
                return str(self.resolver.resolve(output.get("Value"), self.template))
        return "drill-artifacts"

    def alarm_name(self, logical_id: str) -> str:
        return self.physical[(self.template.name, logical_id)]["Ref"]

    def alarm_arn(self, logical_id: str) -> str:
        return self.physical[(self.template.name, logical_id)]["Arn"]

    def advance_to(self, when: datetime) -> None:
        """Apply everything scheduled up to ``when`` and publish the datapoints landed by then."""
        self.history.run_due(when)
        self.feed.publish_landed(when)

    def use_series(self, scenario: Scenario) -> None:
        """Serve these series from now on (minutes already published stay as they were)."""
        self.feed.use_series(scenario)

    def _dimensions(self, metric: str) -> list[dict[str, str]]:
        dims = []
        if self.kit.load_balancer_id:
            lb = self.physical[(self.template.name, self.kit.load_balancer_id)]
            dims.append({"Name": "LoadBalancer", "Value": lb["LoadBalancerFullName"]})
        if metric in HOST_COUNTS and self.kit.target_group_id:
            tg = self.resolver.attributes(self.template, self.kit.target_group_id)
            dims.append({"Name": "TargetGroup", "Value": tg["TargetGroupFullName"]})
        return dims

    # --- Alarms and EventBridge --------------------------------------------------------------

    def put_event(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """Send an event through EventBridge; return it as the rule's target receives it."""
        self.clients["events"].put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Resources": list(event["resources"]),
                    "Detail": json.dumps(event["detail"]),
                    "Time": datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
                }
            ]
        )
        delivered = self._drain(self.target_url)
        return json.loads(delivered[0]) if delivered else None

    def _drain(self, url: str) -> list[str]:
        sqs = self.clients["sqs"]
        bodies: list[str] = []
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return bodies
            for message in batch:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def notifications(self) -> list[dict[str, str]]:
        found = []
        for body in self._drain(self.inbox_url):
            envelope = json.loads(body)
            found.append({"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]})
        return found

    # --- The function ------------------------------------------------------------------------

    def invoke(self, event: Mapping[str, Any], *, at: datetime, attempt: int) -> KitInvocation:
        """Deliver ``event`` to the rollback function at simulated time ``at``."""
        self.advance_to(at)
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event.get('id')}/{attempt}"))
        context = DrillContext(
            aws_request_id=request_id,
            function_name=self.function_name,
            invoked_function_arn=self.function_arn,
        )
        with self.history.refusals.armed():
            invocation = self.function.invoke(
                event, now=at, environment=self.environment, context=context
            )
        record = KitInvocation(
            invocation=invocation, attempt=attempt, event=dict(event), request_id=request_id
        )
        self._settle(record, at)
        record.notifications = self.notifications()
        return record

    def _settle(self, record: KitInvocation, at: datetime) -> None:
        """Put what the function created on the drill's clock (moto stamps real time)."""
        result = record.invocation.result or {}
        record.created = self.history.new_since_last_call(at)
        if result.get("action") == "stopped" and result.get("deploymentId"):
            stopped = str(result["deploymentId"])
            codedeploy_gaps.complete_deployment(stopped, "Stopped", at=at)
            record.stopped.append(stopped)
        if record.invocation.error is not None:
            record.refused = [
                {"revision": r.get("revision"), "description": r.get("description")}
                for r in self.history.refusals.requests
            ]

    def send_to_dead_letter_queue(self, record: Mapping[str, Any]) -> bool:
        if self.dlq_url is None:
            return False
        self.clients["sqs"].send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(record))
        return True

    def dead_letters(self) -> int:
        if self.dlq_url is None:
            return 0
        attributes = self.clients["sqs"].get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
