"""Kit constructs in a bare ``cdk.Stack``, over created or imported service resources.

A user's stack is not the kit's sample stack: these helpers give the constructs the
smallest surroundings they need, either created in the stack (an ALB, a target group
behind it, an Auto Scaling group and a deployment group) or imported by attributes the
way resources of another stack or account are (``from_..._attributes``).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from alarm_rollback_kit.config import EdgeConfig
from alarm_rollback_kit.edge import Edge

ACCOUNT, REGION = "111122223333", "eu-west-1"
ALB_ARN = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/shop-web/50dc6c495c0c9188"
)
TG_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/shop-web/73e2d6bc24d8a067"
APPLICATION, GROUP = "shop-web", "shop-web-prod"


def bare_stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Bare")


def imported_service(
    stack: cdk.Stack, *, alb_arn: str = ALB_ARN, tg_arn: str = TG_ARN
) -> dict[str, Any]:
    """ALB, target group and deployment group of another stack, as keyword arguments."""
    return {
        "load_balancer": elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
            stack,
            "ImportedAlb",
            load_balancer_arn=alb_arn,
            security_group_id="sg-0123456789abcdef0",
        ),
        "target_group": elbv2.ApplicationTargetGroup.from_target_group_attributes(
            stack, "ImportedTargetGroup", target_group_arn=tg_arn
        ),
        "deployment_group": codedeploy.ServerDeploymentGroup.from_server_deployment_group_attributes(
            stack,
            "ImportedGroup",
            application=codedeploy.ServerApplication.from_server_application_name(
                stack, "ImportedApplication", APPLICATION
            ),
            deployment_group_name=GROUP,
        ),
    }


def created_service(stack: cdk.Stack) -> dict[str, Any]:
    """The same three resources created in ``stack`` (the smallest working set)."""
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0)
    alb = elbv2.ApplicationLoadBalancer(stack, "Alb", vpc=vpc, internet_facing=True)
    asg = autoscaling.AutoScalingGroup(
        stack,
        "Instances",
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        instance_type=ec2.InstanceType("t4g.small"),
        machine_image=ec2.MachineImage.latest_amazon_linux2023(
            cpu_type=ec2.AmazonLinuxCpuType.ARM_64
        ),
    )
    listener = alb.add_listener("Http", port=80, open=False)
    target_group = listener.add_targets("App", port=8080, targets=[asg])
    group = codedeploy.ServerDeploymentGroup(
        stack,
        "Group",
        auto_scaling_groups=[asg],
        load_balancers=[codedeploy.LoadBalancer.application(target_group)],
        install_agent=False,
    )
    return {"load_balancer": alb, "target_group": target_group, "deployment_group": group}


def public_vpc(stack: cdk.Stack) -> ec2.Vpc:
    """Two zones of public subnets only: the least an internet-facing ALB needs."""
    return ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)
        ],
    )


def bare_edge(stack: cdk.Stack, *, config: EdgeConfig | None = None, origin_port: int = 80) -> Edge:
    """An ``Edge`` in front of an imported ALB, opening that ALB's security group."""
    load_balancer = imported_service(stack)["load_balancer"]
    return Edge(
        stack,
        "Edge",
        config=config or EdgeConfig(),
        load_balancer=load_balancer,
        load_balancer_security_group=load_balancer.connections.security_groups[0],
        origin_port=origin_port,
    )
