"""CodeDeploy in-place deployments of the service, with traffic control through the ALB.

A server application and one deployment group over the Auto Scaling group. With the
target group attached, CodeDeploy takes each batch out of the ALB (waiting for the
deregistration delay), installs, and puts it back once healthy. The group rolls back a
failed or stopped deployment by itself; alarms that should stop a running deployment
are attached later with ``add_alarm`` (the auto-rollback construct does it).

``initial_revision``: a revision in S3 that the stack deploys once, when it is created, so
a new stack serves without a manual push. Not through the group's CloudFormation
``Deployment`` property: the resource reference says not to combine it with
``AutoRollbackConfiguration`` ("If you specify this property, don't specify the
Deployment property"; AWS::CodeDeploy::DeploymentGroup,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codedeploy-deploymentgroup.html),
and the kit's rollback depends on that configuration. A custom resource calls
CreateDeployment instead, on stack creation only, so later stack updates never redeploy it
over a newer release. CloudFormation does not wait for that deployment to finish.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct, IDependable

from alarm_rollback_kit.compliance import (
    KitConstruct,
    acknowledge,
    acknowledge_custom_resource_provider,
)

INITIAL_RELEASE_DESCRIPTION = "initial release, deployed by the stack on creation"


@dataclass(frozen=True, kw_only=True)
class S3Revision:
    """A zip bundle in S3 (CodeDeploy API Reference, S3Location)."""

    bucket: str
    key: str


def deploy_permissions(
    group: codedeploy.IServerDeploymentGroup | codedeploy.ILambdaDeploymentGroup,
    *,
    deployment_config_arn: str | None = None,
) -> list[iam.PolicyStatement]:
    """What CreateDeployment of a revision into ``group`` needs, resource by resource.

    CodeDeploy authorizes the call against the group, the revision against the application,
    and reads the deployment configuration (Service Authorization Reference, AWS CodeDeploy;
    the same set CDK's CodeDeployServerDeployAction grants): the group's own, unless the
    deployment names another (``deployment_config_arn``, as the rollback's Lambda undo does).
    """
    application_arn = cdk.Arn.format(
        cdk.ArnComponents(
            service="codedeploy",
            resource="application",
            resource_name=group.application.application_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        ),
        cdk.Stack.of(group),
    )
    config_arn = deployment_config_arn or group.deployment_config.deployment_config_arn
    return [
        iam.PolicyStatement(
            actions=["codedeploy:CreateDeployment"], resources=[group.deployment_group_arn]
        ),
        iam.PolicyStatement(
            actions=["codedeploy:GetApplicationRevision", "codedeploy:RegisterApplicationRevision"],
            resources=[application_arn],
        ),
        iam.PolicyStatement(actions=["codedeploy:GetDeploymentConfig"], resources=[config_arn]),
    ]


class InPlaceDeployment(KitConstruct):
    """``application``, ``deployment_group``, ``deployment_config`` and, with an
    ``initial_revision``, ``initial_release`` (the custom resource that deploys it) and
    ``initial_release_role`` (its provider function's role, shared by every
    AwsCustomResource of the stack; exposed for the cdk-nag acknowledgment)."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        auto_scaling_group: autoscaling.IAutoScalingGroup,
        target_group: elbv2.IApplicationTargetGroup,
        deployment_config_name: str,
        ignore_alarm_configuration: bool = False,
        initial_revision: S3Revision | None = None,
        initial_release_after: tuple[IDependable, ...] = (),
    ) -> None:
        super().__init__(scope, id_)
        self.application = codedeploy.ServerApplication(self, "Application")
        self.deployment_config = (
            codedeploy.ServerDeploymentConfig.from_server_deployment_config_name(
                self, "Config", deployment_config_name
            )
        )
        self.deployment_group = codedeploy.ServerDeploymentGroup(
            self,
            "DeploymentGroup",
            application=self.application,
            auto_scaling_groups=[auto_scaling_group],
            load_balancers=[codedeploy.LoadBalancer.application(target_group)],
            deployment_config=self.deployment_config,
            # The agent is installed by the launch template's user data.
            install_agent=False,
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True
            ),
            # CodeDeploy refuses to start a deployment while an attached alarm is in
            # ALARM; this switch lets a fix ship anyway (CodeDeploy API Reference,
            # AlarmConfiguration.ignorePollAlarmFailure / ignoreAlarmConfiguration).
            ignore_alarm_configuration=ignore_alarm_configuration,
        )
        self.initial_release = (
            self._initial_release(initial_revision, initial_release_after)
            if initial_revision
            else None
        )
        provider = self.initial_release.grant_principal if self.initial_release else None
        self.initial_release_role = provider if isinstance(provider, iam.Role) else None

    def _initial_release(
        self, revision: S3Revision, after: tuple[IDependable, ...]
    ) -> cr.AwsCustomResource:
        group = self.deployment_group
        call = cr.AwsSdkCall(
            service="CodeDeploy",
            action="createDeployment",
            parameters={
                "applicationName": self.application.application_name,
                "deploymentGroupName": group.deployment_group_name,
                "revision": {
                    "revisionType": "S3",
                    "s3Location": {
                        "bucket": revision.bucket,
                        "key": revision.key,
                        "bundleType": "zip",
                    },
                },
                "description": INITIAL_RELEASE_DESCRIPTION,
                "fileExistsBehavior": "OVERWRITE",
            },
            physical_resource_id=cr.PhysicalResourceId.from_response("deploymentId"),
        )
        release = cr.AwsCustomResource(
            self,
            "InitialRelease",
            on_create=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(deploy_permissions(group)),
            # The runtime's bundled SDK has the call; no npm fetch at deploy time.
            install_latest_aws_sdk=False,
        )
        # The instances must already be allowed to read the bundle when the agent starts.
        for dependency in after:
            release.node.add_dependency(dependency)
        return release

    def acknowledge_nag_findings(self) -> None:
        self._acknowledge_aws_solutions()
        self._acknowledge_control_tower()

    def _acknowledge_aws_solutions(self) -> None:
        acknowledge(
            self.deployment_group.role or self.deployment_group,
            [
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSCodeDeployRole]",
                    "The service-role policy CodeDeploy documents for EC2/ASG deployment groups with "
                    "load balancers; AWS updates it when CodeDeploy needs new permissions.",
                )
            ],
        )
        if self.initial_release_role is not None:
            acknowledge(
                self.initial_release_role,
                [
                    (
                        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AWSLambdaBasicExecutionRole]",
                        "Role of CDK's AwsCustomResource provider function: the AWS-managed minimum "
                        "for a function to write its own logs. Beyond that it may only create the "
                        "initial deployment in this one deployment group.",
                    )
                ],
            )

    def _acknowledge_control_tower(self) -> None:
        if self.initial_release_role is None:
            return
        acknowledge_custom_resource_provider(
            self.initial_release_role, "the initial release's CreateDeployment call"
        )
