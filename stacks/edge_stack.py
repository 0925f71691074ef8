"""The CloudFront edge as a nested stack of the service stack.

The rollback function in the service stack needs the distribution id (to invalidate
cached errors after a rollback) and the distribution needs the service's ALB, so two
top-level stacks would reference each other. A nested stack breaks the cycle: the parent
passes the ALB's DNS name, security group id and the secret's ARN in as parameters and
reads the distribution id back from an output, all inside one deployment. Its template
is written to ``cdk.out`` as ``*.nested.template.json``.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from alarm_rollback_kit.edge import Edge
from stacks.config import EdgeConfig


class EdgeStack(cdk.NestedStack):
    """Holds one ``Edge``; see that construct for the arguments."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EdgeConfig,
        load_balancer: elbv2.IApplicationLoadBalancer,
        load_balancer_security_group: ec2.ISecurityGroup,
        origin_port: int,
        origin_verify_value: str,
        origin_domain_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.edge = Edge(
            self,
            "Edge",
            config=config,
            load_balancer=load_balancer,
            load_balancer_security_group=load_balancer_security_group,
            origin_port=origin_port,
            origin_verify_value=origin_verify_value,
            origin_domain_name=origin_domain_name,
        )
