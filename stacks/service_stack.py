"""The deployable order-api service: network, ALB, instances, CodeDeploy, alarms, edge.

A thin stack: it composes the kit's constructs, wires them to each other, grants and
outputs. The logic lives in the constructs; the values in ``StageConfig``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from alarm_rollback_kit.auto_rollback import AutoRollback
from alarm_rollback_kit.compliance import acknowledge
from alarm_rollback_kit.dashboard import ServiceDashboard
from alarm_rollback_kit.deployment import InPlaceDeployment, S3Revision
from alarm_rollback_kit.health_checked_service import HealthCheckedService
from alarm_rollback_kit.severity_alarms import SeverityAlarms
from alarm_rollback_kit.topics import AlarmTopic
from stacks.config import StageConfig
from stacks.constructs.buckets import ServiceBuckets
from stacks.constructs.chat import SlackChannel
from stacks.constructs.network import Network
from stacks.constructs.sample_release import good_release_asset
from stacks.edge_stack import EdgeStack

# Key prefix for CodeDeploy bundles in the artifact bucket (tools/release.py uses it).
REVISIONS_PREFIX = "revisions/"


class ServiceStack(cdk.Stack):
    """Everything ``make deploy`` puts in the sandbox for the ALB-fronted service."""

    def __init__(self, scope: Construct, id_: str, *, config: StageConfig, **kwargs: Any) -> None:
        self._zones = list(config.service.availability_zones)
        super().__init__(scope, id_, **kwargs)
        svc = config.service
        self.network = Network(
            self,
            "Network",
            max_azs=svc.max_azs,
            nat_gateways=svc.nat_gateways,
            availability_zones=svc.availability_zones,
        )
        self.buckets = ServiceBuckets(self, "Buckets")
        # With the edge on, the ALB answers only requests carrying this secret, which
        # CloudFront adds; the template holds a Secrets Manager reference, not the value.
        self.origin_verify_secret = (
            secretsmanager.Secret(
                self,
                "OriginVerifySecret",
                description=f"{svc.service_name}: X-Origin-Verify value (CloudFront to ALB)",
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    exclude_punctuation=True, password_length=32
                ),
            )
            if config.edge.enabled
            else None
        )
        origin_verify = (
            self.origin_verify_secret.secret_value.unsafe_unwrap()
            if self.origin_verify_secret
            else None
        )
        self.service = HealthCheckedService(
            self,
            "Service",
            vpc=self.network.vpc,
            instance_subnets=self.network.instance_subnets,
            config=svc,
            access_log_bucket=self.buckets.access_logs,
            origin_verify_secret=origin_verify,
        )
        self.edge_stack = (
            EdgeStack(
                self,
                "Edge",
                config=config.edge,
                load_balancer=self.service.load_balancer,
                load_balancer_security_group=self.service.load_balancer_security_group,
                origin_port=443 if svc.certificate_arn else 80,
                origin_verify_value=origin_verify,
                origin_domain_name=config.edge.origin_domain_name or None,
                description=f"{svc.service_name}: CloudFront edge in front of the ALB",
            )
            if origin_verify is not None
            else None
        )
        edge = self.edge_stack.edge if self.edge_stack else None
        # The sample's good release, uploaded with the stack and deployed when it is created.
        self.initial_release_bundle = (
            good_release_asset(self, "InitialReleaseBundle", svc) if svc.initial_release else None
        )
        bundle = self.initial_release_bundle
        if bundle is not None:
            self.service.instance_role.add_to_policy(
                iam.PolicyStatement(
                    actions=["s3:GetObject", "s3:GetObjectVersion"],
                    resources=[
                        f"arn:{self.partition}:s3:::{bundle.s3_bucket_name}/{bundle.s3_object_key}"
                    ],
                )
            )
        self.deployment = InPlaceDeployment(
            self,
            "Deployment",
            auto_scaling_group=self.service.auto_scaling_group,
            target_group=self.service.target_group,
            deployment_config_name=svc.deployment_config_name,
            ignore_alarm_configuration=config.rollback.ignore_alarm_configuration,
            initial_revision=(
                S3Revision(bucket=bundle.s3_bucket_name, key=bundle.s3_object_key)
                if bundle
                else None
            ),
            initial_release_after=(self.service.instance_role,),
        )
        # P1 pages on-call (the rollback notifications go there too); P2/P3 wait for
        # working hours.
        self.paging = AlarmTopic(
            self,
            "Paging",
            display_name=f"{svc.service_name} P1",
            email=config.rollback.notification_email,
        )
        self.low_priority = AlarmTopic(
            self, "LowPriority", display_name=f"{svc.service_name} P2-P3"
        )
        self.chat = (
            SlackChannel(self, "Chat", config=config.chat, topics=[self.paging.topic])
            if config.chat.enabled
            else None
        )
        self.auto_rollback = AutoRollback(
            self,
            "AutoRollback",
            load_balancer=self.service.load_balancer,
            target_group=self.service.target_group,
            deployment_group=self.deployment.deployment_group,
            config=config.rollback,
            topic=self.paging.topic,
            distribution_id=edge.distribution_id if edge else None,
        )
        self.severity_alarms = SeverityAlarms(
            self,
            "SeverityAlarms",
            load_balancer=self.service.load_balancer,
            config=config.alarms,
            min_requests_per_minute=config.rollback.min_requests_per_minute,
            paging_topic=self.paging.topic,
            low_priority_topic=self.low_priority.topic,
        )
        rb = self.auto_rollback
        # Named, so the rollback function can link it without a reference to it (the
        # dashboard already refers to the function: a reference back would be a cycle).
        # Dashboard names are per account, not per region: the region keeps them apart.
        dashboard_name = f"{self.stack_name}-{cdk.Aws.REGION}"
        rb.function.add_environment("DASHBOARD_NAME", dashboard_name)
        self.dashboard = ServiceDashboard(
            self,
            "Dashboard",
            load_balancer=self.service.load_balancer,
            target_group=self.service.target_group,
            rollback_function=rb.function,
            dead_letter_queue=rb.dead_letter_queue,
            distribution_id=edge.distribution_id if edge else None,
            dashboard_name=dashboard_name,
            alarms=[
                *rb.rollback_alarms,
                rb.target_5xx_rate_alarm,
                rb.dead_letter_alarm,
                rb.function_errors_alarm,
                *(t.alarm for t in self.severity_alarms.alarms),
            ],
        )
        # The agent downloads revisions with the instance role; nothing else in the bucket.
        self.service.instance_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.buckets.artifacts.arn_for_objects(f"{REVISIONS_PREFIX}*")],
            )
        )
        self._acknowledge_nag_findings()

        for name, value, description in (
            (
                "LoadBalancerDns",
                self.service.load_balancer.load_balancer_dns_name,
                "ALB DNS name (direct access; with the edge enabled it answers 403)",
            ),
            (
                "ArtifactBucket",
                self.buckets.artifacts.bucket_name,
                "Bucket for CodeDeploy revisions (tools/release.py push --bucket)",
            ),
            (
                "ApplicationName",
                self.deployment.application.application_name,
                "CodeDeploy application",
            ),
            (
                "DeploymentGroupName",
                self.deployment.deployment_group.deployment_group_name,
                "CodeDeploy deployment group",
            ),
            (
                "RollbackTopicArn",
                self.auto_rollback.topic.topic_arn,
                "Rollback decisions and pages (subscribe on-call here)",
            ),
            (
                "RollbackFunctionName",
                self.auto_rollback.function.function_name,
                "The rollback function (its log has one JSON line per decision)",
            ),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)

    def _acknowledge_nag_findings(self) -> None:
        """The findings of what this stack adds beside the kit's constructs."""
        if self.origin_verify_secret is not None:
            acknowledge(
                self.origin_verify_secret,
                [
                    (
                        "AwsSolutions-SMG4",
                        "The value is resolved into the CloudFront origin header and the ALB "
                        "listener rule only at deploy time; rotating it without a redeploy would "
                        "make the ALB answer 403 to every request. Rotate by updating the secret "
                        "and redeploying.",
                    )
                ],
            )
        # cdk-nag names a resource's ARN in a finding as <LogicalId.Arn>.
        bucket = self.buckets.artifacts.node.default_child
        assert isinstance(bucket, cdk.CfnElement)
        artifacts = f"<{self.resolve(bucket.logical_id)}.Arn>"
        acknowledge(
            self.service.instance_role,
            [
                (
                    f"AwsSolutions-IAM5[Resource::{artifacts}/{REVISIONS_PREFIX}*]",
                    "Instances must fetch whichever revision CodeDeploy deploys; they get GetObject "
                    "and GetObjectVersion under revisions/ of this one bucket, nothing else.",
                )
            ],
        )

    @property
    def availability_zones(self) -> list[str]:
        """Configured zones, so a stack with an explicit environment makes no look-up.

        CDK checks a VPC's zones against the stack's, and the stack's come from a context
        look-up unless a subclass names them (Stack.availabilityZones).
        """
        return self._zones or list(super().availability_zones)
