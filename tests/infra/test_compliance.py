"""Both compliance gates over the whole app: no finding may go unacknowledged.

cdk-nag AwsSolutions and the AWS Control Tower proactive controls both run at synth
(CDK's ``Validations`` plugins), so a finding of either without an acknowledgment makes
``app.synth()`` raise; each configuration below runs both in one synth. The second test
proves the nag gate is live by adding one non-compliant resource and expecting the synth
to fail on it; ``test_control_tower.py`` does the same for the Control Tower gate.
"""

from __future__ import annotations

import pytest
from aws_cdk import aws_sqs as sqs

from app import build_app
from stacks import compliance
from stacks.config import load_config
from stacks.service_stack import ServiceStack
from tests.support.templates import IN_MEMORY, new_app

pytestmark = pytest.mark.nag


@pytest.mark.parametrize(
    "context",
    [
        {},
        {
            "service.enable_waf": "true",
            "rollback.notification_email": "oncall@example.com",
            "chat.slack_workspace_id": "T012ABCDEFG",
            "chat.slack_channel_id": "C0123ABCDEF",
        },
        {"service.nat_gateways": "1", "rollback.target_5xx_triggers_rollback": "true"},
        {"edge.enabled": "false"},
        {
            "service.certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/alb",
            "edge.origin_domain_name": "origin.example.com",
            "edge.certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/edge",
            "edge.domain_names": "api.example.com",
        },
        {
            "stage": "prod",
            "service.certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/alb",
            "edge.origin_domain_name": "origin.example.com",
            "account": "123456789012",
            "region": "eu-west-1",
            "service.availability_zones": "eu-west-1a,eu-west-1b",
            "edge.standard_logging": "false",
        },
    ],
    ids=[
        "defaults",
        "waf-email-and-chat",
        "nat-and-target-rollback",
        "no-edge",
        "certificates",
        "prod-no-standard-logs",
    ],
)
def test_whole_app_has_no_unacknowledged_findings(context: dict[str, str]) -> None:
    # In-memory mode: a finding raises instead of only printing and setting an exit code.
    app = new_app({**context, **IN_MEMORY})
    build_app(load_config(app.node.get_all_context()), app=app, nag=True)
    compliance.register_control_tower(app)
    assembly = app.synth()
    assert assembly.stacks, "the app synthesized no stacks"


def test_an_unacknowledged_finding_fails_the_synth() -> None:
    app = new_app(IN_MEMORY)
    build_app(load_config(app.node.get_all_context()), app=app, nag=True)
    stack = next(c for c in app.node.children if isinstance(c, ServiceStack))
    # An unencrypted queue without TLS enforcement: AwsSolutions-SQS2/SQS3/SQS4.
    sqs.Queue(stack, "NonCompliant", encryption=sqs.QueueEncryption.UNENCRYPTED)
    with pytest.raises(Exception, match=r"AwsSolutions-SQS"):
        app.synth()
