"""A service that already runs adds alarm-rollback-kit to its own CDK app.

The ALB, its target group and the CodeDeploy deployment group exist already (another
stack or team made them); they are imported by attributes from this folder's
``cdk.json`` and the kit is added below them. cdk-nag runs over the app, and one call
acknowledges the kit's own reviewed findings, so any finding left is the app's.
"""

import aws_cdk as cdk
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from cdk_nag import AwsSolutionsChecks

from alarm_rollback_kit import AutoRollback, RollbackConfig, acknowledge_findings

app = cdk.App()
stack = cdk.Stack(app, "existing-service-rollback")
existing = stack.node.get_context("existing_service")
alb = elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
    stack,
    "Alb",
    load_balancer_arn=existing["load_balancer_arn"],
    security_group_id=existing["security_group_id"],
)
target_group = elbv2.ApplicationTargetGroup.from_target_group_attributes(
    stack, "TargetGroup", target_group_arn=existing["target_group_arn"]
)
group = codedeploy.ServerDeploymentGroup.from_server_deployment_group_attributes(
    stack,
    "DeploymentGroup",
    application=codedeploy.ServerApplication.from_server_application_name(
        stack, "Application", existing["application_name"]
    ),
    deployment_group_name=existing["deployment_group_name"],
)
AutoRollback(
    stack,
    "AutoRollback",
    load_balancer=alb,
    target_group=target_group,
    deployment_group=group,
    config=RollbackConfig(elb_5xx_threshold=80, bake_minutes=45),
)
acknowledge_findings(app)
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
