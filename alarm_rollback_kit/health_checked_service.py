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

from alarm_rollback_kit.alb_access_logs import enable_alb_access_logs
from alarm_rollback_kit.compliance import KitConstruct, acknowledge, control_tower
from alarm_rollback_kit.config import ServiceConfig
from alarm_rollback_kit.origin_verify import ORIGIN_VERIFY_HEADER

__all__ = ["ORIGIN_VERIFY_HEADER", "HealthCheckedService"]


class HealthCheckedService(KitConstruct):
    """ALB + listener + health-checked target group + Auto Scaling group.

    ``behind_edge``: the ALB answers 403 to every request and its security group is left
    closed for the edge to open to CloudFront's prefix list; ``require_origin_header``
    then forwards the requests that carry ``X-Origin-Verify: <value>`` (CloudFront adds
    it; ``Edge.origin_verify_value``). Otherwise the listener is open to the internet.
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
        behind_edge: bool = False,
    ) -> None:
        super().__init__(scope, id_)
        self.config = config
        self.guarded = behind_edge
        self.load_balancer_security_group = self._security_group(
            vpc, "AlbSecurityGroup", outbound=False, purpose="ALB: viewers in, instances out"
        )
        self._admit_viewers(vpc)
        self.load_balancer = self._load_balancer(vpc)
        if config.access_logs:
            enable_alb_access_logs(self, self.load_balancer, access_log_bucket, prefix="alb")
        self._instances(vpc, instance_subnets)
        self.target_group = self._target_group(vpc)
        # Ingress only: the ALB's side is the inline egress rule in _admit_viewers.
        self.instance_security_group.add_ingress_rule(
            self.load_balancer_security_group, ec2.Port.tcp(config.app_port), "ALB to app"
        )
        self.listener = self._listener(config)
        self.web_acl = self._web_acl() if config.enable_waf else None

    def _instances(self, vpc: ec2.IVpc, instance_subnets: ec2.SubnetSelection) -> None:
        config = self.config
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="order-api instances: SSM Session Manager and reading revisions",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            ],
        )
        self.instance_security_group = self._security_group(
            vpc,
            "InstanceSecurityGroup",
            outbound=True,
            purpose="instances: app port from the ALB only",
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

    @property
    def listener_port(self) -> int:
        return 443 if self.config.certificate_arn else 80

    def require_origin_header(self, value: str) -> elbv2.ApplicationListenerRule:
        """Forward the requests carrying ``X-Origin-Verify: value``; the rest get 403.

        Only for a service built ``behind_edge``; pass the edge's ``origin_verify_value``
        (a deploy-time reference), never a literal."""
        if not self.guarded:
            raise ValueError("require_origin_header: the service was not built behind_edge")
        self.listener.add_action(
            "FromCloudFront",
            priority=1,
            action=elbv2.ListenerAction.forward([self.target_group]),
            conditions=[elbv2.ListenerCondition.http_header(ORIGIN_VERIFY_HEADER, [value])],
        )
        rule = self.listener.node.find_child("FromCloudFrontRule")
        assert isinstance(rule, elbv2.ApplicationListenerRule)
        return rule

    def _security_group(
        self, vpc: ec2.IVpc, id_: str, *, outbound: bool, purpose: str
    ) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self,
            id_,
            vpc=vpc,
            allow_all_outbound=outbound,
            description=f"{self.config.service_name} {purpose}",
        )

    def _admit_viewers(self, vpc: ec2.IVpc) -> None:
        # Inline, so it lands in the group's SecurityGroupEgress: CloudFormation removes
        # the allow-all egress rule EC2 gives every new group only when that property
        # lists a rule; separate AWS::EC2::SecurityGroupEgress resources leave it in place
        # (CloudFormation User Guide, AWS::EC2::SecurityGroup, SecurityGroupEgress). The
        # ALB's only outbound traffic is requests and health checks to the instances.
        group = self.load_balancer_security_group
        group.add_egress_rule(
            ec2.Peer.ipv4(vpc.vpc_cidr_block),
            ec2.Port.tcp(self.config.app_port),
            "requests and health checks to the instances' port, inside the VPC",
        )
        if not self.guarded:
            for port in {80, self.listener_port}:
                group.add_ingress_rule(
                    ec2.Peer.any_ipv4(), ec2.Port.tcp(port), "viewers over the internet"
                )

    def _load_balancer(self, vpc: ec2.IVpc) -> elbv2.ApplicationLoadBalancer:
        return elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.load_balancer_security_group,
            idle_timeout=Duration.seconds(self.config.idle_timeout_seconds),
            # Requests with malformed headers never reach the app (ELB User Guide).
            drop_invalid_header_fields=True,
            # None (a ServiceConfig used alone) is off; StageConfig turns it on outside
            # the sandbox, so a stage's load balancer cannot be deleted by accident.
            deletion_protection=bool(self.config.deletion_protection),
        )

    def _target_group(self, vpc: ec2.IVpc) -> elbv2.ApplicationTargetGroup:
        config = self.config
        hc = config.health_check
        return elbv2.ApplicationTargetGroup(
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

    def _listener(self, config: ServiceConfig) -> elbv2.ApplicationListener:
        guarded = self.guarded
        default = (
            elbv2.ListenerAction.fixed_response(
                403, content_type="text/plain", message_body="Forbidden"
            )
            if guarded
            else elbv2.ListenerAction.forward([self.target_group])
        )
        if not config.certificate_arn:
            return self.load_balancer.add_listener(
                "Http", port=80, open=False, default_action=default
            )
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

    def acknowledge_nag_findings(self) -> None:
        self._acknowledge_aws_solutions()
        self._acknowledge_control_tower()
        self._acknowledge_health_check_type()

    def _acknowledge_aws_solutions(self) -> None:
        if not self.guarded:
            acknowledge(
                self.load_balancer_security_group,
                [
                    (
                        "AwsSolutions-EC23",
                        "Without the CloudFront edge the ALB is the public entry point of the service and "
                        "must accept viewers from anywhere on its listener port.",
                    )
                ],
            )
        acknowledge(
            self.instance_role,
            [
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "AmazonSSMManagedInstanceCore]",
                    "AWS-maintained minimum for Session Manager and SSM agent; replaces SSH keys and "
                    "tracks SSM API changes that a hand-written copy would miss.",
                )
            ],
        )
        acknowledge(
            self.auto_scaling_group,
            [
                (
                    "AwsSolutions-AS3",
                    "Scaling activity is in the group's activity history and CodeDeploy's deployment "
                    "log; the kit keeps its topics for alarms and rollback decisions that need a human.",
                )
            ],
        )

    def _acknowledge_control_tower(self) -> None:
        cfg = self.config
        if not cfg.certificate_arn:
            acknowledge(
                self.listener,
                [
                    control_tower(
                        "alb_http_to_https_redirection_check",
                        "CT.ELASTICLOADBALANCING.PR.1: no service.certificate_arn, so the ALB has "
                        "no HTTPS listener to redirect to (only the sandbox stage may run so); "
                        "with a certificate the kit serves HTTPS and redirects port 80 to it.",
                    )
                ],
            )
        if not cfg.deletion_protection:
            acknowledge(
                self.load_balancer,
                [
                    control_tower(
                        "elbv2_deletion_protection_enabled_check",
                        "CT.ELASTICLOADBALANCING.PR.5: service.deletion_protection is off, the "
                        "sandbox default, so `make destroy` can remove the stage; every other "
                        "stage turns it on unless its config says otherwise.",
                    )
                ],
            )
        acknowledge(
            self.auto_scaling_group,
            [
                control_tower(
                    "autoscaling_multiple_az_check",
                    "CT.AUTOSCALING.PR.1: the group names its subnets (VPCZoneIdentifier), one in "
                    "each of at least two zones (service.max_azs >= 2); the control only counts "
                    "an explicit AvailabilityZones list, which cannot be combined with subnets "
                    "in a VPC.",
                ),
                control_tower(
                    "autoscaling_mixed_instances_policy_multiple_instance_types_check",
                    "CT.AUTOSCALING.PR.6: one instance type (service.instance_type) keeps every "
                    "instance of an in-place deployment identical, so a release that fails on "
                    "one fails on all and the ELB 5xx alarm sees it.",
                ),
            ],
        )
        launch_template = self.node.find_child("LaunchTemplate")
        findings = [
            control_tower(
                "ec2_launch_template_monitoring_enabled_check",
                "CT.EC2.PR.10: the rollback alarms use the ALB's one-minute metrics, not EC2 "
                "instance metrics; detailed monitoring would add cost for numbers nothing reads.",
            )
        ]
        if cfg.nat_gateways == 0:
            findings.append(
                control_tower(
                    "ec2_launch_template_public_ip_disabled_check",
                    "CT.EC2.PR.9: service.nat_gateways=0 (the sandbox default) puts the instances "
                    "in public subnets, where a public address is their only way to reach "
                    "CodeDeploy and S3; inbound they admit only the ALB's security group. With "
                    "NAT gateways they get no public address.",
                )
            )
        acknowledge(launch_template, findings)

    def _acknowledge_health_check_type(self) -> None:
        if self.config.elb_health_check:
            return
        acknowledge(
            self.auto_scaling_group,
            [
                control_tower(
                    "autoscaling_group_elb_healthcheck_required_check",
                    "CT.AUTOSCALING.PR.4: service.elb_health_check=false (the default). Instances "
                    "launched with the stack answer /health only once the first release reaches "
                    "them, and no deployment is sure to finish within the grace period, so ELB "
                    "health checks would replace them mid-install. The target group still routes "
                    "only to healthy targets; set it true once every launch installs a revision.",
                )
            ],
        )


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )
