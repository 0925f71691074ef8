"""Order-api test helpers: API Gateway events, the proxy-response oracle, captured output.

``api_event`` edits a documented REST proxy event from ``tests/events`` so path, method,
body and headers stay consistent with one another. ``assert_proxy_response`` is the
test-side statement of the proxy output contract, written independently of ``api.proxy``
so the handler is not checked against itself. ``sqs_event`` turns the messages queued in
moto into the event Lambda's SQS source would deliver. The fixtures that use them are in
``tests/lambdas/api/conftest.py``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.events import load_event

STATUSES_WITHOUT_BODY = {204, 304}
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "trace_id"}
PROXY_MEMBERS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
# Headers a status must carry: 401 its challenge (WWW-Authenticate), 429 when to retry,
# 405 the methods allowed, 201 where the created resource is.
REQUIRED_HEADER = {401: "WWW-Authenticate", 429: "Retry-After", 405: "Allow", 201: "Location"}


@dataclass
class ApiEnv:
    """The mocked AWS resources the handler and the worker use."""

    table: Any
    queue_url: str
    sqs: Any


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


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


def order_path(order_id: str, suffix: str = "") -> str:
    return f"/orders/{order_id}{suffix}"


def assert_proxy_response(response: object) -> None:
    """The Lambda proxy output contract API Gateway enforces (else it answers 502)."""
    assert isinstance(response, dict), response
    assert set(response) <= PROXY_MEMBERS
    status = response["statusCode"]
    assert type(status) is int, status
    assert 100 <= status <= 599
    headers = response["headers"]
    _assert_string_map(headers)
    if "multiValueHeaders" in response:
        _assert_multi_value_headers(response["multiValueHeaders"])
    assert isinstance(response["body"], str)
    assert type(response["isBase64Encoded"]) is bool
    _assert_status_rules(status, headers, response["body"])


def _assert_string_map(headers: object) -> None:
    assert isinstance(headers, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())


def _assert_multi_value_headers(multi: object) -> None:
    assert isinstance(multi, dict)
    for key, values in multi.items():
        assert isinstance(key, str)
        assert isinstance(values, list)
        assert all(isinstance(v, str) for v in values)


def _assert_status_rules(status: int, headers: dict[str, str], body: str) -> None:
    """What HTTP (RFC 9110) and the API's problem documents require of each status."""
    if status in STATUSES_WITHOUT_BODY:
        assert body == ""
    required = REQUIRED_HEADER.get(status)
    if required is not None:
        assert headers.get(required), f"{status} without {required}"
    if status >= 400 and body:
        assert headers.get("Content-Type") == "application/problem+json"
        document = json.loads(body)
        assert set(document) >= PROBLEM_MEMBERS
        assert document["status"] == status


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header by case-insensitive name."""
    for key, value in response["headers"].items():
        if key.lower() == name.lower():
            return str(value)
    return None


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects among captured stdout lines (other lines are skipped)."""
    documents = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            documents.append(document)
    return documents


def emf_documents(stdout: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric-format documents among captured stdout lines."""
    return [document for document in json_lines(stdout) if "_aws" in document]


def log_records(stdout: str) -> list[dict[str, Any]]:
    """The structured log lines among captured stdout lines."""
    return [r for r in json_lines(stdout) if "message" in r and "_aws" not in r]


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
