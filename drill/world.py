"""The AWS side of a drill, in process under moto: what the rollback function talks to.

``World`` starts ``mock_aws`` with ``tests.support.codedeploy_gaps`` and creates what the kit
declares and the function reaches, named as ``drill.resolver`` names them: the CodeDeploy
group, the SNS topics (read back through an SQS queue), the dead-letter queue, the
idempotency table, the edge's distributions and the EventBridge rule, whose target is an SQS
queue standing in for the function (moto delivers to SQS targets, not Lambda ones). No alarm
is created: the function reads none, and ``drill.evaluator`` decides states. ``advance_to``
applies the deployment history due by then and puts the ALB datapoints landed by then, with
the dimensions the function's diagnosis asks for, in its order (moto compares them in order).
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

from drill.assembly import ACCOUNT, ALB_NAMESPACE, REGION, Template
from drill.function import AssetFunction, DrillContext, KitInvocation
from drill.refusals import CreateDeploymentRefusals
from drill.resolver import Resolver, load_balancer_attributes, physical_name
from drill.sandbox import client, create_idempotency_table, sandbox_environment
from drill.scenario import HOST_COUNTS, PLAIN_KEY_STATS, Deployment, Scenario, is_count
from drill.template import Kit
from tests.support import codedeploy_gaps

PUT_METRIC_DATA_LIMIT = 1000  # datapoints per PutMetricData call

# A distribution only needs to exist, so that the function's CreateInvalidation has a
# target.
DISTRIBUTION_CONFIG = {
    "Comment": "",
    "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "alb", "DomainName": "alb.drill.invalid"}]},
    "DefaultCacheBehavior": {"TargetOriginId": "alb", "ViewerProtocolPolicy": "allow-all"},
}


class DeploymentHistory:
    """The group's CodeDeploy history on the drill's clock: the scenario's deployments and
    the rollbacks' modelled ends at their times, what the function created stamped with the
    drill's time (moto stamps real time), failing rollbacks refused (``drill.refusals``)."""

    def __init__(self, scenario: Scenario, notes: list[str], **group: str) -> None:
        self.scenario, self.notes, self._group = scenario, notes, group
        self.created: dict[str, Deployment] = {}  # deployment id -> scenario deployment
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
            created = client("codedeploy").create_deployment(
                applicationName=self._group["application"],
                deploymentGroupName=self._group["group"],
                revision={"revisionType": "S3", "s3Location": location},
                description=deployment.description or f"release {deployment.version}",
            )
        except ClientError as err:
            at = f"{deployment.create_time:%H:%M:%S}"
            self.notes.append(f"{deployment.version} could not be created at {at}: {err}")
            return
        deployment_id = str(created["deploymentId"])
        self.created[deployment_id] = deployment
        self._known.add(deployment_id)
        codedeploy_gaps.set_create_time(deployment_id, deployment.create_time)
        codedeploy_gaps.set_status(deployment_id, "InProgress", at=deployment.create_time)

    def _ended(self, deployment: Deployment) -> None:
        assert deployment.complete_time is not None
        for deployment_id in [i for i, d in self.created.items() if d is deployment]:
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
        return [deployment_id for deployment_id in self.created if deployment_id in description]

    def rollback_fails(self, description: str) -> bool:
        """True if a CreateDeployment with ``description`` undoes a deployment whose
        rollback the scenario marks as failing."""
        return any(self.created[d].rollback_fails for d in self.named_in(description))

    def new_since_last_call(self, at: datetime) -> list[dict[str, Any]]:
        """Deployments the function created since the last call, stamped ``at``."""
        new = [d for d in codedeploy_gaps.backend().deployments if d not in self._known]
        self._known.update(new)
        for deployment_id in new:
            codedeploy_gaps.set_create_time(deployment_id, at)
        codedeploy = client("codedeploy")
        return [codedeploy.get_deployment(deploymentId=d)["deploymentInfo"] for d in new]

    def scenario_deployment(self, deployment_id: str | None) -> Deployment | None:
        return self.created.get(str(deployment_id))

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
            self._create()
            stack.enter_context(self.history.refusals.installed())
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _name(self, logical_id: str, attribute: str = "Ref") -> str:
        return self.resolver.attributes(self.template, logical_id)[attribute]

    def _queue(self, name: str) -> tuple[str, str]:
        url = client("sqs").create_queue(QueueName=name)["QueueUrl"]
        return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def _create(self) -> None:
        kit, tpl, codedeploy, sns = self.kit, self.template, client("codedeploy"), client("sns")
        # Lambda caps a function name at 64 characters.
        self.function_name = physical_name(tpl, kit.function_id, limit=64)
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        function = {"Ref": self.function_name, "Arn": self.function_arn}
        self.physical[(tpl.name, kit.function_id)] = function
        if kit.load_balancer_id:
            self.physical[(tpl.name, kit.load_balancer_id)] = load_balancer_attributes(
                tpl, kit.load_balancer_id, self.scenario.load_balancer
            )
        for _, nested, logical_id in kit.distributions:
            reference = f"drill-{nested.name}-{logical_id}"
            made = client("cloudfront").create_distribution(
                DistributionConfig=DISTRIBUTION_CONFIG | {"CallerReference": reference}
            )["Distribution"]
            ids = {"Ref": made["Id"], "Id": made["Id"], "DomainName": made["DomainName"]}
            self.physical[(nested.name, logical_id)] = ids
        self.application_name, self.group_name = map(self._name, (kit.application_id, kit.group_id))
        codedeploy.create_application(
            applicationName=self.application_name, computePlatform="Server"
        )
        codedeploy.create_deployment_group(
            applicationName=self.application_name,
            deploymentGroupName=self.group_name,
            deploymentConfigName=kit.restore.deployment_config_name,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{physical_name(tpl, 'CodeDeployRole')}",
        )
        self.inbox_url, inbox_arn = self._queue("drill-notifications")
        for topic_id in kit.topic_ids:
            arn = sns.create_topic(Name=self._name(topic_id, "TopicName"))["TopicArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=inbox_arn)
        # The kit's function always has one (its EventInvokeConfig's on-failure destination).
        self.dlq_url = self._queue(self._name(kit.on_failure_id, "QueueName"))[0]
        self.environment = {
            name: str(self.resolver.resolve(value, tpl)) for name, value in kit.environment.items()
        } | self._overrides
        create_idempotency_table(self.environment["IDEMPOTENCY_TABLE"])
        self.pattern = self.resolver.resolve(dict(kit.rule_pattern), tpl)
        self.rule_name = physical_name(tpl, kit.rule_id, limit=64)
        self.target_url, target_arn = self._queue("drill-rollback-function-target")
        client("events").put_rule(Name=self.rule_name, EventPattern=json.dumps(self.pattern))
        client("events").put_targets(
            Rule=self.rule_name, Targets=[{"Id": "rollback-function", "Arn": target_arn}]
        )
        bucket = tpl.body.get("Outputs", {}).get("ArtifactBucket", {}).get("Value", "drill")
        self.history = DeploymentHistory(
            self.scenario,
            self.notes,
            application=self.application_name,
            group=self.group_name,
            bucket=str(self.resolver.resolve(bucket, tpl)),
        )

    def alarm_name(self, logical_id: str) -> str:
        return self._name(logical_id)

    def alarm_arn(self, logical_id: str) -> str:
        return self._name(logical_id, "Arn")

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
            client("cloudwatch").put_metric_data(
                Namespace=ALB_NAMESPACE, MetricData=data[start : start + PUT_METRIC_DATA_LIMIT]
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

    def put_event(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """Send an event through EventBridge; return it as the rule's target receives it."""
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Resources": list(event["resources"]),
            "Detail": json.dumps(event["detail"]),
            "Time": datetime.fromisoformat(event["time"].replace("Z", "+00:00")),
        }
        client("events").put_events(Entries=[entry])
        delivered = self._drain(self.target_url)
        return json.loads(delivered[0]) if delivered else None

    def _drain(self, url: str) -> list[str]:
        sqs, bodies = client("sqs"), []
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
            record.refused = list(self.history.refusals.requests)
        pages = [json.loads(body) for body in self._drain(self.inbox_url)]
        record.notifications = [
            {"Subject": p.get("Subject", ""), "Message": p["Message"]} for p in pages
        ]
        return record

    def send_to_dead_letter_queue(self, record: KitInvocation) -> None:
        """Send the invocation record Lambda sends its on-failure destination."""
        error = record.invocation.error
        body = {
            "version": "1.0",
            "timestamp": record.at.isoformat(),
            "requestContext": {
                "requestId": record.request_id,
                "functionArn": f"{self.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": record.attempt,
            },
            "requestPayload": record.event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
        }
        client("sqs").send_message(QueueUrl=self.dlq_url, MessageBody=json.dumps(body))

    def dead_letters(self) -> int:
        attributes = client("sqs").get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
