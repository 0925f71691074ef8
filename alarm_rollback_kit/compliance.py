"""Acknowledged findings of both gates, travelling with the kit's constructs.

Every kit construct derives from ``KitConstruct`` and acknowledges, in
``acknowledge_nag_findings``, the findings its own resources raise: cdk-nag AwsSolutions
and the AWS Control Tower proactive controls (the cfn-guard rules that
``cdklabs-cdk-validator-cfnguard`` bundles), each on the narrowest child, with its
granular id and a reason a reviewer can check. ``acknowledge_findings`` walks a construct
tree and asks every kit construct in it to do so: one call in a user's app covers the
kit, and nothing the user built is acknowledged, because no kit construct reaches outside
its own subtree.

CDK drops a plugin's finding when the resource, or a construct above it, acknowledges
``<plugin name>::<rule>`` (the ``Validations`` API cdk-nag 3 uses; cdk-nag ``README.md``
and ``MIGRATION.md``). Registering the plugins stays the app's job.
"""

from __future__ import annotations

from collections.abc import Iterable

import aws_cdk as cdk
from constructs import Construct, IConstruct

Finding = tuple[str, str]

# The validator's plugin name, which CDK uses as the namespace of its rule ids.
CONTROL_TOWER = "cdk-validator-cfnguard"


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


class KitConstruct(Construct):
    """A construct of the kit: it knows which findings of its own are accepted."""

    def acknowledge_nag_findings(self) -> None:
        """Acknowledge this construct's accepted findings; the default has none."""


def acknowledge_findings(root: IConstruct) -> None:
    """Acknowledge the findings of every kit construct under ``root`` (and nothing else)."""
    for node in root.node.find_all():
        if isinstance(node, KitConstruct):
            node.acknowledge_nag_findings()


# --- Control Tower findings more than one construct shares ---------------------------------
# Rule names are the cfn-guard rules' own (the CT.* control id is in each reason).

S3_NOTIFICATIONS = control_tower(
    "s3_event_notifications_enabled_check",
    "CT.S3.PR.4: nothing in the kit acts on object events; a notification target with no "
    "consumer would only add a resource to secure.",
)
S3_OBJECT_LOCK = control_tower(
    "s3_bucket_object_lock_enabled_check",
    "CT.S3.PR.9: Object Lock would keep log objects past their lifecycle expiry and stop "
    "old revisions from ever being deleted; the buckets are versioned or write-once by an "
    "AWS service, retained on stack deletion and refuse plain HTTP.",
)
LOG_BUCKET_VERSIONING = control_tower(
    "s3_bucket_versioning_enabled_check",
    "CT.S3.PR.11: a log bucket written once per object by an AWS log-delivery service and "
    "expired by lifecycle; versions would only keep deleted logs longer.",
)
LOG_BUCKET_LOGGING = control_tower(
    "s3_bucket_logging_enabled_check",
    "CT.S3.PR.2: this bucket is itself a log bucket; its own access logs would need another "
    "bucket and would record only the log deliveries.",
)
NOT_IN_VPC = control_tower(
    "lambda_inside_vpc_check",
    "CT.LAMBDA.PR.3: the function calls only AWS APIs and reaches no resource inside the "
    "VPC; in the VPC it would need a NAT gateway or interface endpoints (the sandbox has "
    "neither) to reach them.",
)


def acknowledge_custom_resource_provider(role: IConstruct, records: str) -> None:
    """Acknowledge the provider function of CDK's AwsCustomResource (one per stack).

    ``role`` is the provider's role (``AwsCustomResource.grant_principal``); its scope is
    the singleton function, whose log group ``records`` says what it logs.
    """
    provider = role.node.scope
    assert provider is not None
    acknowledge(
        provider,
        [
            NOT_IN_VPC,
            control_tower(
                "cloudwatch_log_group_encrypted_check",
                f"CT.CLOUDWATCH.PR.3: CDK's custom-resource provider log, which records {records} "
                "and no client data.",
            ),
        ],
    )


def retention(reason: str) -> Finding:
    return control_tower(
        "cloudwatch_log_group_retention_period_check",
        f"CT.CLOUDWATCH.PR.2: {reason} A year's retention is not required for it, and "
        "keeping client data shorter is the point.",
    )
