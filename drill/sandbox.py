"""The drill's fake AWS account: credentials, region and the boto3 clients moto intercepts."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from typing import Any

import boto3

from drill.assembly import REGION

# Fake credentials for moto, and no profile or endpoint of the caller's: the drill never
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
def patched_environ(values: Mapping[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """``values`` set and ``unset`` removed in ``os.environ``; everything put back after."""
    saved = {name: os.environ.pop(name, None) for name in [*values, *unset]}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def sandbox_environment() -> contextlib.AbstractContextManager[None]:
    return patched_environ(
        _ENVIRONMENT, unset=("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SECURITY_TOKEN")
    )
