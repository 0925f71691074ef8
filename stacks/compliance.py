"""cdk-nag AwsSolutions and the AWS Control Tower proactive controls, and every acknowledged finding.

``app.py`` registers cdk-nag once for the whole app (cdk-nag 3's ``Validations`` API), so
an unacknowledged finding fails ``cdk synth`` and the compliance test; unit tests of a
single construct do not register it. The Control Tower proactive controls (cfn-guard
rules, as bundled in ``cdklabs-cdk-validator-cfnguard``) are the second gate:
``register_control_tower`` adds them through the same ``Validations`` API, and
``tests/infra/test_compliance.py`` runs them under ``make test``. CDK drops a plugin's
finding when the resource, or a construct above it, acknowledges
``<plugin name>::<rule>``; so ``acknowledge_findings`` walks the app and acknowledges, on
the narrowest construct that causes it, each finding of either gate the kit accepts,
with its granular id and the reason. They all live here so a reviewer reads the kit's
exceptions in one place, and a user's own stack built from the kit's constructs gets the
same acknowledgments by calling ``acknowledge_findings`` on it.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from typing import Any

import aws_cdk as cdk
import jsii
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.constructs.auto_rollback import AutoRollback
from stacks.constructs.buckets import ServiceBuckets
from stacks.constructs.deployment import InPlaceDeployment
from stacks.constructs.edge import Edge
from stacks.constructs.health_checked_service import HealthCheckedService
from stacks.constructs.lambda_release import LambdaRelease
from stacks.constructs.network import Network
from stacks.constructs.orders_api import OrdersApi
from stacks.constructs.pre_traffic_hook import PreTrafficHook
from stacks.service_stack import REVISIONS_PREFIX, ServiceStack

Finding = tuple[str, str]


# The validator's plugin name, which CDK uses as the namespace of its rule ids.
CONTROL_TOWER = "cdk-validator-cfnguard"


def register(app: cdk.App) -> None:
    """Run AwsSolutions on every construct of ``app`` at synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def register_control_tower(app: cdk.App) -> None:
    """Run the AWS Control Tower proactive controls over every template of ``app`` at synth.

    Needs the dev dependency ``cdklabs-cdk-validator-cfnguard`` (imported here, so ``cdk
    synth`` without it still works)."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    cdk.Validations.of(app).add_plugins(WithNestedTemplates(CfnGuardValidator()))


def acknowledge(construct: IConstruct, findings: Iterable[Finding]) -> None:
    """Acknowledge ``(finding id, reason)`` pairs on ``construct`` and nothing wider.

    An id with ``::`` names its gate (``cdk-validator-cfnguard::rule_name``); one without
    is a cdk-nag AwsSolutions id."""
    cdk.Validations.of(construct).acknowledge(
        *(
            cdk.Acknowledgment(id=fid if "::" in fid else f"AwsSolutions::{fid}", reason=why)
            for fid, why in findings
        )
    )


def control_tower(rule: str, reason: str) -> Finding:
    """A Control Tower proactive-control finding, by the cfn-guard rule name it reports."""
    return (f"{CONTROL_TOWER}::{rule}", reason)


@jsii.implements(cdk.IPolicyValidationContext)
class _Context:
    """The context CDK passed, with more template paths."""

    def __init__(self, outer: cdk.IPolicyValidationContext, template_paths: list[str]) -> None:
        self._outer = outer
        self._template_paths = template_paths

    @property
    def template_paths(self) -> list[str]:
        return self._template_paths

    @property
    def stack_templates(self) -> list[cdk.PolicyValidationStack]:
        return list(self._outer.stack_templates)

    @property
    def app_construct(self) -> IConstruct:
        return self._outer.app_construct

    @property
    def account_id(self) -> str | None:
        return self._outer.account_id

    @property
    def region(self) -> str | None:
        return self._outer.region


@jsii.implements(cdk.IPolicyValidationPlugin)
class WithNestedTemplates:
    """A template-checking plugin that also sees nested stacks' templates.

    CDK hands plugins the templates of top-level stacks only, and the CloudFront edge is a
    nested stack. This passes its ``*.nested.template.json`` too, and names each violating
    resource's construct path (found by template file and logical id), so an
    acknowledgment on that construct applies wherever the resource lives.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        name: str = self._inner.name
        return name

    @property
    def version(self) -> str | None:
        version: str | None = self._inner.version
        return version

    @property
    def rule_ids(self) -> list[str] | None:
        ids: list[str] | None = self._inner.rule_ids
        return ids

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        paths = list(context.template_paths)
        outdir = os.path.dirname(paths[0]) if paths else ""
        nested = sorted(glob.glob(os.path.join(outdir, "*.nested.template.json")))
        report = self._inner.validate(_Context(context, paths + nested))
        where = _construct_paths(context.app_construct)
        return cdk.PolicyValidationPluginReport(
            success=report.success,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
            violations=[
                cdk.PolicyViolation(
                    rule_name=v.rule_name,
                    description=v.description,
                    fix=v.fix,
                    rule_metadata=v.rule_metadata,
                    # CDK counts only "error"/"fatal" once it has applied acknowledgments;
                    # the validator leaves severity unset, which would pass everything left.
                    severity=v.severity or "error",
                    violating_resources=[
                        cdk.PolicyViolatingResource(
                            locations=r.locations,
                            resource_logical_id=r.resource_logical_id,
                            template_path=r.template_path,
                            construct_path=where.get(
                                (os.path.basename(r.template_path), r.resource_logical_id)
                            ),
                        )
                        for r in v.violating_resources
                    ],
                )
                for v in report.violations
            ],
        )


def _construct_paths(root: IConstruct) -> dict[tuple[str, str], str]:
    """``(template file name, logical id)`` -> construct path, for every resource of the app."""
    found: dict[tuple[str, str], str] = {}
    for node in root.node.find_all():
        if isinstance(node, cdk.CfnResource):
            stack = cdk.Stack.of(node)
            found[(stack.template_file, stack.resolve(node.logical_id))] = node.node.path
    return found


def _service(svc: HealthCheckedService) -> None:
    if not svc.guarded:
        acknowledge(
            svc.load_balancer_security_group,
            [
                (
                    "AwsSolutions-EC23",
                    "Without the CloudFront edge the ALB is the public entry point of the service and "
                    "must accept viewers from anywhere on its listener port.",
                )
            ],
        )
    acknowledge(
        svc.instance_role,
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
        svc.auto_scaling_group,
        [
            (
                "AwsSolutions-AS3",
                "Scaling activity is in the group's activity history and CodeDeploy's deployment "
                "log; the kit keeps its topics for alarms and rollback decisions that need a human.",
            )
        ],
    )


def _auto_rollback(rb: AutoRollback) -> None:
    acknowledge(
        rb.idempotency_table,
        [
            (
                "AwsSolutions-DDB3",
                "Idempotency records of the rollback function: each expires by TTL within two "
                "days and only deduplicates concurrent invocations; a restore would bring back "
                "nothing anyone needs.",
            )
        ],
    )
    acknowledge(
        rb.dead_letter_queue,
        [
            (
                "AwsSolutions-SQS3",
                "This queue is the dead-letter queue: EventBridge's target DLQ and the function's "
                "on-failure destination. cdk-nag only recognizes DLQs named in a redrive policy.",
            )
        ],
    )
    policy = rb.function.role.node.try_find_child("DefaultPolicy") if rb.function.role else None
    acknowledge(
        policy or rb.function,
        [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "cloudwatch:GetMetricData, read-only, supports no resource-level permissions; the "
                "diagnosis reads ALB metrics with it. Every other statement names its resource.",
            ),
        ],
    )


def _deployment(dep: InPlaceDeployment) -> None:
    acknowledge(
        dep.deployment_group.role or dep.deployment_group,
        [
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRole]",
                "The service-role policy CodeDeploy documents for EC2/ASG deployment groups with "
                "load balancers; AWS updates it when CodeDeploy needs new permissions.",
            )
        ],
    )
    if dep.initial_release_role is not None:
        acknowledge(
            dep.initial_release_role,
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


def _lambda_release(release: LambdaRelease) -> None:
    acknowledge(
        release.deployment_group.role,
        [
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRoleForLambdaLimited]",
                "The service-role policy CodeDeploy documents for Lambda deployment groups: "
                "it lets CodeDeploy shift aliases and invoke hook functions and nothing wider; "
                "AWS updates it when CodeDeploy needs new permissions.",
            )
        ],
    )


def _lambda_release_hook(api: OrdersApi) -> None:
    # CDK's add_pre_hook lets the group's service role invoke the hook's qualified ARNs.
    role = api.handler_release.deployment_group.role
    policy = role.node.try_find_child("DefaultPolicy") if role else None
    hook = api.pre_traffic_hook
    acknowledge(
        policy or api.handler_release.deployment_group,
        [
            (
                f"AwsSolutions-IAM5[Resource::{_logical_id_token(hook.function)}:*]",
                "CodeDeploy invokes the pre-traffic hook function (any version or alias of "
                "that one function, as CDK's add_pre_hook grants it) and nothing else.",
            )
        ],
    )
    hook_policy = hook.role.node.try_find_child("DefaultPolicy")
    acknowledge(
        hook_policy or hook.role,
        [
            (
                f"AwsSolutions-IAM5[Resource::{_logical_id_token(api.handler)}:*]",
                "The hook invokes the order-api handler's versions: each release is a new "
                "version number, so the qualifier is a wildcard; the function is fixed and "
                "$LATEST (the unqualified ARN) is not covered.",
            )
        ],
    )


def _guard_pre_traffic_hook(hook: PreTrafficHook) -> None:
    acknowledge(hook.function, [_NOT_IN_VPC])
    acknowledge(
        hook.log_group,
        [_retention("The pre-traffic hook's verdicts; retention is api.log_retention_days.")],
    )


def _logical_id_token(construct: IConstruct) -> str:
    """The ``<LogicalId.Arn>`` form cdk-nag prints for a resource's ARN in a finding."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return f"<{cdk.Stack.of(construct).resolve(child.logical_id)}.Arn>"


def _service_stack(stack: ServiceStack) -> None:
    if stack.origin_verify_secret is not None:
        acknowledge(
            stack.origin_verify_secret,
            [
                (
                    "AwsSolutions-SMG4",
                    "The value is resolved into the CloudFront origin header and the ALB listener "
                    "rule only at deploy time; rotating it without a redeploy would make the ALB "
                    "answer 403 to every request. Rotate by updating the secret and redeploying.",
                )
            ],
        )
    artifacts = _logical_id_token(stack.buckets.artifacts)
    acknowledge(
        stack.service.instance_role,
        [
            (
                f"AwsSolutions-IAM5[Resource::{artifacts}/{REVISIONS_PREFIX}*]",
                "Instances must fetch whichever revision CodeDeploy deploys; they get GetObject and "
                "GetObjectVersion under revisions/ of this one bucket, nothing else.",
            )
        ],
    )


def _orders_api(api: OrdersApi) -> None:
    for function in (api.handler, api.worker):
        assert function.role is not None
        acknowledge(
            function.role,
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have "
                    "no resource-level permissions (Service Authorization Reference, AWS X-Ray). "
                    "Every other statement names its log group, the table or the queue.",
                )
            ],
        )
    acknowledge(
        api.rest_api,
        [
            (
                "AwsSolutions-APIG2",
                "The handler validates every body and answers RFC 9457 problems: 400 for a body "
                "that is not JSON, 422 with one entry per failing field. A gateway model would "
                "answer some of the same requests first, with another status and no field "
                "errors, and copy the rules into a second place. Path parameters are present "
                "whenever a resource matches; no method takes required headers or query strings.",
            )
        ],
    )
    if api.account_cloudwatch_role is not None:
        acknowledge(
            api.account_cloudwatch_role,
            [
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AmazonAPIGatewayPushToCloudWatchLogs]",
                    "The account-level role API Gateway writes execution and access logs with "
                    "(AWS::ApiGateway::Account); this is the policy the API Gateway Developer Guide "
                    "documents for it, and AWS updates it with the service.",
                )
            ],
        )
    for method in api.rest_api.methods:
        acknowledge(
            method,
            [
                (
                    "AwsSolutions-APIG4",
                    "order-api is the kit's public sample: anonymous clients create and read "
                    "sample orders, as on the ALB variant. Stage throttling bounds abuse (429 "
                    "with Retry-After); add an authorizer before real data goes in.",
                ),
                (
                    "AwsSolutions-COG4",
                    "Public sample API without users, so no Cognito user pool; see APIG4.",
                ),
            ],
        )
    acknowledge(
        api.rest_api.deployment_stage,
        [
            (
                "AwsSolutions-APIG3",
                "No WAF on the sample API: stage throttling bounds the request rate and it holds "
                "sample data only. Associate a WAFv2 web ACL with the stage before exposing real "
                "data; its blocks are already shaped as 403 problems (WAF_FILTERED).",
            )
        ],
    )


def _edge(edge: Edge) -> None:
    cfg = edge.config
    distribution: list[Finding] = []
    if not cfg.certificate_arn:
        distribution.append(
            (
                "AwsSolutions-CFR4",
                "No edge.certificate_arn: viewers reach the *.cloudfront.net name on CloudFront's "
                "default certificate, whose security policy CloudFront fixes (TLSv1) and does not "
                "let us raise. With edge.certificate_arn and edge.domain_names the kit sets "
                "TLSv1.2_2021.",
            )
        )
    if edge.origin_port == 80:
        distribution.append(
            (
                "AwsSolutions-CFR5",
                "No service.certificate_arn: the ALB has no certificate, so CloudFront reaches it "
                "over HTTP. The ALB admits only CloudFront's origin-facing prefix list and requests "
                "carrying the secret X-Origin-Verify header; with an ALB certificate the origin is "
                "HTTPS-only with TLSv1.2.",
            )
        )
    if edge.log_bucket is None:
        distribution.append(
            (
                "AwsSolutions-CFR3",
                "edge.standard_logging=false: CloudFront delivers no standard logs (legacy) to "
                "buckets in some opt-in Regions, and the stage turned them off rather than keep "
                "a bucket that stays empty. The ALB's access logs still record every request "
                "that reaches the origin.",
            )
        )
    if not cfg.geo_allow_countries:
        distribution.append(
            (
                "AwsSolutions-CFR1",
                "The order API has no country restriction requirement; edge.geo_allow_countries "
                "turns on an allowlist when one exists.",
            )
        )
    if not cfg.web_acl_arn:
        distribution.append(
            (
                "AwsSolutions-CFR2",
                "No edge.web_acl_arn: a CloudFront-scope web ACL must be created in us-east-1 and "
                "this stack deploys to the service's Region; set edge.web_acl_arn to attach one.",
            )
        )
    if distribution:
        acknowledge(edge.distribution, distribution)
    if edge.log_bucket is not None:
        acknowledge(
            edge.log_bucket,
            [
                (
                    "AwsSolutions-S1",
                    "This bucket is itself a log bucket (CloudFront standard logs); its server access "
                    "logs would need yet another bucket and would record only CloudFront's deliveries.",
                )
            ],
        )
    acknowledge(
        edge.prefix_list_lookup_policy,
        [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "ec2:DescribeManagedPrefixLists, read-only, supports no resource-level permissions; "
                "it finds CloudFront's origin-facing prefix list, whose id differs per Region.",
            )
        ],
    )
    acknowledge(
        edge.prefix_list_lookup_role,
        [
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "Role of CDK's AwsCustomResource provider function: the AWS-managed minimum for a "
                "function to write its own logs. Its one permission beyond that is the prefix-list "
                "read above.",
            )
        ],
    )


# --- AWS Control Tower proactive controls -----------------------------------------------------
# Rule names are the cfn-guard rules' own (the CT.* control id is in each reason).

_S3_NOTIFICATIONS = control_tower(
    "s3_event_notifications_enabled_check",
    "CT.S3.PR.4: nothing in the kit acts on object events; a notification target with no "
    "consumer would only add a resource to secure.",
)
_S3_OBJECT_LOCK = control_tower(
    "s3_bucket_object_lock_enabled_check",
    "CT.S3.PR.9: Object Lock would keep log objects past their lifecycle expiry and stop "
    "old revisions from ever being deleted; the buckets are versioned or write-once by an "
    "AWS service, retained on stack deletion and refuse plain HTTP.",
)
_LOG_BUCKET_VERSIONING = control_tower(
    "s3_bucket_versioning_enabled_check",
    "CT.S3.PR.11: a log bucket written once per object by an AWS log-delivery service and "
    "expired by lifecycle; versions would only keep deleted logs longer.",
)
_LOG_BUCKET_LOGGING = control_tower(
    "s3_bucket_logging_enabled_check",
    "CT.S3.PR.2: this bucket is itself a log bucket; its own access logs would need another "
    "bucket and would record only the log deliveries.",
)
_NOT_IN_VPC = control_tower(
    "lambda_inside_vpc_check",
    "CT.LAMBDA.PR.3: the function calls only AWS APIs and reaches no resource inside the "
    "VPC; in the VPC it would need a NAT gateway or interface endpoints (the sandbox has "
    "neither) to reach them.",
)


def _retention(reason: str) -> Finding:
    return control_tower(
        "cloudwatch_log_group_retention_period_check",
        f"CT.CLOUDWATCH.PR.2: {reason} A year's retention is not required for it, and "
        "keeping client data shorter is the point.",
    )


def _guard_service(svc: HealthCheckedService) -> None:
    cfg = svc.config
    if not cfg.certificate_arn:
        acknowledge(
            svc.listener,
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
            svc.load_balancer,
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
        svc.auto_scaling_group,
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
    launch_template = svc.node.find_child("LaunchTemplate")
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


def _guard_health_check_type(svc: HealthCheckedService) -> None:
    if svc.config.elb_health_check:
        return
    acknowledge(
        svc.auto_scaling_group,
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


def _guard_network(network: Network) -> None:
    acknowledge(
        network.vpc,
        [
            control_tower(
                "subnet_auto_assign_public_ip_disabled_check",
                "CT.EC2.PR.11: public subnets of an internet-facing ALB (and, without NAT "
                "gateways, of the instances, which need a public address to reach AWS APIs).",
            )
        ],
    )
    acknowledge(
        network.flow_log_group,
        [_retention("Rejected-traffic flow logs for tracing a blocked health check (30 days).")],
    )


def _guard_buckets(buckets: ServiceBuckets) -> None:
    sse_s3 = control_tower(
        "s3_bucket_default_encryption_kms_check",
        "CT.S3.PR.10: SSE-S3. ALB access logs can only be delivered to a bucket encrypted "
        "with S3-managed keys (ELB User Guide, access logs bucket requirements); the "
        "artifact bucket's revisions are read by the CodeDeploy agent with the instance "
        "role, and a KMS key would add a key policy to keep right for no reader it stops.",
    )
    acknowledge(
        buckets.access_logs,
        [sse_s3, _S3_NOTIFICATIONS, _S3_OBJECT_LOCK, _LOG_BUCKET_VERSIONING, _LOG_BUCKET_LOGGING],
    )
    acknowledge(buckets.artifacts, [sse_s3, _S3_NOTIFICATIONS, _S3_OBJECT_LOCK])


def _guard_auto_rollback(rb: AutoRollback) -> None:
    for alarm in rb.rollback_alarms:
        acknowledge(
            alarm,
            [
                control_tower(
                    "cloudwatch_alarm_action_check",
                    "CT.CLOUDWATCH.PR.1: the rollback alarms act through EventBridge (the "
                    "state-change rule invokes the rollback function) and through CodeDeploy's "
                    "alarm configuration, not through alarm actions.",
                )
            ],
        )
    acknowledge(
        rb.dead_letter_queue,
        [
            control_tower(
                "sqs_dlq_check",
                "CT.SQS.PR.1: this queue is a dead-letter queue (EventBridge target DLQ and "
                "the function's on-failure destination). Its RedriveAllowPolicy is denyAll "
                "because no SQS queue redrives into it; the control accepts only allowAll or "
                "byQueue, both wider.",
            )
        ],
    )
    acknowledge(rb.function, [_NOT_IN_VPC])
    logs = rb.node.find_child("FunctionLogs")
    acknowledge(
        logs,
        [
            _retention("The rollback function's decision log."),
            control_tower(
                "cloudwatch_log_group_encrypted_check",
                "CT.CLOUDWATCH.PR.3: holds the rollback decisions (deployment ids, alarm "
                "names, metric figures), no client data; CloudWatch Logs encrypts it at rest "
                "with its own key.",
            ),
        ],
    )


def _guard_idempotency_table(rb: AutoRollback) -> None:
    acknowledge(
        rb.idempotency_table,
        [
            control_tower(
                "dynamodb_table_pitr_enabled_check",
                "CT.DYNAMODB.PR.1: claim records that expire after two days (TTL) and only "
                "stop a second rollback of the same release; losing them costs nothing a "
                "restore would bring back.",
            ),
            control_tower(
                "dynamodb_table_encrypted_kms_check",
                "CT.DYNAMODB.PR.2: holds deployment ids, alarm ARNs and times, no client data; "
                "DynamoDB encrypts it at rest with an AWS owned key.",
            ),
        ],
    )


def _guard_deployment(dep: InPlaceDeployment) -> None:
    if dep.initial_release_role is None:
        return
    # The provider function of CDK's AwsCustomResource (one per stack) and its log group.
    provider = dep.initial_release_role.node.scope
    assert provider is not None
    acknowledge(
        provider,
        [
            _NOT_IN_VPC,
            control_tower(
                "cloudwatch_log_group_encrypted_check",
                "CT.CLOUDWATCH.PR.3: CDK's custom-resource provider log, which records the "
                "initial release's CreateDeployment call and no client data.",
            ),
        ],
    )


def _guard_orders_api(api: OrdersApi) -> None:
    for group in (
        api.access_log_group,
        api.execution_log_group,
        api.node.find_child("HandlerLogs"),
        api.node.find_child("WorkerLogs"),
    ):
        acknowledge(group, [_retention("Retention is api.log_retention_days (default 30).")])
    for function in (api.handler, api.worker):
        acknowledge(function, [_NOT_IN_VPC])
    acknowledge(
        api.rest_api,
        [
            control_tower(
                "lambda_function_public_access_prohibited_check",
                "CT.LAMBDA.PR.2: each permission's principal is apigateway.amazonaws.com with "
                "SourceArn set to this API's execute-api ARN for that method and path; the "
                "control recognizes only a literal or a Ref/GetAtt, not the Fn::Join the ARN "
                "is built with.",
            )
        ],
    )


def _guard_edge(edge: Edge) -> None:
    cfg = edge.config
    findings = [
        control_tower(
            "cloudfront_default_root_object_configured_check",
            "CT.CLOUDFRONT.PR.1: the origin is an API, not a website; '/' is not an object.",
        ),
        control_tower(
            "cloudfront_origin_failover_enabled_check",
            "CT.CLOUDFRONT.PR.4: one ALB origin; an origin group would fail over only GET, "
            "HEAD and OPTIONS, never the POST /orders the kit protects, and would hide the "
            "ALB's 5xx that the rollback alarms need to see.",
        ),
    ]
    if not cfg.certificate_arn:
        for rule, control in (
            ("cloudfront_custom_ssl_certificate_check", "CT.CLOUDFRONT.PR.6"),
            ("cloudfront_sni_enabled_check", "CT.CLOUDFRONT.PR.7"),
            ("cloudfront_security_policy_check", "CT.CLOUDFRONT.PR.9"),
        ):
            findings.append(
                control_tower(
                    rule,
                    f"{control}: no edge.certificate_arn, so viewers use *.cloudfront.net on "
                    "CloudFront's default certificate, whose TLS settings CloudFront fixes; "
                    "with a certificate the kit serves it by SNI with TLSv1.2_2021.",
                )
            )
    if edge.log_bucket is None:
        findings.append(
            control_tower(
                "cloudfront_access_logs_enabled_check",
                "CT.CLOUDFRONT.PR.5: edge.standard_logging=false, for a Region CloudFront "
                "delivers no standard logs (legacy) to; the ALB's access logs still record "
                "every request that reaches the origin.",
            )
        )
    if edge.origin_port == 80:
        findings.append(
            control_tower(
                "cloudfront_traffic_to_origin_encrypted_check",
                "CT.CLOUDFRONT.PR.8: sandbox only (any other stage must set "
                "service.certificate_arn, which makes the origin HTTPS-only with TLSv1.2). "
                "Without an ALB certificate CloudFront reaches the ALB over HTTP and the "
                "X-Origin-Verify header crosses the internet in clear text.",
            )
        )
    acknowledge(edge.distribution, findings)
    if edge.log_bucket is not None:
        acknowledge(
            edge.log_bucket,
            [
                control_tower(
                    "s3_bucket_default_encryption_kms_check",
                    "CT.S3.PR.10: CloudFront standard logs (legacy) are written through a "
                    "bucket ACL grant to CloudFront's log-delivery account; SSE-S3 needs no "
                    "key policy for that writer.",
                ),
                _S3_NOTIFICATIONS,
                _S3_OBJECT_LOCK,
                _LOG_BUCKET_VERSIONING,
                _LOG_BUCKET_LOGGING,
            ],
        )
    # The provider function of CDK's AwsCustomResource (one per stack) and its log group.
    provider = edge.prefix_list_lookup_role.node.scope
    assert provider is not None
    acknowledge(
        provider,
        [
            _NOT_IN_VPC,
            control_tower(
                "cloudwatch_log_group_encrypted_check",
                "CT.CLOUDWATCH.PR.3: CDK's custom-resource provider log, which records the "
                "prefix-list look-up at deploy time and no client data.",
            ),
        ],
    )


_BY_TYPE: list[tuple[type, Callable[..., None]]] = [
    (HealthCheckedService, _service),
    (InPlaceDeployment, _deployment),
    (LambdaRelease, _lambda_release),
    (AutoRollback, _auto_rollback),
    (OrdersApi, _orders_api),
    (OrdersApi, _lambda_release_hook),
    (Edge, _edge),
    (ServiceStack, _service_stack),
    (HealthCheckedService, _guard_service),
    (Network, _guard_network),
    (ServiceBuckets, _guard_buckets),
    (AutoRollback, _guard_auto_rollback),
    (AutoRollback, _guard_idempotency_table),
    (InPlaceDeployment, _guard_deployment),
    (HealthCheckedService, _guard_health_check_type),
    (OrdersApi, _guard_orders_api),
    (PreTrafficHook, _guard_pre_traffic_hook),
    (Edge, _guard_edge),
]


def acknowledge_findings(root: IConstruct) -> None:
    """Apply the kit's acknowledgments to every kit construct under ``root``."""
    for node in root.node.find_all():
        for cls, apply in _BY_TYPE:
            if isinstance(node, cls):
                apply(node)
