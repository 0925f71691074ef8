"""The handler's Lambda release as the pre-traffic hook's tests see it, in moto.

The ``release_world`` fixture starts ``mock_aws`` with ``tests.support.codedeploy_lambda_gaps``
(moto runs no hooks and cannot invoke a function without Docker) and creates the orders
table and export queue the real handler needs, and the function (versions 1 and 2 behind
``live``) and CodeDeploy Lambda application and group of ``tests.support.lambda_world``.
Version 1 runs the real handler; each test binds version 2 to the release it wants judged.
``ReleaseWorld`` holds its clients; ``start`` begins a deployment to a version.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from api import handler as api_handler
from api import store
from pretraffic import handler as hook
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support import lambda_world
from tests.support.events import EVENTS_DIR
from tests.support.lambda_world import APPLICATION, FUNCTION, GROUP

__all__ = ["APPLICATION", "FUNCTION", "GROUP", "ReleaseWorld", "release_world"]


@dataclass
class ReleaseWorld:
    lambda_client: Any
    codedeploy: Any
    table_name: str

    def start(self, target_version: str = "2") -> tuple[str, str]:
        return gaps.start_deployment(
            APPLICATION,
            GROUP,
            function_name=FUNCTION,
            alias="live",
            current_version="1",
            target_version=target_version,
        )


CLIENTS = ("iam", "lambda", "codedeploy")


@pytest.fixture
def release_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReleaseWorld]:
    region = os.environ["AWS_DEFAULT_REGION"]
    with mock_aws(), gaps.install():
        dynamodb = boto3.client("dynamodb", region_name=region)
        dynamodb.create_table(
            TableName="orders",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue = boto3.client("sqs", region_name=region).create_queue(QueueName="exports")
        monkeypatch.setenv("TABLE_NAME", "orders")
        monkeypatch.setenv("EXPORT_QUEUE_URL", queue["QueueUrl"])
        clients = {name: boto3.client(name, region_name=region) for name in CLIENTS}
        lambda_world.build(datetime.now(UTC), clients)
        gaps.register_version(FUNCTION, "1", api_handler.lambda_handler)
        monkeypatch.setenv("TARGET_FUNCTION", FUNCTION)
        monkeypatch.setenv("TARGET_VERSION", "2")
        monkeypatch.setenv("EVENTS_DIR", str(EVENTS_DIR))
        store.clear_clients()
        hook.clear_clients()
        yield ReleaseWorld(clients["lambda"], clients["codedeploy"], "orders")
    store.clear_clients()
    hook.clear_clients()
