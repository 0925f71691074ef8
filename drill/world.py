"""The AWS side of a drill, in process under moto: what the rollback function talks to.

``World`` starts ``mock_aws`` with ``tests.support.codedeploy_gaps`` installed and creates
what the synthesized kit declares and the function reaches, named as ``drill.resolver``
names them (CloudFormation-style): the CodeDeploy application and group, the SNS topics
(one SQS queue subscribed to read notifications back), the on-failure dead-letter queue,
the idempotency table, a CloudFront distribution per nested-stack distribution and the
EventBridge rule with the synthesized pattern, whose target is an SQS queue standing in for
the function (moto delivers to SQS targets, not Lambda ones). No alarm is created: the
function reads none, and ``drill.evaluator`` decides states. Time is the scenario's:
``advance_to`` applies the deployment history due by then (``DeploymentHistory``) and
puts each minute's ALB datapoints once landed, with the dimensions the function's diagnosis
asks for, in its order (moto compares dimension lists in order).
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from moto import mock_aws

from drill.assembly import ACCOUNT, REGION, Template
from drill.function import AssetFunction, DrillContext, KitInvocation
from drill.refusals import CreateDeploymentRefusals
from drill.resolver import Resolver, load_balancer_attributes, physical_name
from drill.sandbox import client, sandbox_environment
from drill.scenario import HOST_COUNTS, NAMESPACE, PLAIN_KEY_STATS, Deployment, Scenario, is_count
from drill.template import Kit
from tests.support import codedeploy_gaps

SERVICES = ("codedeploy", "cloudwatch", "cloudfront", "dynamodb", "events", "sns", "sqs")
PUT_METRIC_DATA_LIMIT = 1000  # datapoints per PutMetricData call

# The managed CachingDisabled policy: the drill's distribution only needs to exist, so that
# the function's CreateInvalidation has a target.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


class DeploymentHistory:
    """The group's CodeDeploy history on the drill's clock.

    The scenario's deployments are created and completed at their times (unless the kit
    stopped one first), rollbacks complete at their modelled restore time, and what the
    function created is stamped with the drill's time (moto stamps real time). The
    scenario's failing rollbacks are refused by ``drill.refusals``.
    """

    def __init__(self, scenario: Scenario, notes: list[str], codedeploy: Any, **group: str) -> None:
        self.scenario, self.notes, self._codedeploy, self._group = (
            scenario,
            notes,
            codedeploy,
            group,
        )
        self.deployment_ids: dict[str, str] = {}  # scenario version -> deployment id
        self.versions = {d.s3_key: d.version for d in scenario.deployments}  # s3 key -> version
        self.refusals = CreateDeploymentRefusals(self.rollback_fails)
        self._due: list[tuple[datetime, int, Callable[[], None]]] = []
        self._known: set[str] = set()
        for deployment in scenario.deployments:
            self._at(deployment.create_time, functools.partial(self._create, deployment))
            if deployment.complete_time is not None:
                self._at(deployment.complete_time, functools.partial(self._ended, deployment))

    def _at(self, when: datetime, run: Callable[[], None]) -> None:
        self._due.append((when, len(self._due), run))

    def run_due(self, when: datetime) -> None:
        """Apply everything scheduled up to ``when``, in time order."""
        due = sorted(item for item in self._due if item[0] <= when)
        self._due = [item for item in self._due if item[0] > when]
        for _, _, run in due:
            run()

    def _create(self, deployment: Deployment) -> None:
        location = {"bucket": self._group["bucket"], "key": deployment.s3_key, "bundleType": "zip"}
        try:
            created = self._codedeploy.create_deployment(
                applicationName=self._group["application"],
                deploymentGroupName=self._group["group"],
                revision={"revisionType": "S3", "s3Location": location},
                description=deployment.description or f"release {deployment.version}",
            )
        except ClientError as err:
            self.notes.append(
                f"{deployment.version} could not be created at "
                f"{deployment.create_time:%H:%M:%S}: {err}"
            )
            return
        deployment_id = self.deployment_ids[deployment.version] = str(created["deploymentId"])
        self._known.add(deployment_id)
        codedeploy_gaps.set_create_time(deployment_id, deployment.create_time)
        codedeploy_gaps.set_status(deployment_id, "InProgress", at=deployment.create_time)

    def _ended(self, deployment: Deployment) -> None:
        assert deployment.complete_time is not None
        deployment_id = self.deployment_ids.get(deployment.version)
        if deployment_id is not None:  # else it could not be created
            self._complete(deployment_id, deployment.status, deployment.complete_time)

    @staticmethod
    def _complete(deployment_id: str, status: str, at: datetime) -> None:
        """End a deployment unless it already ended (the kit stopped it first)."""
        if codedeploy_gaps.get(deployment_id).status in codedeploy_gaps.RUNNING_STATUSES:
            codedeploy_gaps.complete_deployment(deployment_id, status, at=at)

    def complete_rollback_at(self, deployment_id: str, at: datetime, status: str) -> None:
        self._at(at, functools.partial(self._complete, deployment_id, status, at))

    def named_in(self, description: str) -> list[str]:
        """The scenario's deployments a description names (the kit names the one it undoes)."""
        return [d for d in self.deployment_ids.values() if d in description]

    def rollback_fails(self, description: str) -> bool:
        """True if a CreateDeployment with ``description`` undoes a deployment whose
        rollback the scenario marks as failing."""
        return any(
            deployment.rollback_fails
            for deployment_id in self.named_in(description)
            if (deployment := self.scenario_deployment(deployment_id))
        )

    def new_since_last_call(self, at: datetime) -> list[dict[str, Any]]:
        """Deployments the function created since the last call, stamped ``at``."""
        created = [d for d in codedeploy_gaps.backend().deployments if d not in self._known]
        for deployment_id in created:
            self._known.add(deployment_id)
            codedeploy_gaps.set_create_time(deployment_id, at)
        return [self._codedeploy.get_deployment(deploymentId=d)["deploymentInfo"] for d in created]

    def scenario_deployment(self, deployment_id: str | None) -> Deployment | None:
        versions = {known: version for version, known in self.deployment_ids.items()}
        version = versions.get(str(deployment_id))
        return self.scenario.deployment(version) if version else None

    def version_of(self, info: Mapping[str, Any]) -> str | None:
        key = info.get("revision", {}).get("s3Location", {}).get("key")
        return self.versions.get(str(key)) if key else None


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
        self.kit, self.scenario, self.function = kit, scenario, function
        self.template: Template = kit.template
        self.metric_delay = metric_delay
        self._overrides = dict(environment_overrides or {})
        self._stack = contextlib.ExitStack()
        # (template name, logical id) -> attributes, where the resolver's names will not do.
        self.physical: dict[tuple[str, str], dict[str, str]] = {}
        self.resolver = Resolver(kit.assembly, self.physical)
        self.notes: list[str] = []
        self._published: set[int] = set()

    def __enter__(self) -> World:
        with contextlib.ExitStack() as stack:
            stack.enter_context(sandbox_environment())
            stack.enter_context(mock_aws())
            stack.enter_context(codedeploy_gaps.install())
            self.clients = {name: client(name) for name in SERVICES}
            self._create()
            stack.enter_context(self.history.refusals.installed())
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _name(self, logical_id: str, attribute: str = "Ref") -> str:
        return self.resolver.attributes(self.template, logical_id)[attribute]

    def _queue(self, name: str) -> tuple[str, str]:
        """A new SQS queue's URL and ARN."""
        url = self.clients["sqs"].create_queue(QueueName=name)["QueueUrl"]
        return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def _create(self) -> None:
        kit, tpl, clients = self.kit, self.template, self.clients
        # Lambda caps a function name at 64 characters.
        self.function_name = physical_name(tpl, kit.function_id, limit=64)
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.physical[(tpl.name, kit.function_id)] = {
            "Ref": self.function_name,
            "Arn": self.function_arn,
        }
        if kit.load_balancer_id:
            self.physical[(tpl.name, kit.load_balancer_id)] = load_balancer_attributes(
                tpl, kit.load_balancer_id, self.scenario.load_balancer
            )
        for _, nested, logical_id in kit.distributions:
            made = self._distribution(nested, logical_id)
            self.physical[(nested.name, logical_id)] = {
                "Ref": made["Id"],
                "Id": made["Id"],
                "DomainName": made["DomainName"],
            }
        self.application_name, self.group_name = map(self._name, (kit.application_id, kit.group_id))
        clients["codedeploy"].create_application(
            applicationName=self.application_name, computePlatform="Server"
        )
        clients["codedeploy"].create_deployment_group(
            applicationName=self.application_name,
            deploymentGroupName=self.group_name,
            deploymentConfigName=kit.restore.deployment_config_name,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{physical_name(tpl, 'CodeDeployRole')}",
        )
        self.inbox_url, inbox_arn = self._queue("drill-notifications")
        for topic_id in kit.topic_ids:
            arn = clients["sns"].create_topic(Name=self._name(topic_id, "TopicName"))["TopicArn"]
            clients["sns"].subscribe(TopicArn=arn, Protocol="sqs", Endpoint=inbox_arn)
        self.dlq_url = (
            self._queue(self._name(kit.on_failure_id, "QueueName"))[0]
            if kit.on_failure_id
            else None
        )
        self.environment = {
            name: str(self.resolver.resolve(value, tpl)) for name, value in kit.environment.items()
        } | self._overrides
        if self.environment.get("IDEMPOTENCY_TABLE"):
            # The rollback function's idempotency table, keyed as the template declares it.
            key = {"AttributeName": "pk"}
            clients["dynamodb"].create_table(
                TableName=self.environment["IDEMPOTENCY_TABLE"],
                KeySchema=[key | {"KeyType": "HASH"}],
                AttributeDefinitions=[key | {"AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        # The rule's target: moto cannot invoke a Lambda target, so an SQS queue receives
        # what EventBridge would have handed to the function.
        self.pattern = self.resolver.resolve(dict(kit.rule_pattern), tpl)
        self.rule_name = physical_name(tpl, kit.rule_id, limit=64)
        self.target_url, target_arn = self._queue("drill-rollback-function-target")
        clients["events"].put_rule(Name=self.rule_name, EventPattern=json.dumps(self.pattern))
        clients["events"].put_targets(
            Rule=self.rule_name, Targets=[{"Id": "rollback-function", "Arn": target_arn}]
        )
        outputs = tpl.body.get("Outputs", {})
        bucket = next(
            (
                self.resolver.resolve(o.get("Value"), tpl)
                for n, o in outputs.items()
                if "artifact" in n.lower()
            ),
            "drill-artifacts",
        )
        self.history = DeploymentHistory(
            self.scenario,
            self.notes,
            clients["codedeploy"],
            application=self.application_name,
            group=self.group_name,
            bucket=str(bucket),
        )

    def _distribution(self, nested: Template, logical_id: str) -> Any:
        """A moto distribution standing for ``logical_id`` of the nested edge stack."""
        config = nested.properties(logical_id).get("DistributionConfig", {})
        origin = {
            "Id": "alb",
            "DomainName": "alb.drill.invalid",
            "CustomOriginConfig": {
                "HTTPPort": 80,
                "HTTPSPort": 443,
                "OriginProtocolPolicy": "http-only",
            },
        }
        return self.clients["cloudfront"].create_distribution(
            DistributionConfig={
                "CallerReference": f"drill-{nested.name}-{logical_id}",
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

    def alarm_name(self, logical_id: str) -> str:
        return self._name(logical_id)

    def alarm_arn(self, logical_id: str) -> str:
        return self._name(logical_id, "Arn")

    # --- The scenario's clock ----------------------------------------------------------------

    def advance_to(self, when: datetime) -> None:
        """Apply everything scheduled up to ``when`` and publish the datapoints landed by then."""
        self.history.run_due(when)
        period = timedelta(seconds=self.scenario.period)
        data = [
            point
            for index, minute in enumerate(self.scenario.timestamps())
            if index not in self._published and minute + period + self.metric_delay <= when
            for point in self._datapoints(index, minute)
        ]
        for start in range(0, len(data), PUT_METRIC_DATA_LIMIT):
            self.clients["cloudwatch"].put_metric_data(
                Namespace=NAMESPACE, MetricData=data[start : start + PUT_METRIC_DATA_LIMIT]
            )

    def _datapoints(self, index: int, minute: datetime) -> Iterator[dict[str, Any]]:
        """Minute ``index`` as ALB publishes it, when the minute ends: a count only for a
        minute with data unless the scenario says zeros are published (ELB User Guide,
        CloudWatch metrics for your Application Load Balancer). A plain series key answers
        the four published statistics; ``Name:Stat`` keys are the evaluator's only."""
        self._published.add(index)
        plain = {key for key in self.scenario.series if ":" not in key}
        for key, values in self.scenario.series.items():
            name, _, stat = key.partition(":")
            value = values[index]
            if value is None or (stat and (stat not in PLAIN_KEY_STATS or name in plain)):
                continue
            if is_count(name) and value == 0 and not self.scenario.zero_counts_published:
                continue
            yield {
                "MetricName": name,
                "Dimensions": self._dimensions(name),
                "Timestamp": minute,
                "Value": value,
                "Unit": "Seconds" if name == "TargetResponseTime" else "Count",
            }

    def use_series(self, scenario: Scenario) -> None:
        """Serve these series from now on (minutes already published stay as they were)."""
        self.scenario = replace(self.scenario, series=scenario.series)

    def _dimensions(self, metric: str) -> list[dict[str, str]]:
        dims = []
        if self.kit.load_balancer_id:
            full_name = self._name(self.kit.load_balancer_id, "LoadBalancerFullName")
            dims.append({"Name": "LoadBalancer", "Value": full_name})
        if metric in HOST_COUNTS and self.kit.target_group_id:
            full_name = self._name(self.kit.target_group_id, "TargetGroupFullName")
            dims.append({"Name": "TargetGroup", "Value": full_name})
        return dims

    # --- EventBridge, SNS and the function ---------------------------------------------------

    def put_event(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """Send an event through EventBridge; return it as the rule's target receives it."""
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Resources": list(event["resources"]),
            "Detail": json.dumps(event["detail"]),
            "Time": datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
        }
        self.clients["events"].put_events(Entries=[entry])
        delivered = self._drain(self.target_url)
        return json.loads(delivered[0]) if delivered else None

    def _drain(self, url: str) -> list[str]:
        sqs, bodies = self.clients["sqs"], []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in batch:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def invoke(self, event: Mapping[str, Any], *, at: datetime, attempt: int) -> KitInvocation:
        """Deliver ``event`` to the rollback function at simulated time ``at``; what it
        created is put on the drill's clock."""
        self.advance_to(at)
        request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{event.get('id')}/{attempt}"))
        context = DrillContext(request_id, self.function_name, self.function_arn)
        with self.history.refusals.armed():
            invocation = self.function.invoke(
                event, now=at, environment=self.environment, context=context
            )
        record = KitInvocation(invocation, attempt, dict(event), request_id)
        record.created = self.history.new_since_last_call(at)
        result = invocation.result or {}
        if result.get("action") == "stopped" and result.get("deploymentId"):
            codedeploy_gaps.complete_deployment(str(result["deploymentId"]), "Stopped", at=at)
            record.stopped.append(str(result["deploymentId"]))
        if invocation.error is not None:
            record.refused = [
                {"revision": r.get("revision"), "description": r.get("description")}
                for r in self.history.refusals.requests
            ]
        for body in self._drain(self.inbox_url):
            envelope = json.loads(body)
            record.notifications.append(
                {"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]}
            )
        return record

    def send_to_dead_letter_queue(self, record: Mapping[str, Any]) -> bool:
        if self.dlq_url is not None:
            self.clients["sqs"].send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(record))
        return self.dlq_url is not None

    def dead_letters(self) -> int:
        if self.dlq_url is None:
            return 0
        attributes = self.clients["sqs"].get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
