"""``tools.release push`` under moto: the zip lands in the bucket and CodeDeploy deploys it.

moto keeps deployments in ``Created`` (moto 5.2.5 implements no status transitions), which is all these tests need:
what ``GetDeployment`` says the revision is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tools import release
from tools.release import BundleSpec, build_bundle, push_bundle

BUCKET = "order-api-artifacts"
APPLICATION = "order-api"
GROUP = "prod"
KEY = "revisions/order-api-2.3.2-bad.zip"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        codedeploy = boto3.client("codedeploy", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        codedeploy.create_application(applicationName=APPLICATION, computePlatform="Server")
        codedeploy.create_deployment_group(
            applicationName=APPLICATION,
            deploymentGroupName=GROUP,
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        )
        # main() builds its clients through cached getters: start each test without any.
        release.s3_client.cache_clear()
        release.codedeploy_client.cache_clear()
        yield {"s3": s3, "codedeploy": codedeploy}
        release.s3_client.cache_clear()
        release.codedeploy_client.cache_clear()


def push(aws: dict[str, Any], data: bytes, **options: Any) -> release.PushResult:
    return push_bundle(
        aws["s3"],
        aws["codedeploy"],
        data=data,
        bucket=BUCKET,
        key=KEY,
        application=APPLICATION,
        group=GROUP,
        description="test",
        **options,
    )


def s3_location(aws: dict[str, Any], deployment_id: str) -> dict[str, Any]:
    info = aws["codedeploy"].get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    location: dict[str, Any] = info["revision"]["s3Location"]
    return location


def test_push_uploads_the_bundle_bytes_to_the_bucket(aws: dict[str, Any]) -> None:
    data = build_bundle(BundleSpec(variant="bad"))

    push(aws, data)

    assert aws["s3"].get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == data


def test_push_deploys_the_uploaded_object_as_a_zip_revision(aws: dict[str, Any]) -> None:
    result = push(aws, build_bundle(BundleSpec(variant="bad")))

    etag = aws["s3"].head_object(Bucket=BUCKET, Key=KEY)["ETag"].strip('"')
    assert s3_location(aws, result.deployment_id) == {
        "bucket": BUCKET,
        "key": KEY,
        "bundleType": "zip",
        "eTag": etag,
    }


def test_push_pins_the_object_version_on_a_versioned_bucket(aws: dict[str, Any]) -> None:
    aws["s3"].put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    result = push(aws, build_bundle(BundleSpec(variant="bad")))

    version_id = aws["s3"].head_object(Bucket=BUCKET, Key=KEY)["VersionId"]
    assert s3_location(aws, result.deployment_id)["version"] == version_id


def test_push_passes_the_deployment_config_name(aws: dict[str, Any]) -> None:
    result = push(
        aws,
        build_bundle(BundleSpec(variant="good")),
        deployment_config="CodeDeployDefault.OneAtATime",
    )

    info = aws["codedeploy"].get_deployment(deploymentId=result.deployment_id)["deploymentInfo"]
    assert info["deploymentConfigName"] == "CodeDeployDefault.OneAtATime"


def test_push_with_disable_alarms_overrides_the_group_alarm_configuration(
    aws: dict[str, Any],
) -> None:
    result = push(aws, build_bundle(BundleSpec(variant="good")), disable_alarms=True)

    info = aws["codedeploy"].get_deployment(deploymentId=result.deployment_id)["deploymentInfo"]
    assert info["overrideAlarmConfiguration"]["enabled"] is False


def test_push_command_prints_the_deployment_it_created(
    aws: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "push", "--variant", "bad", "--bucket", BUCKET, "--application", APPLICATION,
        "--group", GROUP, "--out", str(tmp_path), "--region", "us-east-1",
    ]  # fmt: skip

    assert release.main(argv) == 0

    created = json.loads(capsys.readouterr().out.splitlines()[-1])
    info = aws["codedeploy"].get_deployment(deploymentId=created["deploymentId"])
    assert info["deploymentInfo"]["revision"]["s3Location"]["key"] == KEY
