"""ALB access logs for an environment-agnostic stack.

CDK's ``log_access_logs`` needs the region at synth to pick the bucket-policy principal.
The kit synthesizes without an environment, so the choice moves to deploy time: regions
opened before August 2022 deliver as a regional Elastic Load Balancing account, newer
ones as the ``logdelivery.elasticloadbalancing.amazonaws.com`` service (ELB User Guide,
"Enable access logs for your Application Load Balancer", step 2). The policy grants the
service principal everywhere and the regional account where one exists; elsewhere that
statement names the stack's own account, which already owns the bucket.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import region_info
from constructs import Construct

_FN_OR_MAX = 10  # Fn::Or takes 2..10 conditions (CloudFormation condition functions)


def _any_of(
    scope: Construct, id_: str, conditions: list[cdk.ICfnConditionExpression]
) -> cdk.ICfnConditionExpression:
    while len(conditions) > _FN_OR_MAX:
        conditions = [
            cdk.Fn.condition_or(*conditions[i : i + _FN_OR_MAX])
            if len(conditions[i : i + _FN_OR_MAX]) > 1
            else conditions[i]
            for i in range(0, len(conditions), _FN_OR_MAX)
        ]
    return cdk.Fn.condition_or(*conditions)


def enable_alb_access_logs(
    scope: Construct, load_balancer: elbv2.ApplicationLoadBalancer, bucket: s3.IBucket, prefix: str
) -> None:
    """Point ``load_balancer``'s access logs at ``bucket/prefix`` in any region."""
    accounts = {r.name: r.elbv2_account for r in region_info.RegionInfo.regions if r.elbv2_account}
    mapping = cdk.CfnMapping(
        scope,
        "ElbLogDeliveryAccounts",
        mapping={name: {"account": account} for name, account in sorted(accounts.items())},
    )
    legacy = cdk.CfnCondition(
        scope,
        "ElbLogDeliveryByAccount",
        expression=_any_of(
            scope,
            "Regions",
            [cdk.Fn.condition_equals(cdk.Aws.REGION, name) for name in sorted(accounts)],
        ),
    )
    regional_account = cdk.Token.as_string(
        cdk.Fn.condition_if(
            legacy.logical_id, mapping.find_in_map(cdk.Aws.REGION, "account"), cdk.Aws.ACCOUNT_ID
        )
    )
    logs_arn = bucket.arn_for_objects(f"{prefix}/AWSLogs/{cdk.Aws.ACCOUNT_ID}/*")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[logs_arn],
            principals=[iam.ServicePrincipal("logdelivery.elasticloadbalancing.amazonaws.com")],
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[logs_arn],
            principals=[iam.ArnPrincipal(f"arn:{cdk.Aws.PARTITION}:iam::{regional_account}:root")],
        )
    )
    load_balancer.set_attribute("access_logs.s3.enabled", "true")
    load_balancer.set_attribute("access_logs.s3.bucket", bucket.bucket_name)
    load_balancer.set_attribute("access_logs.s3.prefix", prefix)
    # The ALB validates the bucket policy when the attribute is set.
    policy = bucket.policy
    if policy is not None:
        load_balancer.node.add_dependency(policy)
