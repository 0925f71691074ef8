"""The VPC the sample service runs in: two AZs, public subnets, flow logs.

With ``nat_gateways=0`` (the sandbox default) there are no private subnets with egress,
so the instances sit in public subnets and accept traffic only from the ALB's security
group; with one or more NAT gateways they move to private subnets. Flow logs go to
CloudWatch Logs so rejected traffic (a health check blocked by a security group is a
classic cause of "no healthy targets", the ALB's 503) can be traced. They hold client
addresses, so their log group is encrypted with a customer managed key (``LogsKey``).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from alarm_rollback_kit.config import ServiceConfig
from alarm_rollback_kit.keys import LogsKey


class Network(Construct):
    """A small VPC sized by ``config`` (its ``max_azs``, ``nat_gateways`` and
    ``availability_zones``). ``instance_subnets`` is where the service's instances belong."""

    def __init__(self, scope: Construct, id_: str, *, config: ServiceConfig) -> None:
        super().__init__(scope, id_)
        nat_gateways, availability_zones = config.nat_gateways, config.availability_zones
        subnets = [
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
        ]
        if nat_gateways:
            subnets.append(
                ec2.SubnetConfiguration(
                    name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                )
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            # Named zones: no look-up even in a stack with an explicit environment.
            availability_zones=list(availability_zones) or None,
            max_azs=None if availability_zones else config.max_azs,
            nat_gateways=nat_gateways,
            subnet_configuration=subnets,
            # Nothing in the kit uses the default security group; restricting it would add a
            # custom-resource Lambda to every deploy for no effect on this VPC.
            restrict_default_security_group=False,
        )
        self.logs_key = LogsKey(
            self,
            "FlowLogsKey",
            description="Encrypts the VPC flow logs (client addresses)",
            # Goes with its log group, which is deleted with the stack.
            removal_policy=RemovalPolicy.DESTROY,
        ).key
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=self.logs_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.instance_subnets = ec2.SubnetSelection(
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
            if nat_gateways
            else ec2.SubnetType.PUBLIC
        )
