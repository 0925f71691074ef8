"""Synth-and-assert for ApiStack and the OrdersApi construct (a Lambda that throws is API Gateway's 502).

The stack is synthesized once per module from non-default ``api.*`` settings passed the
way ``cdk synth -c`` passes them, so every assertion on a configured value proves the
value flows from config, not from a default that happens to match.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from stacks.api_stack import ApiStack
from stacks.config import APIGW_INTEGRATION_TIMEOUT_S, ConfigError, load_config
from stacks.constructs import orders_api
from stacks.constructs.orders_api import OrdersApi
from tests.infra.conftest import new_app, only_resource

STACK_ID = "order-api-test-api"
OVERRIDES = {
    "api.stage_name": "test",
    "api.handler_timeout_seconds": "12",
    "api.handler_memory_mb": "512",
    "api.throttle_rate_per_second": "7",
    "api.throttle_burst": "14",
    "api.retry_after_seconds": "3",
    "api.http_5xx_alarm_threshold": "9",
    "api.log_retention_days": "14",
    "api.worker_max_concurrency": "7",
}
GIVEN_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:oncall"

RESPONSE = "AWS::ApiGateway::GatewayResponse"
ALARM = "AWS::CloudWatch::Alarm"
FUNCTION = "AWS::Lambda::Function"
HANDLER = "api.handler.lambda_handler"
WORKER = "api.worker.lambda_handler"


# --- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture(scope="module")
def app_and_stack() -> tuple[cdk.App, ApiStack]:
    app = new_app(OVERRIDES)
    stack = ApiStack(app, STACK_ID, config=load_config(app.node.get_all_context()))
    return app, stack


@pytest.fixture(scope="module")
def template(app_and_stack: tuple[cdk.App, ApiStack]) -> Template:
    return Template.from_stack(app_and_stack[1])


@pytest.fixture(scope="module")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = template.to_json()["Resources"]
    return found


@pytest.fixture(scope="module")
def standalone() -> Template:
    """The construct alone in a user's stack, with their topic and their account role."""
    app = new_app()
    stack = cdk.Stack(app, "UserStack")
    OrdersApi(
        stack,
        "Api",
        config=load_config(app.node.get_all_context()).api,
        alarm_topic=sns.Topic.from_topic_arn(stack, "OnCall", GIVEN_TOPIC_ARN),
        manage_account_cloudwatch_role=False,
    )
    return Template.from_stack(stack)


def _of_type(resources: dict[str, dict[str, Any]], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in resources.items() if r["Type"] == type_}


def _gateway_response(resources: dict[str, dict[str, Any]], type_: str) -> dict[str, Any]:
    (props,) = [
        r["Properties"]
        for r in _of_type(resources, RESPONSE).values()
        if r["Properties"]["ResponseType"] == type_
    ]
    return props


def _function_id(resources: dict[str, dict[str, Any]], handler: str) -> str:
    (logical_id,) = [
        k for k, r in _of_type(resources, FUNCTION).items() if r["Properties"]["Handler"] == handler
    ]
    return logical_id


def _alarm(resources: dict[str, dict[str, Any]], logical_prefix: str) -> dict[str, Any]:
    (props,) = [
        r["Properties"]
        for k, r in _of_type(resources, ALARM).items()
        if k.startswith(logical_prefix)
    ]
    return props


def _stage(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (stage,) = _of_type(resources, "AWS::ApiGateway::Stage").values()
    return stage


def _statements(resources: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for policy in _of_type(resources, "AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _routes(resources: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """``{"/orders/{order_id}": {"GET", "DELETE", "ANY"}, ...}`` from the template."""
    api_resources = _of_type(resources, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        props = api_resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    routes: dict[str, set[str]] = {}
    for method in _of_type(resources, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        routes.setdefault(path(props["ResourceId"]["Ref"]), set()).add(props["HttpMethod"])
    return routes


def _body(template_text: str) -> dict[str, Any]:
    """A gateway-response body as a client would get it, with placeholder values."""
    filled = template_text.replace("$context.error.messageString", '"Some message"')
    parsed: dict[str, Any] = json.loads(filled)
    return parsed


# --- gateway responses: API Gateway's own errors look like the handler's ---------------


def test_throttled_gateway_response_is_429_with_retry_after_from_config(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _gateway_response(resources, "THROTTLED")
    assert props["StatusCode"] == "429"
    assert props["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'3'"


def test_unauthorized_gateway_response_is_401_with_www_authenticate(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _gateway_response(resources, "UNAUTHORIZED")
    assert props["StatusCode"] == "401"
    challenge = props["ResponseParameters"]["gatewayresponse.header.WWW-Authenticate"]
    assert challenge.startswith("'Bearer ")


def test_access_denied_gateway_response_is_403(resources: dict[str, dict[str, Any]]) -> None:
    assert _gateway_response(resources, "ACCESS_DENIED")["StatusCode"] == "403"


def test_integration_timeout_gateway_response_is_504(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _gateway_response(resources, "INTEGRATION_TIMEOUT")
    assert props["StatusCode"] == "504"
    assert (
        "may still have been processed"
        in _body(props["ResponseTemplates"]["application/json"])["detail"]
    )


def test_unknown_path_is_answered_404_instead_of_missing_authentication_token(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _gateway_response(resources, "MISSING_AUTHENTICATION_TOKEN")
    assert props["StatusCode"] == "404"


@pytest.mark.parametrize("response_type", ["DEFAULT_4XX", "DEFAULT_5XX"])
def test_catch_all_gateway_responses_keep_api_gateways_status_and_omit_it_from_the_body(
    resources: dict[str, dict[str, Any]],
    response_type: str,
) -> None:
    props = _gateway_response(resources, response_type)
    assert "StatusCode" not in props
    body = _body(props["ResponseTemplates"]["application/json"])
    assert "status" not in body
    assert body["title"] == "Some message"


@pytest.mark.parametrize(
    "response_type", [p.response_type for p in orders_api.gateway_problems(load_config({}).api)]
)
def test_gateway_response_body_is_a_problem_document_traced_by_request_id(
    resources: dict[str, dict[str, Any]],
    response_type: str,
) -> None:
    props = _gateway_response(resources, response_type)
    headers = props["ResponseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    body = _body(props["ResponseTemplates"]["application/json"])
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    assert body["trace_id"] == "$context.requestId"
    assert body["instance"] == "urn:uuid:$context.requestId"
    if "StatusCode" in props:
        assert body["status"] == int(props["StatusCode"])


def test_gateway_response_header_values_are_quoted_literals(
    resources: dict[str, dict[str, Any]],
) -> None:
    values = [
        value
        for r in _of_type(resources, RESPONSE).values()
        for value in r["Properties"]["ResponseParameters"].values()
    ]
    assert values
    assert all(len(v) > 2 and v[0] == v[-1] == "'" for v in values), values


def test_header_literal_refuses_a_value_that_would_end_the_quote() -> None:
    with pytest.raises(ValueError, match="single quote"):
        orders_api._literal("it's")


# --- stage -----------------------------------------------------------------------------


def test_stage_throttles_every_method_with_config_rate_and_burst(
    resources: dict[str, dict[str, Any]],
) -> None:
    (setting,) = _stage(resources)["Properties"]["MethodSettings"]
    assert (setting["HttpMethod"], setting["ResourcePath"]) == ("*", "/*")
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (7, 14)


def test_access_log_format_is_json_with_the_fields_that_explain_a_502(
    resources: dict[str, dict[str, Any]],
) -> None:
    fmt = json.loads(_stage(resources)["Properties"]["AccessLogSetting"]["Format"])
    assert fmt["requestId"] == "$context.requestId"
    assert fmt["extendedRequestId"] == "$context.extendedRequestId"
    assert fmt["ip"] == "$context.identity.sourceIp"
    assert fmt["status"] == "$context.status"
    assert fmt["integrationStatus"] == "$context.integration.status"
    assert fmt["integrationLatency"] == "$context.integration.latency"
    assert fmt["integrationErrorMessage"] == "$context.integrationErrorMessage"
    assert fmt["errorMessage"] == "$context.error.message"
    assert {"httpMethod", "resourcePath", "protocol", "responseLength"} <= fmt.keys()


def test_access_log_goes_to_the_constructs_log_group(
    resources: dict[str, dict[str, Any]],
) -> None:
    destination = _stage(resources)["Properties"]["AccessLogSetting"]["DestinationArn"]
    (access_logs,) = [
        k for k in _of_type(resources, "AWS::Logs::LogGroup") if k.startswith("OrdersApiAccessLogs")
    ]
    assert {"Ref": access_logs} in destination["Fn::Join"][1]


def test_stage_traces_requests_with_xray(resources: dict[str, dict[str, Any]]) -> None:
    props = _stage(resources)["Properties"]
    assert props["TracingEnabled"] is True
    assert props["StageName"] == "test"


def test_stage_logs_errors_with_metrics_and_without_data_trace(
    resources: dict[str, dict[str, Any]],
) -> None:
    (setting,) = _stage(resources)["Properties"]["MethodSettings"]
    assert setting["LoggingLevel"] == "ERROR"
    assert setting["DataTraceEnabled"] is False
    assert setting["MetricsEnabled"] is True


def test_execution_log_group_exists_before_the_stage_with_retention(
    resources: dict[str, dict[str, Any]],
) -> None:
    (logical_id,) = [
        k
        for k in _of_type(resources, "AWS::Logs::LogGroup")
        if k.startswith("OrdersApiExecutionLogs")
    ]
    props = resources[logical_id]["Properties"]
    assert props["LogGroupName"]["Fn::Join"][1][0] == "API-Gateway-Execution-Logs_"
    assert props["RetentionInDays"] == 14
    assert logical_id in _stage(resources)["DependsOn"]


def test_account_logging_role_is_retained_because_other_apis_log_through_it(
    resources: dict[str, dict[str, Any]],
) -> None:
    (account,) = _of_type(resources, "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert resources[role_id]["DeletionPolicy"] == "Retain"


# --- routes ----------------------------------------------------------------------------


def test_each_route_has_its_documented_methods_plus_any_for_the_handlers_405(
    resources: dict[str, dict[str, Any]],
) -> None:
    assert _routes(resources) == {
        "/health": {"GET", "ANY"},
        "/orders": {"POST", "ANY"},
        "/orders/{order_id}": {"GET", "DELETE", "ANY"},
        "/orders/{order_id}/export": {"POST", "ANY"},
        "/jobs/{job_id}": {"GET", "ANY"},
    }


def test_every_method_is_a_lambda_proxy_to_the_handlers_live_alias(
    resources: dict[str, dict[str, Any]],
) -> None:
    handler = _function_id(resources, HANDLER)
    (alias_id,) = [
        k
        for k, r in _of_type(resources, "AWS::Lambda::Alias").items()
        if r["Properties"]["FunctionName"] == {"Ref": handler}
    ]
    for method in _of_type(resources, "AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["IntegrationHttpMethod"] == "POST"
        # The alias ARN (Ref of an alias), never the function: only the alias's weights
        # decide which version answers.
        assert {"Ref": alias_id} in integration["Uri"]["Fn::Join"][1]
        assert {"Fn::GetAtt": [handler, "Arn"]} not in integration["Uri"]["Fn::Join"][1]


# --- functions -------------------------------------------------------------------------


def test_handler_times_out_per_config_before_the_integration_timeout(
    resources: dict[str, dict[str, Any]],
) -> None:
    timeout = resources[_function_id(resources, HANDLER)]["Properties"]["Timeout"]
    assert timeout == 12
    assert timeout < APIGW_INTEGRATION_TIMEOUT_S


@pytest.mark.parametrize("handler", [HANDLER, WORKER])
def test_function_runs_python_3_14_on_arm64_with_active_tracing(
    resources: dict[str, dict[str, Any]],
    handler: str,
) -> None:
    props = resources[_function_id(resources, handler)]["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == 512


def test_handler_environment_names_table_queue_and_powertools_settings(
    resources: dict[str, dict[str, Any]],
) -> None:
    env = resources[_function_id(resources, HANDLER)]["Properties"]["Environment"]["Variables"]
    (table,) = _of_type(resources, "AWS::DynamoDB::Table")
    (queue,) = [
        k for k in _of_type(resources, "AWS::SQS::Queue") if k.startswith("OrdersApiExportQueue")
    ]
    assert env == {
        "TABLE_NAME": {"Ref": table},
        "EXPORT_QUEUE_URL": {"Ref": queue},
        "POWERTOOLS_SERVICE_NAME": "order-api",
        "POWERTOOLS_METRICS_NAMESPACE": "OrderApi",
    }


@pytest.mark.parametrize("handler", [HANDLER, WORKER])
def test_function_logs_to_its_own_log_group_with_config_retention(
    resources: dict[str, dict[str, Any]],
    handler: str,
) -> None:
    props = resources[_function_id(resources, handler)]["Properties"]
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group]["Properties"]["RetentionInDays"] == 14


def test_function_roles_carry_no_managed_policies(resources: dict[str, dict[str, Any]]) -> None:
    for handler in (HANDLER, WORKER):
        role = resources[_function_id(resources, handler)]["Properties"]["Role"]
        assert "ManagedPolicyArns" not in resources[role["Fn::GetAtt"][0]]["Properties"]


def test_function_code_imports_with_only_the_vendored_distributions_and_the_runtime_sdk(
    app_and_stack: tuple[cdk.App, ApiStack],
    tmp_path: Path,
) -> None:
    # Given the synthesized asset, and a stand-in for what the Lambda Python runtime
    # provides (boto3 and its dependencies; jmespath left out, the asset must carry it)
    app, stack = app_and_stack
    assembly = app.synth()
    manifest = json.loads(
        (Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text()
    )
    zips = {
        Path(assembly.directory) / f["source"]["path"]
        for f in manifest["files"].values()
        if f["source"].get("packaging") == "zip"
    }
    # The API's asset (handler and worker) and the pre-traffic hook's.
    (asset,) = [z for z in zips if (z / "api" / "handler.py").is_file()]
    (hook_asset,) = [z for z in zips if (z / "pretraffic" / "handler.py").is_file()]
    assert (hook_asset / "pretraffic" / "events" / "apigw-rest-post-orders.json").is_file()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for dist, top in (
        ("boto3", "boto3"),
        ("botocore", "botocore"),
        ("s3transfer", "s3transfer"),
        ("python-dateutil", "dateutil"),
        ("six", "six.py"),
        ("urllib3", "urllib3"),
    ):
        (runtime / top).symlink_to(Path(str(metadata.distribution(dist).locate_file(top))))
    # When both entry points are imported with no site-packages at all
    code = "import sys; sys.path[:0] = sys.argv[1:]\nimport api.handler, api.worker\n"
    result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-S", "-c", code, str(asset), str(runtime)],
        capture_output=True,
        text=True,
        check=False,
    )
    # The hook vendors nothing: boto3 with its jmespath is all it needs from the runtime.
    with_jmespath = tmp_path / "runtime-full"
    with_jmespath.mkdir()
    (with_jmespath / "jmespath").symlink_to(
        Path(str(metadata.distribution("jmespath").locate_file("jmespath")))
    )
    hook_code = "import sys; sys.path[:0] = sys.argv[1:]\nimport pretraffic.handler\n"
    hook_result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [
            sys.executable,
            "-S",
            "-c",
            hook_code,
            str(hook_asset),
            str(runtime),
            str(with_jmespath),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then nothing is missing
    assert result.returncode == 0, result.stderr
    assert hook_result.returncode == 0, hook_result.stderr


# --- table and queues ------------------------------------------------------------------


def test_table_is_on_demand_with_point_in_time_recovery_and_encryption(
    template: Template,
) -> None:
    props = only_resource(template, "AWS::DynamoDB::Table")["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_table_survives_stack_deletion(template: Template) -> None:
    table = only_resource(template, "AWS::DynamoDB::Table")
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_worker_reports_batch_item_failures(resources: dict[str, dict[str, Any]]) -> None:
    (mapping,) = _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    # The worker's live alias ("<name>:live"); tests/infra/test_lambda_release.py pins it.
    assert props["FunctionName"]["Fn::Join"][1][1] == ":live"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_worker_concurrency_is_capped_by_config(resources: dict[str, dict[str, Any]]) -> None:
    (mapping,) = _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 7}


@pytest.mark.parametrize("value", ["1", "1001"])
def test_worker_max_concurrency_outside_2_to_1000_fails_at_synth(value: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"api\.worker_max_concurrency={value}: allowed 2\.\.1000"
    ):
        load_config({"api.worker_max_concurrency": value})


def test_only_the_export_queue_may_redrive_into_its_dead_letter_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    queues = _of_type(resources, "AWS::SQS::Queue")
    (queue,) = [r["Properties"] for k, r in queues.items() if k.startswith("OrdersApiExportQueue")]
    (dlq,) = [
        r["Properties"] for k, r in queues.items() if k.startswith("OrdersApiExportDeadLetters")
    ]
    allow = dlq["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (source_arn,) = allow["sourceQueueArns"]
    # The ARN is built from the queue's name, not a reference to it (that would be a cycle).
    assert json.dumps(source_arn).endswith(f':{queue["QueueName"]}"]]}}')
    assert "OrdersApiExportQueue" not in json.dumps(source_arn)


def test_every_api_log_group_is_encrypted_with_the_logs_key(
    resources: dict[str, dict[str, Any]],
) -> None:
    (key_id,) = [
        k for k in _of_type(resources, "AWS::KMS::Key") if k.startswith("OrdersApiLogsKey")
    ]
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert {k.split("Logs")[0] for k in groups} >= {"OrdersApiAccess", "OrdersApiExecution"}
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_logs_key_lets_only_regional_cloudwatch_logs_use_it_for_this_accounts_groups(
    resources: dict[str, dict[str, Any]],
) -> None:
    (key,) = [
        r
        for k, r in _of_type(resources, "AWS::KMS::Key").items()
        if k.startswith("OrdersApiLogsKey")
    ]
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "CloudWatchLogsOfThisAccountAndRegion"
    ]
    assert statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":log-group:*",
            ],
        ]
    }


def test_every_kms_key_denies_grants_not_for_aws_resources(
    resources: dict[str, dict[str, Any]],
) -> None:
    keys = _of_type(resources, "AWS::KMS::Key")
    assert len(keys) == 2, "the alarm topic's key and the logs key"
    for key in keys.values():
        assert {
            "Sid": "DenyGrantsExceptForAwsServices",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "BoolIfExists": {
                    "kms:GrantIsForAWSResource": "false",
                    "aws:PrincipalIsAWSService": "false",
                }
            },
        } in key["Properties"]["KeyPolicy"]["Statement"]


def test_account_logging_role_can_be_turned_off_by_config() -> None:
    app = new_app({"api.manage_account_cloudwatch_role": "false"})
    stack = ApiStack(app, STACK_ID, config=load_config(app.node.get_all_context()))
    found = Template.from_stack(stack).find_resources("AWS::ApiGateway::Account")
    assert found == {}


def test_export_queue_is_encrypted_and_redrives_to_an_encrypted_dead_letter_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    queues = _of_type(resources, "AWS::SQS::Queue")
    (queue,) = [r["Properties"] for k, r in queues.items() if k.startswith("OrdersApiExportQueue")]
    (dlq_id,) = [k for k in queues if k.startswith("OrdersApiExportDeadLetters")]
    assert queue["SqsManagedSseEnabled"] is True
    assert queues[dlq_id]["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": orders_api.MAX_RECEIVE_COUNT,
    }


def test_both_queues_refuse_requests_without_tls(resources: dict[str, dict[str, Any]]) -> None:
    guarded = set()
    for policy in _of_type(resources, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert guarded == set(_of_type(resources, "AWS::SQS::Queue"))


def test_visibility_timeout_is_at_least_six_worker_timeouts(
    resources: dict[str, dict[str, Any]],
) -> None:
    worker_timeout = resources[_function_id(resources, WORKER)]["Properties"]["Timeout"]
    (queue,) = [
        r["Properties"]
        for k, r in _of_type(resources, "AWS::SQS::Queue").items()
        if k.startswith("OrdersApiExportQueue")
    ]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout


# --- alarms ----------------------------------------------------------------------------


def test_http_5xx_alarm_watches_the_handlers_own_emf_metric(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _alarm(resources, "OrdersApiHttp5xxAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("OrderApi", "Http5xx")
    assert props["Dimensions"] == [{"Name": "service", "Value": "order-api"}]
    assert (props["Statistic"], props["Period"]) == ("Sum", 60)
    assert props["Threshold"] == 9
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"


def test_handler_errors_alarm_catches_the_502_of_a_failed_invocation(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _alarm(resources, "OrdersApiHandlerErrorsAlarm")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", "Errors")
    assert props["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": _function_id(resources, HANDLER)}}
    ]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 60, 1)
    assert props["TreatMissingData"] == "notBreaching"


def test_api_5xx_alarm_watches_this_apis_stage(resources: dict[str, dict[str, Any]]) -> None:
    props = _alarm(resources, "OrdersApiApi5xxAlarm")
    (api,) = _of_type(resources, "AWS::ApiGateway::RestApi").values()
    (stage_id,) = _of_type(resources, "AWS::ApiGateway::Stage")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert props["Dimensions"] == [
        {"Name": "ApiName", "Value": api["Properties"]["Name"]},
        {"Name": "Stage", "Value": {"Ref": stage_id}},
    ]
    assert (props["Statistic"], props["Period"], props["Threshold"]) == ("Sum", 60, 9)


def test_dead_letter_alarm_fires_on_the_first_waiting_message(
    resources: dict[str, dict[str, Any]],
) -> None:
    props = _alarm(resources, "OrdersApiExportDeadLettersWaiting")
    (dlq_id,) = [
        k
        for k in _of_type(resources, "AWS::SQS::Queue")
        if k.startswith("OrdersApiExportDeadLetters")
    ]
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert props["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
    ]
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")


def test_every_alarm_notifies_the_stacks_topic_on_alarm_and_recovery(
    resources: dict[str, dict[str, Any]],
) -> None:
    (topic,) = _of_type(resources, "AWS::SNS::Topic")
    alarms = _of_type(resources, ALARM).values()
    assert alarms
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic}]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(
    resources: dict[str, dict[str, Any]],
) -> None:
    (topic,) = _of_type(resources, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = resources[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = [
        service
        for statement in key["KeyPolicy"]["Statement"]
        for service in _listed(statement["Principal"].get("Service", []))
    ]
    assert "cloudwatch.amazonaws.com" in services


def test_given_topic_receives_the_alarms_and_no_topic_or_account_role_is_created(
    standalone: Template,
) -> None:
    resources = standalone.to_json()["Resources"]
    assert not _of_type(resources, "AWS::SNS::Topic")
    assert not _of_type(resources, "AWS::ApiGateway::Account")
    for alarm in _of_type(resources, ALARM).values():
        assert alarm["Properties"]["AlarmActions"] == [GIVEN_TOPIC_ARN]


# --- least privilege -------------------------------------------------------------------


def test_no_iam_statement_grants_a_wildcard_action(resources: dict[str, dict[str, Any]]) -> None:
    actions = [a for s in _statements(resources) for a in _as_list(s["Action"])]
    assert actions
    assert not [a for a in actions if "*" in a]


def test_dynamodb_statements_name_only_the_table(resources: dict[str, dict[str, Any]]) -> None:
    (table,) = _of_type(resources, "AWS::DynamoDB::Table")
    dynamodb = [
        s
        for s in _statements(resources)
        if any(a.startswith("dynamodb:") for a in _as_list(s["Action"]))
    ]
    assert dynamodb
    for statement in dynamodb:
        assert _as_list(statement["Resource"]) == [{"Fn::GetAtt": [table, "Arn"]}]


def test_handler_may_only_read_write_items_and_send_to_the_export_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    role = resources[_function_id(resources, HANDLER)]["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]
        for p in _of_type(resources, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role}]
    ]
    actions = {a for s in policy["PolicyDocument"]["Statement"] for a in _as_list(s["Action"])}
    assert {a for a in actions if a.startswith("dynamodb:")} == set(
        orders_api.HANDLER_TABLE_ACTIONS
    )
    assert "sqs:SendMessage" in actions
    assert not {a for a in actions if a.startswith("sqs:")} & {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:PurgeQueue",
    }


# --- outputs and config ----------------------------------------------------------------


def test_stack_outputs_the_stage_url(template: Template) -> None:
    url = template.to_json()["Outputs"]["ApiUrl"]["Value"]["Fn::Join"][1]
    assert url[0] == "https://"
    assert url[-1] == "/"


@pytest.mark.parametrize("timeout", [APIGW_INTEGRATION_TIMEOUT_S, APIGW_INTEGRATION_TIMEOUT_S + 1])
def test_config_rejects_a_handler_timeout_the_gateway_would_cut_off(timeout: int) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"api.handler_timeout_seconds": str(timeout)})
    assert caught.value.field_name == "api.handler_timeout_seconds"
    assert "api.handler_timeout_seconds" in str(caught.value)
