"""The AWS Control Tower proactive controls gate: live, per resource, and over nested stacks.

``test_compliance.py`` runs the controls (``cdklabs-cdk-validator-cfnguard``) over the
whole app in every configuration it covers, beside cdk-nag. This module shows the gate
is not a formality: a new resource that breaks a control fails the synth, even when the
same control is excepted on other resources, a resource in the nested edge stack is
checked too, and every exception the kit makes names its control and says why.
"""

from __future__ import annotations

import pytest
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from app import build_app
from stacks import compliance
from stacks.config import load_config
from stacks.service_stack import ServiceStack
from tests.support.templates import IN_MEMORY, new_app

pytestmark = pytest.mark.nag


def _gated_app() -> tuple[IConstruct, ServiceStack]:
    """The default app with only the Control Tower gate registered."""
    app = new_app(IN_MEMORY)
    build_app(load_config(app.node.get_all_context()), app=app, nag=False)
    compliance.register_control_tower(app)
    stack = next(c for c in app.node.children if isinstance(c, ServiceStack))
    return app, stack


def test_a_queue_without_a_dead_letter_queue_fails_the_gate() -> None:
    app, stack = _gated_app()
    # CT.SQS.PR.1: no RedrivePolicy and not a dead-letter queue; nothing excepts it.
    sqs.Queue(stack, "NoDeadLetterQueue")

    with pytest.raises(Exception, match=r"CT\.SQS\.PR\.1"):
        app.synth()  # type: ignore[attr-defined]


def test_an_exception_covers_its_resource_only_not_the_rule() -> None:
    app, stack = _gated_app()
    # CT.CLOUDWATCH.PR.3 is excepted on the rollback function's log group; a new
    # unencrypted log group beside it must still fail.
    logs.LogGroup(stack, "UnencryptedLogs", retention=logs.RetentionDays.ONE_YEAR)

    with pytest.raises(Exception, match=r"CT\.CLOUDWATCH\.PR\.3"):
        app.synth()  # type: ignore[attr-defined]


def test_resources_of_the_nested_edge_stack_are_checked() -> None:
    app, stack = _gated_app()
    assert stack.edge_stack is not None
    sqs.Queue(stack.edge_stack, "NestedNoDeadLetterQueue")

    with pytest.raises(Exception, match=r"NestedNoDeadLetterQueue"):
        app.synth()  # type: ignore[attr-defined]


def test_every_control_tower_exception_names_its_control_and_a_reason() -> None:
    app, _ = _gated_app()
    reasons = {
        rule: reason
        for node in app.node.find_all()
        for entry in node.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule, reason in entry.data.items()
        if rule.startswith(f"{compliance.CONTROL_TOWER}::")
    }

    assert reasons, "the kit acknowledges no Control Tower finding at all"
    for rule, reason in reasons.items():
        assert reason.startswith("CT."), f"{rule}: reason does not name its control"
        assert len(reason) > 60, f"{rule}: reason too short to review: {reason!r}"
