"""The drill's fake AWS account: credentials, region, the boto3 clients moto intercepts, and
the rollback function's idempotency table."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3

from drill.assembly import REGION

# Fake credentials for moto, and none of the caller's profile or endpoint: the drill never
# talks to AWS.
_CREDENTIALS = {
    "aws_access_key_id": "drill",
    "aws_secret_access_key": "drill",
    "aws_session_token": "drill",
}
_ENVIRONMENT = {name.upper(): value for name, value in _CREDENTIALS.items()} | {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@functools.cache
def client(service: str) -> Any:
    """Built once per process (building one dominates a run's set-up time); moto intercepts
    it in every later ``mock_aws`` block, each a fresh account."""
    return boto3.client(service, region_name=REGION, **_CREDENTIALS)


@contextlib.contextmanager
def sandbox_environment() -> Iterator[None]:
    """Fake credentials and the drill's region; the caller's environment put back after."""
    with mock.patch.dict(os.environ, _ENVIRONMENT):
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SECURITY_TOKEN"):
            os.environ.pop(name, None)
        yield


def create_idempotency_table(name: str) -> None:
    """The rollback function's claim table, keyed ``pk`` as the kit's template declares it."""
    key = {"AttributeName": "pk"}
    client("dynamodb").create_table(
        TableName=name,
        KeySchema=[key | {"KeyType": "HASH"}],
        AttributeDefinitions=[key | {"AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
