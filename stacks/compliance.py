"""The app's compliance gates, and the acknowledgments of the sample's own constructs.

Two gates run at synth through CDK's ``Validations`` API: cdk-nag AwsSolutions
(``register``, once for the whole app in ``app.py``) and the AWS Control Tower proactive
controls (``register_control_tower``: the cfn-guard rules bundled in
``cdklabs-cdk-validator-cfnguard``, which ``tests/infra/test_compliance.py`` runs under
``make test``); unit tests of a single construct register neither. An unacknowledged
finding fails the synth.

The kit's constructs carry their own acknowledgments (``alarm_rollback_kit.compliance``:
each construct's ``acknowledge_nag_findings``, applied by ``acknowledge_findings``), and
the service stack acknowledges what it adds beside them, so this module imports none of
the stacks. What stays here are the findings of the sample's own constructs (the orders
API, the network, the buckets), each on the narrowest construct with its granular id and
the reason.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import jsii
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from alarm_rollback_kit import compliance as kit
from alarm_rollback_kit.compliance import (
    CONTROL_TOWER,
    LOG_BUCKET_LOGGING,
    LOG_BUCKET_VERSIONING,
    NOT_IN_VPC,
    S3_NOTIFICATIONS,
    S3_OBJECT_LOCK,
    acknowledge,
    control_tower,
    retention,
)
from stacks.constructs.buckets import ServiceBuckets
from stacks.constructs.lambda_release import LambdaRelease
from stacks.constructs.network import Network
from stacks.constructs.orders_api import OrdersApi
from stacks.constructs.pre_traffic_hook import PreTrafficHook

__all__ = [
    "CONTROL_TOWER",
    "WithNestedTemplates",
    "acknowledge_findings",
    "register",
    "register_control_tower",
]


def register(app: cdk.App) -> None:
    """Run AwsSolutions on every construct of ``app`` at synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def register_control_tower(app: cdk.App) -> None:
    """Run the AWS Control Tower proactive controls over every template of ``app`` at synth.

    Needs the dev dependency ``cdklabs-cdk-validator-cfnguard`` (imported here, so ``cdk
    synth`` without it still works)."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    cdk.Validations.of(app).add_plugins(WithNestedTemplates(CfnGuardValidator()))


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


def _guard_orders_api(api: OrdersApi) -> None:
    for group in (
        api.access_log_group,
        api.execution_log_group,
        api.node.find_child("HandlerLogs"),
        api.node.find_child("WorkerLogs"),
    ):
        acknowledge(group, [retention("Retention is api.log_retention_days (default 30).")])
    for function in (api.handler, api.worker):
        acknowledge(function, [NOT_IN_VPC])
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
        [retention("Rejected-traffic flow logs for tracing a blocked health check (30 days).")],
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
        [sse_s3, S3_NOTIFICATIONS, S3_OBJECT_LOCK, LOG_BUCKET_VERSIONING, LOG_BUCKET_LOGGING],
    )
    acknowledge(buckets.artifacts, [sse_s3, S3_NOTIFICATIONS, S3_OBJECT_LOCK])


def _logical_id_token(construct: IConstruct) -> str:
    """The ``<LogicalId.Arn>`` form cdk-nag prints for a resource's ARN in a finding."""
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return f"<{cdk.Stack.of(construct).resolve(child.logical_id)}.Arn>"


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
    acknowledge(hook.function, [NOT_IN_VPC])
    acknowledge(
        hook.log_group,
        [retention("The pre-traffic hook's verdicts; retention is api.log_retention_days.")],
    )


_BY_TYPE: list[tuple[type, Callable[..., None]]] = [
    (LambdaRelease, _lambda_release),
    (OrdersApi, _lambda_release_hook),
    (PreTrafficHook, _guard_pre_traffic_hook),
    (OrdersApi, _orders_api),
    (OrdersApi, _guard_orders_api),
    (Network, _guard_network),
    (ServiceBuckets, _guard_buckets),
]


def acknowledge_findings(root: IConstruct) -> None:
    """The kit constructs' acknowledgments, then the sample constructs' under ``root``."""
    kit.acknowledge_findings(root)
    for node in root.node.find_all():
        for cls, apply in _BY_TYPE:
            if isinstance(node, cls):
                apply(node)
