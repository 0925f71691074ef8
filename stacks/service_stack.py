"""The deployable order-api service: network, ALB, instances, CodeDeploy, alarms, edge.

A thin stack: it composes the kit's constructs, wires them to each other, grants and
outputs. The logic lives in the constructs; the values in ``StageConfig``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from alarm_rollback_kit.auto_rollback import AutoRollback
from alarm_rollback_kit.compliance import acknowledge
from alarm_rollback_kit.dashboard import ServiceDashboard
from alarm_rollback_kit.deployment import InPlaceDeployment, S3Revision
from alarm_rollback_kit.edge import Edge
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
        self.network = Network(self, "Network", config=svc)
        self.buckets = ServiceBuckets(self, "Buckets")
        self.service = HealthCheckedService(
            self,
            "Service",
            vpc=self.network.vpc,
            instance_subnets=self.network.instance_subnets,
            config=svc,
            access_log_bucket=self.buckets.access_logs,
            behind_edge=config.edge.enabled,
        )
        self.edge_stack: EdgeStack | None = None
        self.edge: Edge | None = None
        if config.edge.enabled:
            self.edge_stack, self.edge = self._edge(config)
        self.deployment = self._deployment(config)
        self._notifications(config)
        distribution_id = self.edge.distribution_id if self.edge else None
        self._alarms(config, distribution_id)
        self.dashboard = self._dashboard(distribution_id)
        self._grant_revisions()
        self._acknowledge_nag_findings()
        self._outputs()

    def _edge(self, config: StageConfig) -> tuple[EdgeStack, Edge]:
        description = f"{config.service.service_name}: CloudFront edge in front of the ALB"
        edge_stack = EdgeStack(self, "Edge", description=description)
        edge = Edge(
            edge_stack,
            "Edge",
            config=config.edge,
            load_balancer=self.service.load_balancer,
            load_balancer_security_group=self.service.load_balancer_security_group,
            origin_port=self.service.listener_port,
            origin_domain_name=config.edge.origin_domain_name or None,
        )
        # The ALB answers only requests carrying the edge's secret, which CloudFront adds;
        # both templates hold a Secrets Manager reference, not the value.
        self.service.require_origin_header(edge.origin_verify_value)
        return edge_stack, edge

    def _deployment(self, config: StageConfig) -> InPlaceDeployment:
        svc = config.service
        # The sample's good release, uploaded with the stack and deployed when it is created.
        self.initial_release_bundle = (
            good_release_asset(self, "InitialReleaseBundle", svc) if svc.initial_release else None
        )
        bundle = self.initial_release_bundle
        if bundle is not None:
            self._let_instances_read(
                f"arn:{self.partition}:s3:::{bundle.s3_bucket_name}/{bundle.s3_object_key}"
            )
        return InPlaceDeployment(
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

    def _notifications(self, config: StageConfig) -> None:
        name = config.service.service_name
        # P1 pages on-call (the rollback notifications go there too); P2/P3 wait for
        # working hours.
        self.paging = AlarmTopic(
            self, "Paging", display_name=f"{name} P1", email=config.rollback.notification_email
        )
        self.low_priority = AlarmTopic(self, "LowPriority", display_name=f"{name} P2-P3")
        self.chat = (
            SlackChannel(self, "Chat", config=config.chat, topics=[self.paging.topic])
            if config.chat.enabled
            else None
        )

    def _alarms(self, config: StageConfig, distribution_id: str | None) -> None:
        self.auto_rollback = AutoRollback(
            self,
            "AutoRollback",
            load_balancer=self.service.load_balancer,
            target_group=self.service.target_group,
            deployment_group=self.deployment.deployment_group,
            config=config.rollback,
            topic=self.paging.topic,
            distribution_id=distribution_id,
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

    def _dashboard(self, distribution_id: str | None) -> ServiceDashboard:
        rb = self.auto_rollback
        # Named, so the rollback function can link it without a reference to it (the
        # dashboard already refers to the function: a reference back would be a cycle).
        # Dashboard names are per account, not per region: the region keeps them apart.
        dashboard_name = f"{self.stack_name}-{cdk.Aws.REGION}"
        rb.function.add_environment("DASHBOARD_NAME", dashboard_name)
        return ServiceDashboard(
            self,
            "Dashboard",
            load_balancer=self.service.load_balancer,
            target_group=self.service.target_group,
            rollback_function=rb.function,
            dead_letter_queue=rb.dead_letter_queue,
            distribution_id=distribution_id,
            dashboard_name=dashboard_name,
            alarms=[
                *rb.rollback_alarms,
                rb.target_5xx_rate_alarm,
                rb.dead_letter_alarm,
                rb.function_errors_alarm,
                *(t.alarm for t in self.severity_alarms.alarms),
            ],
        )

    def _grant_revisions(self) -> None:
        # The agent downloads revisions with the instance role; nothing else in the bucket.
        self._let_instances_read(self.buckets.artifacts.arn_for_objects(f"{REVISIONS_PREFIX}*"))

    def _let_instances_read(self, objects_arn: str) -> None:
        """The CodeDeploy agent fetches a revision (any version of it) with the instance role."""
        self.service.instance_role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[objects_arn]
            )
        )

    def _outputs(self) -> None:
        lb, dep, rb = self.service.load_balancer, self.deployment, self.auto_rollback
        direct = "ALB DNS name (direct access; with the edge enabled it answers 403)"
        push = "Bucket for CodeDeploy revisions (tools/release.py push --bucket)"
        decisions = "Rollback decisions and pages (subscribe on-call here)"
        log = "The rollback function (its log has one JSON line per decision)"
        self._output("LoadBalancerDns", lb.load_balancer_dns_name, direct)
        self._output("ArtifactBucket", self.buckets.artifacts.bucket_name, push)
        self._output("ApplicationName", dep.application.application_name, "CodeDeploy application")
        group = dep.deployment_group.deployment_group_name
        self._output("DeploymentGroupName", group, "CodeDeploy deployment group")
        self._output("RollbackTopicArn", rb.topic.topic_arn, decisions)
        self._output("RollbackFunctionName", rb.function.function_name, log)

    def _output(self, name: str, value: str, description: str) -> None:
        cdk.CfnOutput(self, name, value=value, description=description)

    def _acknowledge_nag_findings(self) -> None:
        """The findings of what this stack adds beside the kit's constructs."""
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
