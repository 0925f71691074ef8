"""ApiStack's gateway responses, stage and routes: API Gateway's own errors look like the
handler's, and every request reaches the handler's live alias (a Lambda that throws is a 502).

The stack is synthesized once (``tests.support.api_template``) from non-default ``api.*``
settings, so an assertion on a configured value proves it flows from config.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from stacks.config import APIGW_INTEGRATION_TIMEOUT_S, ConfigError, load_config
from stacks.constructs import gateway_answers
from tests.support.api_template import (
    HANDLER,
    RESPONSE,
    Resources,
    function_id,
    gateway_response,
    of_type,
    routes,
    stage,
)
from tests.support.api_template import body as problem_body

# --- gateway responses: API Gateway's own errors look like the handler's ---------------


def test_throttled_gateway_response_is_429_with_retry_after_from_config(
    resources: Resources,
) -> None:
    props = gateway_response(resources, "THROTTLED")
    assert props["StatusCode"] == "429"
    assert props["ResponseParameters"]["gatewayresponse.header.Retry-After"] == "'3'"


def test_unauthorized_gateway_response_is_401_with_www_authenticate(
    resources: Resources,
) -> None:
    props = gateway_response(resources, "UNAUTHORIZED")
    assert props["StatusCode"] == "401"
    challenge = props["ResponseParameters"]["gatewayresponse.header.WWW-Authenticate"]
    assert challenge.startswith("'Bearer ")


def test_access_denied_gateway_response_is_403(resources: Resources) -> None:
    assert gateway_response(resources, "ACCESS_DENIED")["StatusCode"] == "403"


def test_integration_timeout_gateway_response_is_504(
    resources: Resources,
) -> None:
    props = gateway_response(resources, "INTEGRATION_TIMEOUT")
    assert props["StatusCode"] == "504"
    assert (
        "may still have been processed"
        in problem_body(props["ResponseTemplates"]["application/json"])["detail"]
    )


def test_unknown_path_is_answered_404_instead_of_missing_authentication_token(
    resources: Resources,
) -> None:
    props = gateway_response(resources, "MISSING_AUTHENTICATION_TOKEN")
    assert props["StatusCode"] == "404"


@pytest.mark.parametrize("response_type", ["DEFAULT_4XX", "DEFAULT_5XX"])
def test_catch_all_gateway_responses_keep_api_gateways_status_and_omit_it_from_the_body(
    resources: Resources,
    response_type: str,
) -> None:
    props = gateway_response(resources, response_type)
    assert "StatusCode" not in props
    body = problem_body(props["ResponseTemplates"]["application/json"])
    assert "status" not in body
    assert body["title"] == "Some message"


@pytest.mark.parametrize(
    "response_type",
    [p.response_type for p in gateway_answers.gateway_problems(load_config({}).api)],
)
def test_gateway_response_body_is_a_problem_document_traced_by_request_id(
    resources: Resources,
    response_type: str,
) -> None:
    props = gateway_response(resources, response_type)
    headers = props["ResponseParameters"]
    assert headers["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    body = problem_body(props["ResponseTemplates"]["application/json"])
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    assert body["trace_id"] == "$context.requestId"
    assert body["instance"] == "urn:uuid:$context.requestId"
    if "StatusCode" in props:
        assert body["status"] == int(props["StatusCode"])


def test_gateway_response_header_values_are_quoted_literals(
    resources: Resources,
) -> None:
    values = [
        value
        for r in of_type(resources, RESPONSE).values()
        for value in r["Properties"]["ResponseParameters"].values()
    ]
    assert values
    assert all(len(v) > 2 and v[0] == v[-1] == "'" for v in values), values


def test_header_literal_refuses_a_value_that_would_end_the_quote() -> None:
    with pytest.raises(ValueError, match="single quote"):
        gateway_answers.literal("it's")


# --- stage -----------------------------------------------------------------------------


def test_stage_throttles_every_method_with_config_rate_and_burst(
    resources: Resources,
) -> None:
    (setting,) = stage(resources)["Properties"]["MethodSettings"]
    assert (setting["HttpMethod"], setting["ResourcePath"]) == ("*", "/*")
    assert (setting["ThrottlingRateLimit"], setting["ThrottlingBurstLimit"]) == (7, 14)


def test_access_log_format_is_json_with_the_fields_that_explain_a_502(
    resources: Resources,
) -> None:
    fmt = json.loads(stage(resources)["Properties"]["AccessLogSetting"]["Format"])
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
    resources: Resources,
) -> None:
    destination = stage(resources)["Properties"]["AccessLogSetting"]["DestinationArn"]
    (access_logs,) = [
        k for k in of_type(resources, "AWS::Logs::LogGroup") if k.startswith("OrdersApiAccessLogs")
    ]
    assert {"Ref": access_logs} in destination["Fn::Join"][1]


def test_stage_traces_requests_with_xray(resources: Resources) -> None:
    props = stage(resources)["Properties"]
    assert props["TracingEnabled"] is True
    assert props["StageName"] == "test"


def test_stage_logs_errors_with_metrics_and_without_data_trace(
    resources: Resources,
) -> None:
    (setting,) = stage(resources)["Properties"]["MethodSettings"]
    assert setting["LoggingLevel"] == "ERROR"
    assert setting["DataTraceEnabled"] is False
    assert setting["MetricsEnabled"] is True


def test_execution_log_group_exists_before_the_stage_with_retention(
    resources: Resources,
) -> None:
    (logical_id,) = [
        k
        for k in of_type(resources, "AWS::Logs::LogGroup")
        if k.startswith("OrdersApiExecutionLogs")
    ]
    props = resources[logical_id]["Properties"]
    assert props["LogGroupName"]["Fn::Join"][1][0] == "API-Gateway-Execution-Logs_"
    assert props["RetentionInDays"] == 14
    assert logical_id in stage(resources)["DependsOn"]


def test_account_logging_role_is_retained_because_other_apis_log_through_it(
    resources: Resources,
) -> None:
    (account,) = of_type(resources, "AWS::ApiGateway::Account").values()
    assert account["DeletionPolicy"] == "Retain"
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert resources[role_id]["DeletionPolicy"] == "Retain"


# --- routes ----------------------------------------------------------------------------


def test_each_route_has_its_documented_methods_plus_any_for_the_handlers_405(
    resources: Resources,
) -> None:
    assert routes(resources) == {
        "/health": {"GET", "ANY"},
        "/orders": {"POST", "ANY"},
        "/orders/{order_id}": {"GET", "DELETE", "ANY"},
        "/orders/{order_id}/export": {"POST", "ANY"},
        "/jobs/{job_id}": {"GET", "ANY"},
    }


def test_every_method_is_a_lambda_proxy_to_the_handlers_live_alias(
    resources: Resources,
) -> None:
    handler = function_id(resources, HANDLER)
    (alias_id,) = [
        k
        for k, r in of_type(resources, "AWS::Lambda::Alias").items()
        if r["Properties"]["FunctionName"] == {"Ref": handler}
    ]
    for method in of_type(resources, "AWS::ApiGateway::Method").values():
        integration = method["Properties"]["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["IntegrationHttpMethod"] == "POST"
        # The alias ARN (Ref of an alias), never the function: only the alias's weights
        # decide which version answers.
        assert {"Ref": alias_id} in integration["Uri"]["Fn::Join"][1]
        assert {"Fn::GetAtt": [handler, "Arn"]} not in integration["Uri"]["Fn::Join"][1]


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
