"""cdk-nag AwsSolutions checks for the whole app, and every acknowledged finding.

``app.py`` registers the plugin once for the whole app (cdk-nag 3's ``Validations``
API), so an unacknowledged finding fails ``cdk synth`` and the compliance test; unit tests
of a single construct do not register it. ``acknowledge_findings`` walks the app and
acknowledges, on the narrowest construct that causes it, each finding the kit accepts,
with its granular id and the reason. They all live here so a reviewer reads the kit's
exceptions in one place, and a user's own stack built from the kit's constructs gets the
same acknowledgments by calling ``acknowledge_findings`` on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.constructs.auto_rollback import AutoRollback
from stacks.constructs.deployment import InPlaceDeployment
from stacks.constructs.edge import Edge
from stacks.constructs.health_checked_service import HealthCheckedService
from stacks.constructs.orders_api import OrdersApi
from stacks.service_stack import REVISIONS_PREFIX, ServiceStack

Finding = tuple[str, str]


def register(app: cdk.App) -> None:
    """Run AwsSolutions on every construct of ``app`` at synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def acknowledge(construct: IConstruct, findings: Iterable[Finding]) -> None:
    """Acknowledge ``(finding id, reason)`` pairs on ``construct`` and nothing wider."""
    cdk.Validations.of(construct).acknowledge(
        *(cdk.Acknowledgment(id=f"AwsSolutions::{fid}", reason=why) for fid, why in findings)
    )


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


_BY_TYPE: list[tuple[type, Callable[..., None]]] = [
    (HealthCheckedService, _service),
    (InPlaceDeployment, _deployment),
    (AutoRollback, _auto_rollback),
    (OrdersApi, _orders_api),
    (Edge, _edge),
    (ServiceStack, _service_stack),
]


def acknowledge_findings(root: IConstruct) -> None:
    """Apply the kit's acknowledgments to every kit construct under ``root``."""
    for node in root.node.find_all():
        for cls, apply in _BY_TYPE:
            if isinstance(node, cls):
                apply(node)
