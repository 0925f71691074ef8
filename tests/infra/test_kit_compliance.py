"""One call acknowledges the kit's own cdk-nag findings in a user's app, and only those.

The user's stack here holds the kit over imported resources and one non-compliant
resource of the user's own. Without the call the kit's findings fail the synth; with it,
only the user's finding does.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks

from alarm_rollback_kit import AutoRollback, acknowledge_findings
from tests.support.bare import imported_service

pytestmark = pytest.mark.nag


def _users_app(*, acknowledge: bool, own_queue: bool) -> cdk.App:
    app = cdk.App()
    stack = cdk.Stack(app, "UsersStack")
    AutoRollback(stack, "AutoRollback", **imported_service(stack))
    if own_queue:
        sqs.Queue(stack, "UsersQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)
    if acknowledge:
        acknowledge_findings(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def test_kit_findings_fail_a_users_synth_until_acknowledged() -> None:
    with pytest.raises(Exception, match=r"AutoRollback") as caught:
        _users_app(acknowledge=False, own_queue=False).synth()
    assert "AwsSolutions-SQS3" in str(caught.value)


def test_one_call_acknowledges_every_kit_finding() -> None:
    assembly = _users_app(acknowledge=True, own_queue=False).synth()
    assert assembly.get_stack_by_name("UsersStack").template["Resources"]


def test_the_call_hides_nothing_of_the_users() -> None:
    with pytest.raises(Exception, match=r"AwsSolutions-SQS") as caught:
        _users_app(acknowledge=True, own_queue=True).synth()
    message = str(caught.value)
    assert "UsersQueue" in message
    assert not re.search(r"UsersStack/AutoRollback\S*", message)
