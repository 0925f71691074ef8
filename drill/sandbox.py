"""The drill's fake AWS account: credentials, region and the boto3 clients moto intercepts."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import boto3

from drill.assembly import REGION
from drill.function import patched_environ

# Fake credentials for moto; the drill never talks to AWS.
_SANDBOX_ENV = {
    "AWS_ACCESS_KEY_ID": "drill",
    "AWS_SECRET_ACCESS_KEY": "drill",
    "AWS_SESSION_TOKEN": "drill",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SECURITY_TOKEN")


@functools.cache
def client(service: str) -> Any:
    """The drill's own clients, built once per process (building one dominates a run's set-up
    time); moto intercepts them in every later ``mock_aws`` block, each a fresh account."""
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=_SANDBOX_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=_SANDBOX_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=_SANDBOX_ENV["AWS_SESSION_TOKEN"],
    )


def sandbox_environment() -> contextlib.AbstractContextManager[None]:
    """Fake credentials and the drill's region; the caller's AWS settings put back after."""
    return patched_environ(_SANDBOX_ENV, unset=tuple(_UNSET))
