"""The rollback function's moto world, as its tests lay it out.

``World`` holds a mocked account with a deployment group and on-call (the ``world``
fixture in ``tests/lambdas/rollback/conftest.py`` builds it, with
``tests.support.codedeploy_gaps`` for the CodeDeploy behaviour moto lacks) and lays down a
deployment history at chosen times with boto3 clients of its own, so the hooks on the
function's cached clients see only the function's calls. ``alarm_event`` and
``deployment_event`` build the EventBridge events the function reads, and ``fire`` runs the
handler on an alarm a minute before a world's clock (EC2 or Lambda; ``fire_redeploy`` after
setting the environment and laying down a history, expecting a redeploy). ``Hooks`` registers
botocore handlers on the function's clients; ``Faults`` makes chosen calls fail through
``before-call`` (which botocore lets a handler answer in place of the service).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from botocore.awsrequest import AWSResponse

from rollback import aws
from rollback.config import KIT_MARKER
from rollback.handler import lambda_handler
from tests.support import codedeploy_gaps
from tests.support.events import load_event

APP = "order-api"
GROUP = "prod"
ALARM = "order-api-prod-elb-5xx"
SECOND_ALARM = "order-api-prod-elb-5xx-guarded"
LOAD_BALANCER = "app/order-api/50dc6c495c0c9188"
TARGET_GROUP = "targetgroup/order-api/73e2d6bc24d8a067"
ROLE_ARN = "arn:aws:iam::123456789012:role/codedeploy"
SERVICES = ("codedeploy", "cloudwatch", "sns", "cloudfront", "dynamodb")
IDEMPOTENCY_TABLE = "rollback-idempotency"

BASE_ENV = {
    "TARGET_TYPE": "EC2",
    "APPLICATION_NAME": APP,
    "DEPLOYMENT_GROUP_NAME": GROUP,
    "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:on-call",
    "BAKE_MINUTES": "30",
    "DRY_RUN": "false",
    "ROLLBACK_ALARM_NAMES": f"{ALARM},{SECOND_ALARM}",
    "MAX_ROLLBACKS_PER_HOUR": "1",
    "LOAD_BALANCER_FULL_NAME": LOAD_BALANCER,
    "TARGET_GROUP_FULL_NAME": TARGET_GROUP,
    "DIAGNOSIS_MINUTES": "5",
    "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
}


def s3_revision(key: str) -> dict[str, Any]:
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": "releases", "key": f"order-api-{key}.zip", "bundleType": "zip"},
    }


def revision_key(info: dict[str, Any]) -> str:
    return str(info["revision"]["s3Location"]["key"])


def alarm_event(
    at: datetime, *, name: str = ALARM, file: str = "cloudwatch-alarm-state-change-alarm.json"
) -> dict[str, Any]:
    """A documented alarm event whose state changed at ``at`` for alarm ``name``."""
    event = load_event(file)
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"]
    event["detail"]["state"]["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


class Clocked(Protocol):
    """A world with its own clock (``World``, ``LambdaWorld``)."""

    now: datetime


def fire(world: Clocked, context: Any, *, name: str = ALARM) -> dict[str, Any]:
    """Run the rollback handler on ``name`` entering ALARM a minute before ``world.now``."""
    result: dict[str, Any] = lambda_handler(
        alarm_event(world.now - timedelta(minutes=1), name=name), context
    )
    return result


def fire_redeploy(
    world: World,
    context: Any,
    set_env: Callable[..., None],
    history: Callable[[World], object],
    **env: str,
) -> dict[str, Any]:
    """``fire`` under ``env`` after ``history``, for a test whose point is what a redeploy
    does under that setting: the decision must be the redeploy."""
    set_env(**env)
    history(world)
    result = fire(world, context)
    assert result["action"] == "redeployed", result["reason"]
    return result


def deployment_event(deployment_id: str, state: str = "FAILURE") -> dict[str, Any]:
    """CodeDeploy's documented state-change event for ``deployment_id`` of APP/GROUP."""
    event = load_event("codedeploy-deployment-state-change-failure.json")
    event["detail"].update(
        {
            "deploymentId": deployment_id,
            "state": state,
            "application": APP,
            "deploymentGroup": GROUP,
        }
    )
    return event


@dataclass
class World:
    """The mocked account, with ``now`` fixed at the start of the test."""

    now: datetime
    topic_arn: str
    queue_url: str
    clients: dict[str, Any] = field(default_factory=dict)

    @property
    def codedeploy(self) -> Any:
        return self.clients["codedeploy"]

    @property
    def cloudfront(self) -> Any:
        return self.clients["cloudfront"]

    def distribution(self) -> str:
        """A CloudFront distribution in moto, for the invalidation paths; returns its id."""
        created = self.cloudfront.create_distribution(
            DistributionConfig={
                "CallerReference": "order-api-edge",
                "Comment": "order-api",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "alb",
                            "DomainName": "order-api.example.com",
                            "CustomOriginConfig": {
                                "HTTPPort": 80,
                                "HTTPSPort": 443,
                                "OriginProtocolPolicy": "https-only",
                            },
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "alb",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                },
            }
        )
        return str(created["Distribution"]["Id"])

    def deploy(
        self,
        key: str,
        *,
        created_ago: timedelta,
        completed_ago: timedelta | None = None,
        status: str = "Succeeded",
        description: str | None = None,
    ) -> str:
        """Create a deployment of revision ``key`` and move it to ``status`` at those times."""
        params: dict[str, Any] = {
            "applicationName": APP,
            "deploymentGroupName": GROUP,
            "revision": s3_revision(key),
        }
        if description:
            params["description"] = description
        deployment_id = str(self.codedeploy.create_deployment(**params)["deploymentId"])
        codedeploy_gaps.set_create_time(deployment_id, self.now - created_ago)
        if status in codedeploy_gaps.FINAL_STATUSES:
            done = (
                completed_ago if completed_ago is not None else created_ago - timedelta(minutes=5)
            )
            codedeploy_gaps.complete_deployment(deployment_id, status, at=self.now - done)
        else:
            codedeploy_gaps.set_status(deployment_id, status)
        return deployment_id

    def kit_rollback(self, key: str, *, created_ago: timedelta) -> str:
        """A finished rollback the kit made earlier (its description carries the marker)."""
        return self.deploy(
            key,
            created_ago=created_ago,
            description=f"{KIT_MARKER} rollback of an earlier release",
        )

    def roll_back_on_failure(self) -> None:
        """Give the group the kit's automatic rollback on failed deployments."""
        codedeploy_gaps.backend().get_deployment_group(APP, GROUP).auto_rollback_configuration = {
            "enabled": True,
            "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
        }

    def deployments(self) -> list[dict[str, Any]]:
        return codedeploy_gaps.group_deployments(self.codedeploy, APP, GROUP)

    def codedeploy_rollback(self) -> dict[str, Any]:
        """The one rollback deployment CodeDeploy itself created (``codeDeployRollback``)."""
        (rollback,) = [d for d in self.deployments() if d["creator"] == "codeDeployRollback"]
        return rollback

    def rollbacks_created_by_kit(self) -> list[dict[str, Any]]:
        return [
            d
            for d in self.deployments()
            if KIT_MARKER in (d.get("description") or "")
            and d["createTime"] > self.now - timedelta(minutes=1)
        ]

    def notifications(self) -> list[dict[str, str]]:
        """Every SNS message published so far, read back through the SQS subscription."""
        sqs = self.clients["sqs"]
        found: list[dict[str, str]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            for message in batch:
                envelope = json.loads(message["Body"])
                found.append(
                    {"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]}
                )
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def put_alb_metrics(self, minutes: int = 3, **per_minute: float) -> None:
        """Publish ALB datapoints for the last ``minutes`` minutes (moto stores them)."""
        cloudwatch = self.clients["cloudwatch"]
        # Same order as the function's query: moto 5.2.5 compares dimension lists in order.
        target_dims = {"LoadBalancer": LOAD_BALANCER, "TargetGroup": TARGET_GROUP}
        data = []
        for minute in range(1, minutes + 1):
            at = self.now - timedelta(minutes=minute)
            for name, value in per_minute.items():
                dims = target_dims if "HostCount" in name else {"LoadBalancer": LOAD_BALANCER}
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                        "Value": value,
                        "Timestamp": at,
                    }
                )
        cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)


class Hooks:
    """botocore event handlers on the function's cached clients, removed after the test."""

    def __init__(self) -> None:
        self._registered: list[tuple[Any, str, Callable[..., Any]]] = []

    def register(
        self, service: str, event: str, handler_: Callable[..., Any], *, first: bool = False
    ) -> None:
        events = aws.client(service).meta.events
        (events.register_first if first else events.register)(event, handler_)
        self._registered.append((events, event, handler_))

    def remove_all(self) -> None:
        for events, event, handler_ in self._registered:
            events.unregister(event, handler_)
        self._registered.clear()


class Faults:
    """Makes the next calls of an operation fail with given error codes or exceptions."""

    _STATUS: ClassVar[dict[str, int]] = {"ServiceUnavailable": 503, "InternalFailure": 500}

    def __init__(self, hooks: Hooks) -> None:
        self._hooks = hooks

    def add(self, service: str, operation: str, *errors: str | Exception) -> None:
        pending = list(errors)

        def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if not pending:
                return None
            error = pending.pop(0)
            if isinstance(error, Exception):
                raise error
            status = self._STATUS.get(error, 400)
            parsed = {
                "Error": {"Code": error, "Message": f"injected {error}"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return AWSResponse("https://injected.invalid", status, {}, None), parsed

        self._hooks.register(service, f"before-call.{service}.{operation}", answer)
