"""Every AWS call the rollback function makes, with bounded retries and a record of each call.

Clients are created lazily and cached (so moto's ``mock_aws`` catches them and a warm Lambda
reuses them) with botocore's own retries turned off: this module is the single retry policy,
so the number of calls per decision is exact and visible. A ``Gateway`` lives for one
invocation and lists every call it made (``calls``), which the decision log line carries.

Retryable: throttling (ThrottlingException, Throttling, RequestLimitExceeded, ...),
ServiceUnavailable, InternalFailure, any HTTP 5xx, connection/timeout errors and the kit's own
``RetryLater`` (raised, never retried here, when the group is not ready for it); they are
retried with capped exponential backoff and full jitter (AWS Architecture Blog, "Exponential
Backoff And Jitter"), then re-raised so Lambda's asynchronous retries and the DLQ keep the
event. Anything else is raised at once.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

LOGGER = logging.getLogger("rollback")

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
    }
)
# BatchGetDeployments takes at most 25 ids (CodeDeploy API Reference, BatchGetDeployments).
BATCH_GET_LIMIT = 25
# Idempotency records outlive the longest bake window (1440 minutes) plus Lambda's hour of
# retries; DynamoDB's TTL then deletes them (DynamoDB Developer Guide, Time to Live).
RECORD_TTL_SECONDS = 2 * 24 * 3600

_CLIENT_LOCK = threading.Lock()
_BOTO_CONFIG = BotoConfig(
    retries={"total_max_attempts": 1},  # this module retries; see the docstring
    connect_timeout=3,
    read_timeout=10,
)


@functools.cache
def _new_client(service: str) -> Any:
    return boto3.client(service, config=_BOTO_CONFIG)


def client(service: str) -> Any:
    """The cached boto3 client for ``service`` (created on first use, never at import)."""
    # boto3's default session is not safe to build clients from several threads at once.
    with _CLIENT_LOCK:
        return _new_client(service)


def clear_clients() -> None:
    """Forget cached clients (tests start each case with fresh ones)."""
    with _CLIENT_LOCK:
        _new_client.cache_clear()


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


class RetryLater(Exception):
    """The kit must act but cannot yet (an Auto Scaling launch holds the group's one active
    deployment): re-raised untold so Lambda's asynchronous retries, then the dead-letter
    queue and its alarm, keep the event and finally tell a human."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryLater | BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in RETRYABLE_CODES or int(status or 0) >= 500
    return False


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 2.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        """Full-jitter backoff before retry number ``attempt`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.SystemRandom().uniform(0, cap)


DEFAULT_RETRY = RetryPolicy()


class Gateway:
    """The AWS calls of one invocation; ``calls`` lists each attempt as 'service:Operation'."""

    def __init__(self, retry: RetryPolicy | None = None) -> None:
        self.retry = retry or DEFAULT_RETRY
        self.calls: list[str] = []

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        method = getattr(client(service), xform_name(operation))
        for attempt in range(1, self.retry.attempts + 1):
            self.calls.append(f"{service}:{operation}")
            try:
                response: dict[str, Any] = method(**params)
                return response
            except Exception as exc:
                if not is_retryable(exc) or attempt == self.retry.attempts:
                    raise
                pause = self.retry.delay(attempt)
                LOGGER.warning(
                    "retrying",
                    extra={
                        "fields": {
                            "call": f"{service}:{operation}",
                            "attempt": attempt,
                            "error": error_code(exc) or type(exc).__name__,
                            "sleepSeconds": round(pause, 3),
                        }
                    },
                )
                self.retry.sleep(pause)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    # CodeDeploy -------------------------------------------------------------------------

    def list_deployment_ids(
        self, application_name: str, group_name: str, created_after: datetime
    ) -> list[str]:
        ids: list[str] = []
        params: dict[str, Any] = {
            "applicationName": application_name,
            "deploymentGroupName": group_name,
            "createTimeRange": {"start": created_after},
        }
        while True:
            page = self.call("codedeploy", "ListDeployments", **params)
            ids.extend(page.get("deployments", []))
            token = page.get("nextToken")
            if not token:
                return ids
            params["nextToken"] = token

    def batch_get_deployments(self, deployment_ids: Sequence[str]) -> list[dict[str, Any]]:
        infos: list[dict[str, Any]] = []
        for start in range(0, len(deployment_ids), BATCH_GET_LIMIT):
            chunk = list(deployment_ids[start : start + BATCH_GET_LIMIT])
            page = self.call("codedeploy", "BatchGetDeployments", deploymentIds=chunk)
            infos.extend(page.get("deploymentsInfo", []))
        return infos

    def stop_deployment(self, deployment_id: str) -> dict[str, Any]:
        return self.call(
            "codedeploy", "StopDeployment", deploymentId=deployment_id, autoRollbackEnabled=True
        )

    def create_deployment(
        self,
        *,
        application_name: str,
        group_name: str,
        revision: Any,
        description: str,
        deployment_config_name: str | None = None,
    ) -> str:
        # None keeps the group's configuration (EC2); the Lambda undo names AllAtOnce.
        config = {"deploymentConfigName": deployment_config_name} if deployment_config_name else {}
        response = self.call(
            "codedeploy",
            "CreateDeployment",
            applicationName=application_name,
            deploymentGroupName=group_name,
            revision=revision,
            description=description,
            **config,
            # The group's alarm is in ALARM right now and would stop this very rollback;
            # the API Reference (CreateDeployment, overrideAlarmConfiguration) documents
            # turning alarm polling off for exactly this redeploy of a known-good revision.
            overrideAlarmConfiguration={"enabled": False},
            # Without this the group's auto-rollback applies, and CodeDeploy's rollback of a
            # failed redeploy installs the group's last *successful* revision: the bad
            # release (API Reference, CreateDeployment autoRollbackConfiguration).
            autoRollbackConfiguration={"enabled": False},
        )
        return str(response["deploymentId"])

    def appspec_content(
        self, application_name: str, revision: Mapping[str, Any], key: str
    ) -> str | None:
        """The AppSpec content of a Lambda revision (``key``: ``appSpecContent`` or
        ``string``) by its sha256 (CodeDeploy API Reference, GetDeployment: the deployment's
        own copy of the content is always null); None when the answer has none."""
        sha256 = revision[key]["sha256"]
        response = self.call(
            "codedeploy",
            "GetApplicationRevision",
            applicationName=application_name,
            revision={"revisionType": revision["revisionType"], key: {"sha256": sha256}},
        )
        content = ((response.get("revision") or {}).get(key) or {}).get("content")
        return content if isinstance(content, str) else None

    # Lambda ------------------------------------------------------------------------------

    def alias(self, function_name: str, alias_name: str) -> dict[str, Any]:
        """GetAlias: the version the alias points at and any weighted routing."""
        return self.call("lambda", "GetAlias", FunctionName=function_name, Name=alias_name)

    # DynamoDB idempotency records ---------------------------------------------------------

    def claim(self, table: str, key: str, attributes: Mapping[str, str]) -> bool:
        """Write the record ``key`` unless it exists; False when another invocation has it.

        A conditional PutItem is atomic per item (DynamoDB Developer Guide, condition
        expressions): of two concurrent claims exactly one succeeds.
        """
        item: dict[str, Any] = {
            "pk": {"S": key},
            "expiresAt": {"N": str(int(time.time()) + RECORD_TTL_SECONDS)},
        }
        item.update({name: {"S": value} for name, value in attributes.items()})
        try:
            self.call(
                "dynamodb",
                "PutItem",
                TableName=table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, table: str, key: str) -> None:
        self.call("dynamodb", "DeleteItem", TableName=table, Key={"pk": {"S": key}})

    # CloudWatch, SNS, CloudFront ----------------------------------------------------------

    def metric_data(
        self, queries: list[dict[str, Any]], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        response = self.call(
            "cloudwatch",
            "GetMetricData",
            MetricDataQueries=queries,
            StartTime=start,
            EndTime=end,
        )
        results: list[dict[str, Any]] = response.get("MetricDataResults", [])
        return results

    def publish(self, topic_arn: str, subject: str, message: str) -> str:
        response = self.call("sns", "Publish", TopicArn=topic_arn, Subject=subject, Message=message)
        return str(response.get("MessageId", ""))

    def create_invalidation(
        self, distribution_id: str, paths: Sequence[str], caller_reference: str
    ) -> str:
        response = self.call(
            "cloudfront",
            "CreateInvalidation",
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": list(paths)},
                "CallerReference": caller_reference,
            },
        )
        return str(response["Invalidation"]["Id"])
