"""S3 buckets the service needs: one for access logs, one for CodeDeploy revisions.

Both block public access, refuse plain HTTP and are encrypted. The log bucket uses
SSE-S3 because ALB access logs cannot be written to an SSE-KMS bucket (ELB User Guide,
access logs); the artifact bucket is versioned so every revision a rollback might need
is still there. Both are retained on ``cdk destroy``: they may hold the only copy of
what happened during an incident.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from alarm_rollback_kit.hardening import private_bucket


class ServiceBuckets(Construct):
    """``access_logs`` (ALB, CloudFront and S3 server access logs) and ``artifacts``."""

    def __init__(self, scope: Construct, id_: str, *, log_retention_days: int = 90) -> None:
        super().__init__(scope, id_)
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(log_retention_days))],
        )
        self.artifacts = private_bucket(
            self,
            "Artifacts",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
            ],
        )
