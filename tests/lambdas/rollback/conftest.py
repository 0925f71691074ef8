"""Fixtures for the rollback function: a mocked account with a deployment group and on-call.

``world`` starts moto (plus ``tests.support.codedeploy_gaps`` for the CodeDeploy behaviour moto
lacks), creates the application, the deployment group, the SNS topic and an SQS queue
subscribed to it (to read notifications back), and offers helpers to lay down a deployment
history at chosen times. The helpers use boto3 clients of their own, so the hooks on the
function's cached clients see only the function's calls: ``calls`` records each of them
through botocore's ``before-parameter-build`` event, and ``faults`` makes chosen ones fail
through ``before-call`` (which botocore lets a handler answer in place of the service).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rollback import aws, handler
from tests.support import codedeploy_gaps, codedeploy_lambda_gaps, lambda_world
from tests.support.rollback_world import (
    APP,
    BASE_ENV,
    GROUP,
    IDEMPOTENCY_TABLE,
    ROLE_ARN,
    SERVICES,
    Faults,
    Hooks,
    World,
)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff pauses the function asked for; nothing actually sleeps in tests."""
    pauses: list[float] = []
    monkeypatch.setattr(aws, "DEFAULT_RETRY", aws.RetryPolicy(sleep=pauses.append))
    return pauses


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set the function's environment (BASE_ENV plus overrides) and re-read it."""

    def apply(**overrides: str | None) -> None:
        for name, value in {**BASE_ENV, **overrides}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        handler.load_config.cache_clear()

    apply()
    yield apply
    handler.load_config.cache_clear()


@pytest.fixture(scope="session")
def setup_clients() -> dict[str, Any]:
    """The tests' own clients, built once (client creation dominates setup time); moto
    intercepts clients made before ``mock_aws`` starts, so each test still gets a fresh
    account."""
    return {name: boto3.client(name) for name in (*SERVICES, "sqs")}


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    registered = Hooks()
    yield registered
    registered.remove_all()


@pytest.fixture
def world(
    set_env: Callable[..., None], sleeps: list[float], setup_clients: dict[str, Any]
) -> Iterator[World]:
    with mock_aws(), codedeploy_gaps.install():
        clients = setup_clients
        codedeploy = clients["codedeploy"]
        codedeploy.create_application(applicationName=APP, computePlatform="Server")
        codedeploy.create_deployment_group(
            applicationName=APP, deploymentGroupName=GROUP, serviceRoleArn=ROLE_ARN
        )
        # The table the stack creates for the function's idempotency records.
        clients["dynamodb"].create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns, sqs = clients["sns"], clients["sqs"]
        topic_arn = sns.create_topic(Name="on-call")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="on-call-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield World(
            now=datetime.now(UTC), topic_arn=topic_arn, queue_url=queue_url, clients=clients
        )


@pytest.fixture
def lambda_release(
    world: World, set_env: Callable[..., None]
) -> Iterator[lambda_world.LambdaWorld]:
    """``world`` plus a Lambda group with function versions behind an alias, and the
    function's environment for it (``TARGET_TYPE=LAMBDA``)."""
    set_env(**lambda_world.environment())
    with codedeploy_lambda_gaps.install():
        clients = {**world.clients, "lambda": boto3.client("lambda"), "iam": boto3.client("iam")}
        yield lambda_world.build(world.now, clients)


@pytest.fixture
def calls(world: World, hooks: Hooks) -> list[str]:
    """Every AWS call the function makes from here on, as 'service:Operation'."""
    seen: list[str] = []
    for service in SERVICES:

        def record(model: Any, _service: str = service, **_: Any) -> None:
            seen.append(f"{_service}:{model.name}")

        hooks.register(service, "before-parameter-build", record)
    return seen


@pytest.fixture
def faults(world: World, hooks: Hooks) -> Faults:
    return Faults(hooks)
