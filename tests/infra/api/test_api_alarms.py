"""ApiStack's alarms and least privilege: the handler's own 5xx, Lambda errors, the stage's
5XXError, where they notify, and IAM naming only the resources each function touches."""

from __future__ import annotations

from aws_cdk.assertions import Template

from stacks.constructs import orders_api
from tests.support.api_template import (
    ALARM,
    GIVEN_TOPIC_ARN,
    HANDLER,
    Resources,
    alarm,
    as_list,
    function_id,
    of_type,
    statements,
)

# --- alarms ----------------------------------------------------------------------------


def test_http_5xx_alarm_watches_the_handlers_own_emf_metric(
    resources: Resources,
) -> None:
    props = alarm(resources, "OrdersApiHttp5xxAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("OrderApi", "Http5xx")
    assert props["Dimensions"] == [{"Name": "service", "Value": "order-api"}]
    assert (props["Statistic"], props["Period"]) == ("Sum", 60)
    assert props["Threshold"] == 9
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"


def test_handler_errors_alarm_catches_the_502_of_a_failed_invocation(
    resources: Resources,
) -> None:
    props = alarm(resources, "OrdersApiHandlerErrorsAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Errors")
    assert props["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": function_id(resources, HANDLER)}}
    ]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 60, 1)
    assert props["TreatMissingData"] == "notBreaching"


def test_api_5xx_alarm_watches_this_apis_stage(resources: Resources) -> None:
    props = alarm(resources, "OrdersApiApi5xxAlarm")
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
    (stage_id,) = of_type(resources, "AWS::ApiGateway::Stage")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert props["Dimensions"] == [
        {"Name": "ApiName", "Value": api["Properties"]["Name"]},
        {"Name": "Stage", "Value": {"Ref": stage_id}},
    ]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 60, 9)


def test_dead_letter_alarm_fires_on_the_first_waiting_message(
    resources: Resources,
) -> None:
    props = alarm(resources, "OrdersApiExportDeadLettersWaiting")
    (dlq_id,) = [
        k
        for k in of_type(resources, "AWS::SQS::Queue")
        if k.startswith("OrdersApiExportDeadLetters")
    ]
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
    ]
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_every_alarm_notifies_the_stacks_topic_on_alarm_and_recovery(
    resources: Resources, stack_resources: Resources
) -> None:
    (topic,) = of_type(stack_resources, "AWS::SNS::Topic")
    alarms = of_type(resources, ALARM).values()
    assert alarms
    for each in alarms:
        assert each["Properties"]["AlarmActions"] == [{"Ref": topic}]
        assert each["Properties"]["OKActions"] == [{"Ref": topic}]


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(
    stack_resources: Resources,
) -> None:
    (topic,) = of_type(stack_resources, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = stack_resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [
        service
        for statement in key["KeyPolicy"]["Statement"]
        for service in as_list(statement["Principal"].get("Service", []))
    ]
    assert "cloudwatch.amazonaws.com" in services


def test_given_topic_receives_the_alarms_and_no_topic_or_account_role_is_created(
    standalone: Template,
) -> None:
    resources = standalone.to_json()["Resources"]
    assert not of_type(resources, "AWS::SNS::Topic")
    assert not of_type(resources, "AWS::ApiGateway::Account")
    for each in of_type(resources, ALARM).values():
        assert each["Properties"]["AlarmActions"] == [GIVEN_TOPIC_ARN]


# --- least privilege -------------------------------------------------------------------


def test_no_iam_statement_grants_a_wildcard_action(resources: Resources) -> None:
    actions = [a for s in statements(resources) for a in as_list(s["Action"])]
    assert actions
    assert not [a for a in actions if "*" in a]


def test_dynamodb_statements_name_only_the_table(resources: Resources) -> None:
    (table,) = of_type(resources, "AWS::DynamoDB::Table")
    dynamodb = [
        s
        for s in statements(resources)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    assert dynamodb
    for statement in dynamodb:
        assert as_list(statement["Resource"]) == [{"Fn::GetAtt": [table, "Arn"]}]


def test_handler_may_only_read_write_items_and_send_to_the_export_queue(
    resources: Resources,
) -> None:
    role = resources[function_id(resources, HANDLER)]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]
        for p in of_type(resources, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role}]
    ]
    actions = {a for s in policy["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert {a for a in actions if a.startswith("dynamodb:")} == set(
        orders_api.HANDLER_TABLE_ACTIONS
    )
    assert "sqs:SendMessage" in actions
    assert not {a for a in actions if a.startswith("sqs:")} & {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:PurgeQueue",
    }
