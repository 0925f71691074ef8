"""Synth-and-assert for the AutoRollback construct: alarms, rule, function, safety nets."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from tests.support.events import load_event
from tests.support.templates import (
    alarm_properties,
    metric_queries,
    only_resource,
    service_template,
)

ALARM = "AWS::CloudWatch::Alarm"
FAKE_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}"


def _targets_rollback_topic(actions: list[dict[str, str]]) -> bool:
    return len(actions) == 1 and actions[0]["Ref"].startswith("Paging")


def _rule(template: Template) -> dict[str, Any]:
    rule = only_resource(
        template, "AWS::Events::Rule", {"EventPattern": {"source": ["aws.cloudwatch"]}}
    )
    props: dict[str, Any] = rule["Properties"]
    return props


def _concrete_pattern(pattern: dict[str, Any]) -> dict[str, Any]:
    """Replace each ``Fn::GetAtt [alarm, Arn]`` with the ARN the alarm would have."""
    pattern = copy.deepcopy(pattern)
    pattern["resources"] = [FAKE_ARN.format(r["Fn::GetAtt"][0]) for r in pattern["resources"]]
    return pattern


def _event_for(alarm_logical_id: str, state_file: str) -> Any:
    """A documented alarm event for the alarm (typed Any: moto's matcher wants its own
    EventMessageType, a TypedDict of the same shape)."""
    event = load_event(state_file)
    event["resources"] = [FAKE_ARN.format(alarm_logical_id)]
    event["detail"]["alarmName"] = alarm_logical_id
    return event


def test_count_alarm_is_the_plain_elb_5xx_alarm_when_the_noise_floor_is_off() -> None:
    template = service_template({"rollback.elb_5xx_count_min_rate_percent": "0"})
    props = alarm_properties(template, "AutoRollbackElb5xxCount")
    assert props["Namespace"] == "AWS/ApplicationELB"
    assert props["MetricName"] == "HTTPCode_ELB_5XX_Count"
    assert [d["Name"] for d in props["Dimensions"]] == ["LoadBalancer"]
    assert props["Statistic"] == "Sum"
    assert props["Period"] == 60
    assert props["Threshold"] == 50
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (1, 1)
    assert props["TreatMissingData"] == "notBreaching"


def test_count_alarm_ignores_background_noise_below_the_rate_floor_by_default(
    default_template: Template,
) -> None:
    props = alarm_properties(default_template, "AutoRollbackElb5xxCount")
    queries, expression = metric_queries(props)
    # No FILL on the judged errors and no else branch: an unpublished minute yields no
    # datapoint (tests/drill/test_stuck_alarm.py shows the FILL-0 version stuck in OK);
    # requests repeat the last landed count so early error counts keep the floor.
    assert expression == "IF(100 * errors >= 0.1 * FILL(requests, REPEAT), errors)"
    errors = queries["errors"]["MetricStat"]
    assert errors["Metric"]["MetricName"] == "HTTPCode_ELB_5XX_Count"
    assert [d["Name"] for d in errors["Metric"]["Dimensions"]] == ["LoadBalancer"]
    assert (errors["Stat"], errors["Period"]) == ("Sum", 60)
    assert props["Threshold"] == 50
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (1, 1)
    assert props["TreatMissingData"] == "notBreaching"


def test_count_alarm_threshold_follows_config() -> None:
    props = alarm_properties(
        service_template({"rollback.elb_5xx_threshold": "80"}), "AutoRollbackElb5xxCount"
    )
    assert props["Threshold"] == 80


def test_rate_alarm_divides_elb_5xx_by_requests_behind_a_traffic_guard(
    default_template: Template,
) -> None:
    props = alarm_properties(default_template, "AutoRollbackElb5xxRate")
    queries, expression = metric_queries(props)
    assert expression == "IF(errors > 0 AND requests >= 20, 100 * errors / requests)"
    assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_ELB_5XX_Count"
    assert queries["requests"]["MetricStat"]["Metric"]["MetricName"] == "RequestCount"
    assert props["Threshold"] == 1
    assert props["TreatMissingData"] == "notBreaching"


def test_low_traffic_tier_sums_five_minutes_behind_its_own_guard_and_rolls_back(
    default_template: Template,
) -> None:
    props = alarm_properties(default_template, "AutoRollbackLowTraffic5xxRate")
    queries, expression = metric_queries(props)

    assert expression == "IF(errors > 0 AND requests >= 20, 100 * errors / requests)"
    assert {q["MetricStat"]["Period"] for q in queries.values() if "MetricStat" in q} == {300}
    assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == "HTTPCode_ELB_5XX_Count"
    assert (props["Threshold"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (
        25,
        1,
        1,
    )
    assert "LowTraffic5xxRate" in json.dumps(_rule(default_template)["EventPattern"]["resources"])
    dg = only_resource(default_template, "AWS::CodeDeploy::DeploymentGroup")["Properties"]
    assert "LowTraffic5xxRate" in json.dumps(dg["AlarmConfiguration"]["Alarms"])


def test_low_traffic_tier_follows_config_and_can_be_turned_off() -> None:
    ten = alarm_properties(
        service_template(
            {
                "rollback.low_traffic_window_minutes": "10",
                "rollback.low_traffic_min_requests": "40",
                "rollback.low_traffic_rate_percent": "50",
            }
        ),
        "AutoRollbackLowTraffic5xxRate",
    )
    off = service_template({"rollback.low_traffic_window_minutes": "0"})

    assert "requests >= 40" in json.dumps(ten["Metrics"])
    assert '"Period": 600' in json.dumps(ten["Metrics"])
    assert ten["Threshold"] == 50
    assert not [k for k in off.find_resources(ALARM) if "LowTraffic" in k]
    assert "LowTraffic" not in json.dumps(_rule(off)["EventPattern"]["resources"])


def test_target_5xx_alarm_notifies_but_does_not_roll_back_by_default(
    default_template: Template,
) -> None:
    props = alarm_properties(default_template, "AutoRollbackTarget5xxRate")
    assert "HTTPCode_Target_5XX_Count" in json.dumps(props["Metrics"])
    assert _targets_rollback_topic(props["AlarmActions"])
    resources = json.dumps(_rule(default_template)["EventPattern"]["resources"])
    assert "Target5xxRate" not in resources


def test_target_5xx_alarm_joins_the_rollback_alarms_when_configured() -> None:
    template = service_template({"rollback.target_5xx_triggers_rollback": "true"})
    assert "Target5xxRate" in json.dumps(_rule(template)["EventPattern"]["resources"])
    dg = only_resource(template, "AWS::CodeDeploy::DeploymentGroup")["Properties"]
    assert "Target5xxRate" in json.dumps(dg["AlarmConfiguration"]["Alarms"])


def test_rollback_alarms_are_attached_to_the_deployment_group(default_template: Template) -> None:
    dg = only_resource(default_template, "AWS::CodeDeploy::DeploymentGroup")["Properties"]
    names = json.dumps(dg["AlarmConfiguration"]["Alarms"])
    assert dg["AlarmConfiguration"]["Enabled"] is True
    assert "Elb5xxCount" in names
    assert "Elb5xxRate" in names
    assert "DEPLOYMENT_STOP_ON_ALARM" in dg["AutoRollbackConfiguration"]["Events"]
    assert dg["AlarmConfiguration"].get("IgnorePollAlarmFailure", False) is False


def test_ignore_alarm_configuration_switch_reaches_the_deployment_group() -> None:
    template = service_template({"rollback.ignore_alarm_configuration": "true"})
    dg = only_resource(template, "AWS::CodeDeploy::DeploymentGroup")["Properties"]
    assert dg["AlarmConfiguration"]["Enabled"] is False


def test_rule_matches_the_documented_alarm_event_for_a_rollback_alarm(
    default_template: Template,
) -> None:
    pattern = _concrete_pattern(_rule(default_template)["EventPattern"])
    matcher = EventPattern.load(json.dumps(pattern))
    for arn in pattern["resources"]:
        alarm_id = arn.rsplit(":", 1)[1]
        assert matcher.matches_event(
            _event_for(alarm_id, "cloudwatch-alarm-state-change-alarm.json")
        )


@pytest.mark.parametrize(
    "state_file",
    [
        "cloudwatch-alarm-state-change-ok.json",
        "cloudwatch-alarm-state-change-insufficient-data.json",
    ],
)
def test_rule_ignores_other_states(default_template: Template, state_file: str) -> None:
    pattern = _concrete_pattern(_rule(default_template)["EventPattern"])
    alarm_id = pattern["resources"][0].rsplit(":", 1)[1]
    assert not EventPattern.load(json.dumps(pattern)).matches_event(
        _event_for(alarm_id, state_file)
    )


def test_rule_ignores_alarms_that_are_not_rollback_alarms(default_template: Template) -> None:
    pattern = _concrete_pattern(_rule(default_template)["EventPattern"])
    event = _event_for("SomeOtherTeamsAlarm", "cloudwatch-alarm-state-change-alarm.json")
    assert not EventPattern.load(json.dumps(pattern)).matches_event(event)


def test_rule_target_retries_then_dead_letters(default_template: Template) -> None:
    (target,) = _rule(default_template)["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600}
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("AutoRollbackDeadLetters")


def test_function_failures_land_in_the_same_dead_letter_queue(default_template: Template) -> None:
    config = only_resource(default_template, "AWS::Lambda::EventInvokeConfig")["Properties"]
    assert config["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0].startswith(
        "AutoRollbackDeadLetters"
    )
    assert config["MaximumRetryAttempts"] == 2


def test_dead_letter_queue_is_encrypted_and_tls_only(default_template: Template) -> None:
    queue = only_resource(default_template, "AWS::SQS::Queue")["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    default_template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize(
    ("alarm_prefix", "metric_name"),
    [
        ("AutoRollbackDeadLettersWaiting", "ApproximateNumberOfMessagesVisible"),
        ("AutoRollbackFunctionErrors", "Errors"),
    ],
)
def test_safety_net_alarms_page_a_human(
    default_template: Template, alarm_prefix: str, metric_name: str
) -> None:
    props = alarm_properties(default_template, alarm_prefix)
    assert props["MetricName"] == metric_name
    assert props["Threshold"] == 1
    assert _targets_rollback_topic(props["AlarmActions"])


def test_rollback_function_runtime_and_limits(default_template: Template) -> None:
    fn = only_resource(
        default_template, "AWS::Lambda::Function", {"Handler": "rollback.handler.lambda_handler"}
    )["Properties"]
    assert fn["Runtime"] == "python3.14"
    assert fn["Architectures"] == ["arm64"]
    assert fn["MemorySize"] <= 256
    assert fn["Timeout"] <= 30
    env = fn["Environment"]["Variables"]
    assert env["BAKE_MINUTES"] == "30"
    assert env["DRY_RUN"] == "false"
    assert env["MAX_ROLLBACKS_PER_HOUR"] == "1"
    for key in (
        "APPLICATION_NAME",
        "DEPLOYMENT_GROUP_NAME",
        "TOPIC_ARN",
        "ROLLBACK_ALARM_NAMES",
        "LOAD_BALANCER_FULL_NAME",
        "TARGET_GROUP_FULL_NAME",
    ):
        assert env[key], key


def test_dry_run_and_bake_window_follow_config() -> None:
    template = service_template({"rollback.dry_run": "true", "rollback.bake_minutes": "15"})
    env = only_resource(
        template, "AWS::Lambda::Function", {"Handler": "rollback.handler.lambda_handler"}
    )["Properties"]["Environment"]["Variables"]
    assert (env["DRY_RUN"], env["BAKE_MINUTES"]) == ("true", "15")


def _function_statements(template: Template) -> list[dict[str, Any]]:
    policies = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("AutoRollbackFunctionRole")}]}},
    )
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_function_policy_has_no_wildcard_actions(default_template: Template) -> None:
    for statement in _function_statements(default_template):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert not any("*" in a for a in actions), actions


def test_codedeploy_writes_are_scoped_to_the_deployment_group(default_template: Template) -> None:
    statements = _function_statements(default_template)
    (writes,) = [s for s in statements if "codedeploy:CreateDeployment" in s["Action"]]
    assert "codedeploy:StopDeployment" in writes["Action"]
    assert "deploymentgroup:" in json.dumps(writes["Resource"])
    assert writes["Resource"] != "*"


def test_only_get_metric_data_uses_a_wildcard_resource(default_template: Template) -> None:
    wildcard = [s for s in _function_statements(default_template) if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == ["cloudwatch:GetMetricData"]


@pytest.mark.parametrize("topic_prefix", ["Paging", "LowPriority"])
def test_topics_are_encrypted_with_a_key_cloudwatch_may_use(
    default_template: Template, topic_prefix: str
) -> None:
    topics = default_template.find_resources("AWS::SNS::Topic")
    (topic,) = [t["Properties"] for k, t in topics.items() if k.startswith(topic_prefix)]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = default_template.find_resources("AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert "cloudwatch.amazonaws.com" in json.dumps(key["KeyPolicy"]["Statement"])


@pytest.mark.parametrize("topic_prefix", ["Paging", "LowPriority"])
def test_topic_policy_lets_this_accounts_alarms_publish_over_tls_only(
    default_template: Template, topic_prefix: str
) -> None:
    # A topic policy replaces SNS's default policy: without an Allow for CloudWatch no
    # alarm action could publish.
    policies = default_template.find_resources("AWS::SNS::TopicPolicy")
    (policy,) = [
        p["Properties"]
        for p in policies.values()
        if p["Properties"]["Topics"][0]["Ref"].startswith(topic_prefix)
    ]
    statements = policy["PolicyDocument"]["Statement"]
    (allow,) = [
        s
        for s in statements
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert allow["Action"] == "sns:Publish"
    assert "aws:SourceAccount" in allow["Condition"]["StringEquals"]
    assert ":alarm:*" in json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_every_alarm_action_targets_a_topic_cloudwatch_may_publish_to(
    default_template: Template,
) -> None:
    allowed = {
        p["Properties"]["Topics"][0]["Ref"]
        for p in default_template.find_resources("AWS::SNS::TopicPolicy").values()
        if any(
            s["Effect"] == "Allow" and s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    actions = [
        action["Ref"]
        for alarm in default_template.find_resources(ALARM).values()
        for action in alarm["Properties"].get("AlarmActions", [])
    ]
    assert actions
    assert set(actions) <= allowed


def test_email_subscription_only_when_configured(default_template: Template) -> None:
    assert default_template.find_resources("AWS::SNS::Subscription") == {}
    template = service_template({"rollback.notification_email": "oncall@example.com"})
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_invalidation_is_allowed_on_the_edge_distribution_only(default_template: Template) -> None:
    (statement,) = [
        s
        for s in _function_statements(default_template)
        if s["Action"] == "cloudfront:CreateInvalidation"
    ]
    resource = json.dumps(statement["Resource"])
    assert ":distribution/" in resource
    assert "Outputs." in resource  # the nested edge stack's distribution id
    fn = only_resource(
        default_template, "AWS::Lambda::Function", {"Handler": "rollback.handler.lambda_handler"}
    )["Properties"]
    assert "Outputs." in json.dumps(fn["Environment"]["Variables"]["DISTRIBUTION_ID"])
    assert fn["Environment"]["Variables"]["INVALIDATION_PATHS"] == "/*"


def test_without_the_edge_there_is_no_invalidation_and_no_error() -> None:
    template = service_template({"edge.enabled": "false"})
    actions = json.dumps([s["Action"] for s in _function_statements(template)])
    assert "cloudfront" not in actions
    fn = only_resource(
        template, "AWS::Lambda::Function", {"Handler": "rollback.handler.lambda_handler"}
    )["Properties"]
    assert fn["Environment"]["Variables"]["DISTRIBUTION_ID"] == ""


def test_a_failed_or_stopped_deployment_of_the_group_pages_directly(
    default_template: Template,
) -> None:
    rule = only_resource(
        default_template, "AWS::Events::Rule", {"EventPattern": {"source": ["aws.codedeploy"]}}
    )["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["CodeDeploy Deployment State-change Notification"]
    assert pattern["detail"]["state"] == ["FAILURE", "STOP"]
    (group,) = pattern["detail"]["deploymentGroup"]
    assert group["Ref"].startswith("DeploymentDeploymentGroup")
    (target,) = [t for t in rule["Targets"] if "Ref" in t["Arn"]]
    assert target["Arn"]["Ref"].startswith("Paging")
    assert "deploymentId" in json.dumps(target["InputTransformer"])
    # EventBridge must be able to use the topic's key and publish to it.
    policies = json.dumps(default_template.find_resources("AWS::SNS::TopicPolicy"))
    assert "events.amazonaws.com" in policies
    keys = json.dumps(default_template.find_resources("AWS::KMS::Key"))
    assert "events.amazonaws.com" in keys
