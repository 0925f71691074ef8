"""DynamoDB and SQS access for order-api: the only module that talks to AWS.

Clients are created on first use (cached), never at import, so tests under moto's
``mock_aws`` catch every call and a cold start pays only for what a request uses. The
table (``TABLE_NAME``, partition key ``pk`` of type S) holds orders (``order#<id>``) and
export jobs (``job#<id>``); ``EXPORT_QUEUE_URL`` is the queue the worker consumes.
State changes are conditional writes, so two racing requests cannot both win.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Fail fast and retry a little: every call must finish well inside API Gateway's 29 s
# integration timeout (API Gateway Developer Guide, "Amazon API Gateway quotas").
_CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}
)


@cache
def table() -> Any:
    """The orders table (boto3 resource), created on first use."""
    return boto3.resource("dynamodb", config=_CLIENT_CONFIG).Table(os.environ["TABLE_NAME"])


@cache
def sqs() -> Any:
    """The SQS client, created on first use."""
    return boto3.client("sqs", config=_CLIENT_CONFIG)


def clear_clients() -> None:
    """Forget cached clients, e.g. after the environment or the AWS mock changed."""
    table.cache_clear()
    sqs.cache_clear()


def _is_condition_failure(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


def get_item(pk: str) -> dict[str, Any] | None:
    """The item with this key, read consistently so a client reads its own writes."""
    response = table().get_item(Key={"pk": pk}, ConsistentRead=True)
    return cast("dict[str, Any] | None", response.get("Item"))


def put_new_item(item: Mapping[str, Any]) -> None:
    """Store a new item; never overwrites one with the same key."""
    table().put_item(Item=dict(item), ConditionExpression="attribute_not_exists(pk)")


def tombstone_order(pk: str, now: str) -> bool:
    """Mark a live order deleted and drop its content; False if it was not live."""
    try:
        table().update_item(
            Key={"pk": pk},
            UpdateExpression="SET #s = :deleted, deleted_at = :now, updated_at = :now "
            "REMOVE product_id, quantity",
            ConditionExpression="attribute_exists(pk) AND #s = :active",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":deleted": "deleted", ":active": "active", ":now": now},
        )
    except ClientError as error:
        if _is_condition_failure(error):
            return False
        raise
    return True


def set_job_status(
    pk: str,
    status: str,
    now: str,
    *,
    allowed_from: Iterable[str],
    extra: Mapping[str, str] | None = None,
) -> bool:
    """Move a job to ``status`` (with ``extra`` string attributes) if it is currently in one
    of ``allowed_from``; False when it is not (or does not exist)."""
    names = {"#s": "status"}
    values: dict[str, str] = {":status": status, ":now": now}
    assignments = ["#s = :status", "updated_at = :now"]
    for index, (attribute, value) in enumerate((extra or {}).items()):
        names[f"#x{index}"] = attribute
        values[f":x{index}"] = value
        assignments.append(f"#x{index} = :x{index}")
    allowed = []
    for index, state in enumerate(allowed_from):
        values[f":from{index}"] = state
        allowed.append(f":from{index}")
    try:
        table().update_item(
            Key={"pk": pk},
            UpdateExpression="SET " + ", ".join(assignments),
            ConditionExpression=f"attribute_exists(pk) AND #s IN ({', '.join(allowed)})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if _is_condition_failure(error):
            return False
        raise
    return True


def send_export_message(body: str) -> str:
    """Queue one export message; returns the SQS message id."""
    response = sqs().send_message(QueueUrl=os.environ["EXPORT_QUEUE_URL"], MessageBody=body)
    return str(response["MessageId"])
