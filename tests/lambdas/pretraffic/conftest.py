"""A moto world with the order-api handler published as Lambda versions, for the hook's tests.

``release_world`` starts ``mock_aws`` with ``tests.support.codedeploy_lambda_gaps`` (moto runs no
hooks and cannot invoke a function without Docker), creates the orders table and export
queue the real handler needs, a function ``order-api`` with versions 1 and 2 behind
``live``, and a CodeDeploy Lambda application and group. Version 1 runs the real handler;
each test binds version 2 to the release it wants judged.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from api import handler as api_handler
from api import store
from pretraffic import handler as hook
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.events import EVENTS_DIR
from tests.support.release_world import APPLICATION, FUNCTION, GROUP, ReleaseWorld

# Older modules import these from here; new ones import them from tests.support.
__all__ = ["APPLICATION", "EVENTS_DIR", "FUNCTION", "GROUP", "ReleaseWorld", "release_world"]


def _zip(marker: str) -> bytes:
    # The code moto stores is never run (the gap-filler runs Python callables); a
    # different archive per version makes PublishVersion publish a new one.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("api/__init__.py", f"# {marker}\n")
    return buffer.getvalue()


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
        role = boto3.client("iam", region_name=region).create_role(
            RoleName="order-api",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        client = boto3.client("lambda", region_name=region)
        client.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="api.handler.lambda_handler",
            Code={"ZipFile": _zip("good")},
        )
        client.publish_version(FunctionName=FUNCTION, Description="good")
        client.update_function_code(FunctionName=FUNCTION, ZipFile=_zip("candidate"))
        client.publish_version(FunctionName=FUNCTION, Description="candidate")
        client.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        codedeploy = boto3.client("codedeploy", region_name=region)
        codedeploy.create_application(applicationName=APPLICATION, computePlatform="Lambda")
        codedeploy.create_deployment_group(
            applicationName=APPLICATION,
            deploymentGroupName=GROUP,
            serviceRoleArn=role,
            deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes",
        )
        gaps.register_version(FUNCTION, "1", api_handler.lambda_handler)
        monkeypatch.setenv("TARGET_FUNCTION", FUNCTION)
        monkeypatch.setenv("TARGET_VERSION", "2")
        monkeypatch.setenv("EVENTS_DIR", str(EVENTS_DIR))
        store.clear_clients()
        hook.clear_clients()
        yield ReleaseWorld(client, codedeploy, "orders")
    store.clear_clients()
    hook.clear_clients()
