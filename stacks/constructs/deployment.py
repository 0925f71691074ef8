"""CodeDeploy in-place deployments of the service, with traffic control through the ALB.

A server application and one deployment group over the Auto Scaling group. With the
target group attached, CodeDeploy takes each batch out of the ALB (waiting for the
deregistration delay), installs, and puts it back once healthy. The group rolls back a
failed or stopped deployment by itself; alarms that should stop a running deployment
are attached later with ``add_alarm`` (the auto-rollback construct does it).
"""

from __future__ import annotations

from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct


class InPlaceDeployment(Construct):
    """``application``, ``deployment_group`` and ``deployment_config``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        auto_scaling_group: autoscaling.IAutoScalingGroup,
        target_group: elbv2.IApplicationTargetGroup,
        deployment_config_name: str,
        ignore_alarm_configuration: bool = False,
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
