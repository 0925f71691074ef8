"""Fixtures for the order-api tests: a moto table and queue, API Gateway events, an oracle.

``api_env`` starts ``mock_aws`` with the table and queue the CDK construct creates and
points the handler at them. ``api_event`` edits a documented REST proxy event from
``tests/events`` so path, method, body and headers stay consistent with one another.
``assert_proxy_response`` is the test-side statement of the proxy output contract, written
independently of ``api.proxy`` so the handler is not checked against itself.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from api import handler, store
from tests.support.events import load_event
from tests.support.lambda_context import FakeLambdaContext

STATUSES_WITHOUT_BODY = {204, 304}
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "trace_id"}


@dataclass
class ApiEnv:
    """The mocked AWS resources the handler and the worker use."""

    table: Any
    queue_url: str
    sqs: Any


@dataclass
class MockedAws:
    """Clients on one ``mock_aws`` that lives for a test module."""

    dynamodb: Any
    sqs: Any


@pytest.fixture(scope="module")
def mocked_aws() -> Iterator[MockedAws]:
    # One mock per module: a fresh mock starts a fresh boto3 session, and loading the
    # service models again for every test would cost ~0.3 s each. Tests stay isolated
    # because each gets its own table and queue (``api_env``).
    region = os.environ["AWS_DEFAULT_REGION"]
    with mock_aws():
        yield MockedAws(
            dynamodb=boto3.resource("dynamodb", region_name=region),
            sqs=boto3.client("sqs", region_name=region),
        )
    store.clear_clients()


@pytest.fixture
def api_env(mocked_aws: MockedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiEnv]:
    """A new empty table and queue, shaped as the CDK construct creates them."""
    suffix = uuid.uuid4().hex[:12]
    table = mocked_aws.dynamodb.create_table(
        TableName=f"orders-{suffix}",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    queue_url = mocked_aws.sqs.create_queue(QueueName=f"order-exports-{suffix}")["QueueUrl"]
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("EXPORT_QUEUE_URL", queue_url)
    store.clear_clients()
    yield ApiEnv(table=table, queue_url=queue_url, sqs=mocked_aws.sqs)
    store.clear_clients()
    table.delete()
    mocked_aws.sqs.delete_queue(QueueUrl=queue_url)


def api_event(
    name: str,
    *,
    method: str | None = None,
    path: str | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A documented REST proxy event from ``tests/events/<name>``, edited consistently."""
    event = load_event(name)
    if method is not None:
        event["httpMethod"] = method
        event["requestContext"]["httpMethod"] = method
    if path is not None:
        event["path"] = path
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
        parameters = event.get("pathParameters") or {}
        segments = path.strip("/").split("/")
        if len(segments) >= 2 and parameters:
            event["pathParameters"] = {next(iter(parameters)): segments[1]}
    if body is not None:
        if base64_body:
            body = base64.b64encode(body.encode()).decode()
        event["body"] = body
        event["isBase64Encoded"] = base64_body
    for key, value in (headers or {}).items():
        event["headers"][key] = value
        event["multiValueHeaders"][key] = [value]
    return event


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def invoke(lambda_context: FakeLambdaContext) -> Invoke:
    def _invoke(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = handler.lambda_handler(event, lambda_context)
        return response

    return _invoke


@pytest.fixture
def create_order(api_env: ApiEnv, invoke: Invoke) -> Callable[..., str]:
    """Create an order through the API; returns its id."""

    def _create(product_id: int = 1, quantity: int = 1) -> str:
        body = json.dumps({"product_id": product_id, "quantity": quantity})
        response = invoke(api_event("apigw-rest-post-orders.json", body=body))
        assert response["statusCode"] == 201, response
        return str(json.loads(response["body"])["id"])

    return _create


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the structured logger writes during a test (its handler keeps the stream it
    was created with, so pytest's stdout capture does not see it)."""
    stream = io.StringIO()
    log_handler = handler.logger.registered_handler
    assert isinstance(log_handler, logging.StreamHandler)
    previous = log_handler.setStream(stream)
    yield stream
    log_handler.setStream(previous)


def order_path(order_id: str, suffix: str = "") -> str:
    return f"/orders/{order_id}{suffix}"


def assert_proxy_response(response: object) -> None:
    """The Lambda proxy output contract API Gateway enforces (else it answers 502)."""
    assert isinstance(response, dict), response
    assert set(response) <= {
        "statusCode",
        "headers",
        "multiValueHeaders",
        "body",
        "isBase64Encoded",
    }
    status = response["statusCode"]
    assert type(status) is int, status
    assert 100 <= status <= 599
    headers = response["headers"]
    assert isinstance(headers, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    if "multiValueHeaders" in response:
        multi = response["multiValueHeaders"]
        assert isinstance(multi, dict)
        for key, values in multi.items():
            assert isinstance(key, str)
            assert isinstance(values, list)
            assert all(isinstance(v, str) for v in values)
    assert isinstance(response["body"], str)
    assert type(response["isBase64Encoded"]) is bool
    if status in STATUSES_WITHOUT_BODY:
        assert response["body"] == ""
    if status == 401:
        assert "WWW-Authenticate" in headers
    if status == 429:
        assert "Retry-After" in headers
    if status == 405:
        assert headers.get("Allow")
    if status == 201:
        assert headers.get("Location")
    if status >= 400 and response["body"]:
        assert headers.get("Content-Type") == "application/problem+json"
        document = json.loads(response["body"])
        assert set(document) >= PROBLEM_MEMBERS
        assert document["status"] == status


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header by case-insensitive name."""
    for key, value in response["headers"].items():
        if key.lower() == name.lower():
            return str(value)
    return None


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric-format documents among captured stdout lines."""
    documents = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def log_records(stdout: str) -> list[dict[str, Any]]:
    """The structured log lines among captured stdout lines."""
    records = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "message" in record and "_aws" not in record:
            records.append(record)
    return records


def sqs_event(env: ApiEnv, extra_bodies: tuple[str, ...] = ()) -> dict[str, Any]:
    """An SQS event as Lambda's event source delivers it, from the messages now queued
    (plus ``extra_bodies`` sent first, e.g. malformed ones)."""
    for body in extra_bodies:
        env.sqs.send_message(QueueUrl=env.queue_url, MessageBody=body)
    arn = env.sqs.get_queue_attributes(QueueUrl=env.queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    received = env.sqs.receive_message(
        QueueUrl=env.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
    ).get("Messages", [])
    records = [
        {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": os.environ["AWS_DEFAULT_REGION"],
        }
        for message in received
    ]
    return {"Records": records}
