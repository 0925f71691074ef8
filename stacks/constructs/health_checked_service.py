"""An internet-facing ALB in front of an Auto Scaling group, with a health check that fits.

The health check's path and success codes come from config so they match what ``/health``
really returns (a ``/health`` that answers 204 fails AWS's default matcher ``200``: the
incident's health-check lesson, docs/incident.md), and its interval, thresholds and the deregistration delay are tuned for
fast in-place deploys and rollbacks. Instances run a launch template with IMDSv2
required and encrypted volumes, and install the CodeDeploy agent at boot. The ALB writes
access logs, whose ``target_status_code`` of ``-`` is how one tells an ALB-generated 502
from one the application sent.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from stacks.config import ServiceConfig
from stacks.constructs.alb_access_logs import enable_alb_access_logs

# Header CloudFront adds and the listener requires when the service sits behind the edge.
ORIGIN_VERIFY_HEADER = "X-Origin-Verify"


class HealthCheckedService(Construct):
    """ALB + listener + health-checked target group + Auto Scaling group.

    ``origin_verify_secret``: when given, the ALB answers 403 unless the request carries
    ``X-Origin-Verify: <secret>`` (CloudFront adds it), and the security group is left
    closed for the edge to open to CloudFront's prefix list; otherwise the listener is
    open to the internet.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        vpc: ec2.IVpc,
        instance_subnets: ec2.SubnetSelection,
        config: ServiceConfig,
        access_log_bucket: s3.IBucket,
        origin_verify_secret: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.config = config
        listener_port = 443 if config.certificate_arn else 80
        self.guarded = origin_verify_secret is not None

        self.load_balancer_security_group = ec2.SecurityGroup(
            self,
            "AlbSecurityGroup",
            vpc=vpc,
            allow_all_outbound=False,
            description=f"{config.service_name} ALB: viewers in, instances out",
        )
        # Inline, so it lands in the group's SecurityGroupEgress: CloudFormation removes
        # the allow-all egress rule EC2 gives every new group only when that property
        # lists a rule; separate AWS::EC2::SecurityGroupEgress resources leave it in place
        # (CloudFormation User Guide, AWS::EC2::SecurityGroup, SecurityGroupEgress). The
        # ALB's only outbound traffic is requests and health checks to the instances.
        self.load_balancer_security_group.add_egress_rule(
            ec2.Peer.ipv4(vpc.vpc_cidr_block),
            ec2.Port.tcp(config.app_port),
            "requests and health checks to the instances' port, inside the VPC",
        )
        if origin_verify_secret is None:
            for port in {80, listener_port}:
                self.load_balancer_security_group.add_ingress_rule(
                    ec2.Peer.any_ipv4(), ec2.Port.tcp(port), "viewers over the internet"
                )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.load_balancer_security_group,
            idle_timeout=Duration.seconds(config.idle_timeout_seconds),
            # Requests with malformed headers never reach the app (ELB User Guide).
            drop_invalid_header_fields=True,
            # None (a ServiceConfig used alone) is off; StageConfig turns it on outside
            # the sandbox, so a stage's load balancer cannot be deleted by accident.
            deletion_protection=bool(config.deletion_protection),
        )
        if config.access_logs:
            enable_alb_access_logs(self, self.load_balancer, access_log_bucket, prefix="alb")

        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="order-api instances: SSM Session Manager and reading revisions",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        self.instance_security_group = ec2.SecurityGroup(
            self,
            "InstanceSecurityGroup",
            vpc=vpc,
            allow_all_outbound=True,
            description=f"{config.service_name} instances: app port from the ALB only",
        )
        self.auto_scaling_group = autoscaling.AutoScalingGroup(
            self,
            "Instances",
            vpc=vpc,
            vpc_subnets=instance_subnets,
            launch_template=self._launch_template(config),
            min_capacity=config.min_capacity,
            max_capacity=config.max_capacity,
            health_checks=self._health_checks(config),
        )

        hc = config.health_check
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=vpc,
            port=config.app_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.INSTANCE,
            targets=[self.auto_scaling_group],
            deregistration_delay=Duration.seconds(config.deregistration_delay_seconds),
            health_check=elbv2.HealthCheck(
                path=hc.path,
                healthy_http_codes=hc.success_codes,
                interval=Duration.seconds(hc.interval_seconds),
                timeout=Duration.seconds(hc.timeout_seconds),
                healthy_threshold_count=hc.healthy_threshold,
                unhealthy_threshold_count=hc.unhealthy_threshold,
            ),
        )
        # Ingress only: the ALB's side is the inline egress rule above.
        self.instance_security_group.add_ingress_rule(
            self.load_balancer_security_group, ec2.Port.tcp(config.app_port), "ALB to app"
        )

        self.listener = self._listener(config, listener_port, origin_verify_secret)
        self.web_acl = self._web_acl() if config.enable_waf else None

    @staticmethod
    def _health_checks(config: ServiceConfig) -> autoscaling.HealthChecks:
        # EC2 status checks only, by default: instances launched with the stack have no
        # release until CodeDeploy's first deployment has reached them, which nothing
        # guarantees within the grace period, and with ELB checks Auto Scaling would
        # terminate them mid-install (EC2 Auto Scaling User Guide, health checks and the
        # health check grace period). The ALB still routes only to healthy targets.
        grace = Duration.minutes(5)
        if config.elb_health_check:
            return autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                grace_period=grace,
            )
        return autoscaling.HealthChecks.ec2(grace_period=grace)

    def _launch_template(self, config: ServiceConfig) -> ec2.LaunchTemplate:
        instance_type = ec2.InstanceType(config.instance_type)
        cpu = (
            ec2.AmazonLinuxCpuType.ARM_64
            if instance_type.architecture == ec2.InstanceArchitecture.ARM_64
            else ec2.AmazonLinuxCpuType.X86_64
        )
        user_data = ec2.UserData.for_linux()
        user_data.add_commands(
            "set -euo pipefail",
            "dnf install -y ruby wget python3",
            # The agent's installer lives in a per-region bucket (CodeDeploy User Guide,
            # "Install the CodeDeploy agent for Amazon Linux").
            f"cd /tmp && wget -q https://aws-codedeploy-{Aws.REGION}.s3.{Aws.REGION}."
            f"{Aws.URL_SUFFIX}/latest/install",
            "chmod +x ./install && ./install auto",
            "systemctl enable --now codedeploy-agent",
        )
        return ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            instance_type=instance_type,
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=cpu),
            role=self.instance_role,
            security_group=self.instance_security_group,
            user_data=user_data,
            require_imdsv2=True,
            # Public subnets (no NAT) need a public address for the agent to reach AWS.
            associate_public_ip_address=config.nat_gateways == 0,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        8, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )

    def _listener(
        self, config: ServiceConfig, port: int, origin_verify_secret: str | None
    ) -> elbv2.ApplicationListener:
        forward = elbv2.ListenerAction.forward([self.target_group])
        guarded = origin_verify_secret is not None
        default = (
            elbv2.ListenerAction.fixed_response(
                403, content_type="text/plain", message_body="Forbidden"
            )
            if guarded
            else forward
        )
        if config.certificate_arn:
            listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                open=False,
                default_action=default,
                certificates=[elbv2.ListenerCertificate.from_arn(config.certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            )
            # Behind the edge, port 80 stays closed to the internet as well.
            self.load_balancer.add_redirect(source_port=80, target_port=443, open=not guarded)
        else:
            listener = self.load_balancer.add_listener(
                "Http", port=80, open=False, default_action=default
            )
        if guarded:
            listener.add_action(
                "FromCloudFront",
                priority=1,
                action=forward,
                conditions=[
                    elbv2.ListenerCondition.http_header(
                        ORIGIN_VERIFY_HEADER, [origin_verify_secret or ""]
                    )
                ],
            )
        return listener

    def _web_acl(self) -> wafv2.CfnWebACL:
        def managed(name: str, priority: int) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name
                    )
                ),
                visibility_config=_visibility(name),
            )

        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("order-api-alb"),
            rules=[
                managed("AWSManagedRulesCommonRuleSet", 0),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 1),
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.load_balancer.load_balancer_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )
