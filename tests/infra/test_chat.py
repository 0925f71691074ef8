"""The optional Slack channel (AWS Chatbot) on the paging topic, and the page's dashboard link.

Synthesizes the service stack twice: with the defaults (no channel) and with a workspace and
channel configured, as ``-c chat.slack_workspace_id=... -c chat.slack_channel_id=...`` would.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import ChatConfig, load_config
from tests.support.config_errors import assert_names, config_error
from tests.support.templates import only_resource, resources_of, service_stack

CHATBOT = "AWS::Chatbot::SlackChannelConfiguration"
WORKSPACE, CHANNEL = "T012ABCDEFG", "C0123ABCDEF"


@pytest.fixture(scope="module")
def chat_stack() -> Any:
    return service_stack({"chat.slack_workspace_id": WORKSPACE, "chat.slack_channel_id": CHANNEL})


def test_no_chat_channel_by_default(default_template: Template) -> None:
    assert resources_of(default_template, CHATBOT) == {}


def test_configured_channel_is_subscribed_to_the_paging_topic(chat_stack: Any) -> None:
    template = Template.from_stack(chat_stack)
    paging = chat_stack.resolve(chat_stack.paging.topic.topic_arn)

    channel = only_resource(template, CHATBOT)["Properties"]

    assert (channel["SlackWorkspaceId"], channel["SlackChannelId"]) == (WORKSPACE, CHANNEL)
    assert channel["SnsTopicArns"] == [paging]
    assert channel["SnsTopicArns"] != [chat_stack.resolve(chat_stack.low_priority.topic.topic_arn)]


def test_channel_cannot_act_beyond_read_only_cloudwatch(chat_stack: Any) -> None:
    template = Template.from_stack(chat_stack)

    channel = only_resource(template, CHATBOT)["Properties"]

    [guardrail] = channel["GuardrailPolicies"]
    assert "policy/CloudWatchReadOnlyAccess" in str(guardrail)
    role_id = channel["IamRoleArn"]["Fn::GetAtt"][0]
    role = template.to_json()["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("chat.slack_workspace_id", "t012abcdefg"),  # lowercase: not a workspace id
        ("chat.slack_workspace_id", "T012-ABC"),
        ("chat.slack_channel_id", "#on-call"),  # a channel name, not its id
        ("chat.slack_channel_id", "C" * 256),
    ],
)
def test_bad_slack_id_fails_at_synth_naming_field_value_and_pattern(key: str, value: str) -> None:
    other = {
        "chat.slack_workspace_id": WORKSPACE,
        "chat.slack_channel_id": CHANNEL,
    }

    error = config_error(lambda: load_config({**other, key: value}))

    assert_names(error, field=key, value=value, allowed="AWS::Chatbot::SlackChannelConfiguration")


def test_one_id_without_the_other_fails_naming_the_missing_one() -> None:
    error = config_error(lambda: ChatConfig(slack_workspace_id=WORKSPACE))

    assert_names(error, field="chat.slack_channel_id", value="", allowed="set together")


def test_rollback_function_links_the_dashboard_it_is_named_after(
    default_template: Template,
) -> None:
    [dashboard] = resources_of(default_template, "AWS::CloudWatch::Dashboard").values()
    [function] = [
        f
        for f in resources_of(default_template, "AWS::Lambda::Function").values()
        if "DASHBOARD_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]

    linked = function["Properties"]["Environment"]["Variables"]["DASHBOARD_NAME"]

    assert linked == dashboard["Properties"]["DashboardName"]
    assert "order-api-sandbox-service" in str(linked)
