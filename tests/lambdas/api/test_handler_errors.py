"""Failures never leave ``lambda_handler`` as exceptions (API Gateway would answer 502).

A route that raises, a router that fails, a route answer API Gateway would reject, failing
instrumentation and events that are not API Gateway requests at all: each must come back
as a valid proxy answer, 5xx ones as a problem with ``trace_id`` and no internals, and
counted in the ``Http5xx`` EMF metric the stack alarms on.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from api import handler, service, store
from tests.support.api_events import (
    ApiEnv,
    Invoke,
    api_event,
    assert_proxy_response,
    emf_documents,
    header,
    log_records,
)
from tests.support.lambda_context import FakeLambdaContext

SECRET = "password=hunter2 at api/store.py line 42"
LEAKS = (SECRET, "hunter2", "RuntimeError", "Traceback", "store.py", "api.")


def _fail(*_: object, **__: object) -> Any:
    raise RuntimeError(SECRET)


@pytest.fixture
def failing_route(api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The event of a GET /orders/{id} whose service call raises."""
    monkeypatch.setattr(service, "read_live_order", _fail)
    return api_event("apigw-rest-get-order.json")


def _metric_values(stdout: str, name: str) -> list[float]:
    values: list[float] = []
    for document in emf_documents(stdout):
        if name in document:
            raw = document[name]
            values.extend(raw if isinstance(raw, list) else [raw])
    return values


def test_route_exception_answers_500_problem_with_the_lambda_request_id(
    invoke: Invoke, failing_route: dict[str, Any], lambda_context: FakeLambdaContext
) -> None:
    response = invoke(failing_route)

    assert_proxy_response(response)
    assert response["statusCode"] == 500
    assert header(response, "Content-Type") == "application/problem+json"
    problem = json.loads(response["body"])
    assert problem["trace_id"] == lambda_context.aws_request_id
    assert problem["title"] == "Internal Server Error"


def test_route_exception_keeps_exception_text_out_of_the_body(
    invoke: Invoke, failing_route: dict[str, Any]
) -> None:
    response = invoke(failing_route)

    assert [leak for leak in LEAKS if leak in response["body"]] == []


def test_route_exception_logs_the_error_with_the_same_trace_id(
    invoke: Invoke,
    failing_route: dict[str, Any],
    lambda_context: FakeLambdaContext,
    log_output: io.StringIO,
) -> None:
    invoke(failing_route)

    errors = [r for r in log_records(log_output.getvalue()) if r["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["trace_id"] == lambda_context.aws_request_id
    assert SECRET in errors[0]["exception"]
    assert errors[0]["correlation_id"] == failing_route["requestContext"]["requestId"]


def test_route_exception_emits_http5xx_emf_metric(
    invoke: Invoke, failing_route: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(failing_route)

    (document,) = emf_documents(capsys.readouterr().out)
    assert document["Http5xx"] == [1.0]
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "OrderApi"
    assert directive["Dimensions"] == [["service"], ["service", "version"]]
    assert {"Name": "Http5xx", "Unit": "Count"} in directive["Metrics"]
    assert document["service"] == "order-api"


def test_http5xx_carries_the_answering_version_once_per_invocation(
    invoke: Invoke,
    failing_route: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The canary alarm watches Http5xx{service, version=<new version>}: the version must be
    # the runtime's, and a warm container must not pile up dimension sets.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "7")
    invoke(failing_route)
    invoke(failing_route)

    documents = emf_documents(capsys.readouterr().out)
    assert [d["version"] for d in documents] == ["7", "7"]
    assert [d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for d in documents] == [
        [["service"], ["service", "version"]]
    ] * 2


def test_successful_request_emits_http5xx_of_zero(
    api_env: ApiEnv, invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(api_event("apigw-rest-get-health.json"))

    assert _metric_values(capsys.readouterr().out, "Http5xx") == [0.0]


def test_client_error_emits_http4xx_and_no_http5xx(
    api_env: ApiEnv, invoke: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(api_event("apigw-rest-get-health.json", path="/customers"))

    out = capsys.readouterr().out
    assert (_metric_values(out, "Http4xx"), _metric_values(out, "Http5xx")) == ([1.0], [0.0])


def test_server_error_answer_is_not_cacheable(
    invoke: Invoke, failing_route: dict[str, Any]
) -> None:
    response = invoke(failing_route)

    assert header(response, "Cache-Control") == "no-store"


def test_router_failure_answers_500_problem(
    api_env: ApiEnv, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handler.app, "resolve", _fail)

    response = invoke(api_event("apigw-rest-get-health.json"))

    assert_proxy_response(response)
    assert response["statusCode"] == 500
    assert SECRET not in response["body"]


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": "200", "body": "ok"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "", "headers": {"X-Count": 3}},
        {"statusCode": 200, "body": "", "multiValueHeaders": {"X-Ids": "a"}},
        {"statusCode": 200, "body": "", "isBase64Encoded": "false"},
    ],
    ids=["status-as-string", "dict-body", "int-header", "multi-not-list", "base64-as-string"],
)
def test_router_answer_api_gateway_would_reject_becomes_500(
    api_env: ApiEnv, invoke: Invoke, monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any]
) -> None:
    # Each of these shapes is what API Gateway would turn into a 502.
    monkeypatch.setattr(handler.app, "resolve", lambda *_: answer)

    response = invoke(api_event("apigw-rest-get-health.json"))

    assert_proxy_response(response)
    assert response["statusCode"] == 500


def test_instrumentation_failure_still_answers_500_and_counts_it(
    api_env: ApiEnv,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(handler, "_instrumented", _fail)

    response = invoke(api_event("apigw-rest-get-health.json"))

    assert_proxy_response(response)
    assert response["statusCode"] == 500
    assert _metric_values(capsys.readouterr().out, "Http5xx") == [1.0]


@pytest.mark.parametrize(
    "event",
    [None, [], "GET /health", 42, {}, {"httpMethod": "GET"}, {"Records": []}],
    ids=["none", "list", "string", "int", "empty-dict", "no-path", "sqs-shaped"],
)
def test_event_that_is_not_an_api_gateway_request_answers_400_problem(
    invoke: Invoke, event: Any
) -> None:
    response = invoke(event)

    assert_proxy_response(response)
    assert response["statusCode"] == 400


def test_missing_table_configuration_answers_500_not_an_exception(
    api_env: ApiEnv, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TABLE_NAME")
    store.clear_clients()

    response = invoke(api_event("apigw-rest-post-orders.json"))

    assert_proxy_response(response)
    assert response["statusCode"] == 500
    assert "TABLE_NAME" not in response["body"]


def test_failed_enqueue_answers_500_and_marks_the_job_failed(
    api_env: ApiEnv, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = invoke(api_event("apigw-rest-post-orders.json"))
    order_id = json.loads(created["body"])["id"]
    monkeypatch.setattr(store, "send_export_message", _fail)

    response = invoke(
        api_event("apigw-rest-post-order-export.json", path=f"/orders/{order_id}/export")
    )

    assert response["statusCode"] == 500
    jobs = [i for i in api_env.table.scan()["Items"] if i["kind"] == "job"]
    assert [(j["status"], j["error"]) for j in jobs] == [
        ("failed", "the export could not be queued")
    ]
