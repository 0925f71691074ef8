"""The storage settings every bucket, queue and log group of the kit shares, defined once.

Each resource the kit creates is checked by cdk-nag and the Control Tower controls; the
settings those checks want (encryption at rest, TLS only, no public access, retained on
``cdk destroy`` where the data may be an incident's only record) live here so that a new
bucket or queue cannot quietly miss one. ``LOG_RETENTION`` is the list of retention
periods CloudWatch Logs accepts (CloudWatch Logs API Reference, ``PutRetentionPolicy``,
``retentionInDays``), mapped to CDK's enum so a configured number of days is checked and
turned into a setting in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

LOG_RETENTION: Mapping[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def private_bucket(
    scope: Construct,
    id_: str,
    *,
    object_ownership: s3.ObjectOwnership = s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    **kwargs: Any,
) -> s3.Bucket:
    """An SSE-S3, TLS-only bucket with public access blocked, kept on ``cdk destroy``.

    SSE-S3 rather than KMS because ALB access logs cannot be delivered to an SSE-KMS
    bucket (Elastic Load Balancing User Guide, "Access logs for your Application Load
    Balancer"). ``object_ownership`` is for CloudFront's legacy logs, which need ACLs.
    """
    return s3.Bucket(
        scope,
        id_,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        object_ownership=object_ownership,
        removal_policy=RemovalPolicy.RETAIN,
        **kwargs,
    )


def private_queue(scope: Construct, id_: str, **kwargs: Any) -> sqs.Queue:
    """An SQS queue encrypted with SQS-managed keys that refuses plain HTTP."""
    return sqs.Queue(
        scope, id_, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True, **kwargs
    )
