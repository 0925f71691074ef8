"""Fixtures for the order-api tests: a moto table and queue, the handler, captured logs.

``api_env`` starts ``mock_aws`` with the table and queue the CDK construct creates and
points the handler at them; ``invoke`` calls the handler with a Lambda context. The
helpers they build on (events, the proxy-response oracle) are in
``tests/support/api_events.py``.
"""

from __future__ import annotations

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
from tests.support.api_events import ApiEnv, Invoke, api_event
from tests.support.lambda_context import FakeLambdaContext


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
