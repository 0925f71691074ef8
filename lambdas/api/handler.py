"""order-api HTTP handler: API Gateway REST (v1) Lambda proxy events in, proxy answers out.

Routes are thin (parse, call ``api.service``, shape the answer) on Powertools'
``APIGatewayRestResolver``. The one rule above all others: no exception ever leaves
``lambda_handler``. API Gateway turns a function error into 502 Bad Gateway, which tells
the client and the on-call nothing (API Gateway Developer Guide, "Handle Lambda errors in
API Gateway"),
so every failure becomes a well-formed proxy answer with an RFC 9457 problem body whose
``trace_id`` is the Lambda request id, the same id that tags the full error in the log.
Three layers make sure of it: exception handlers inside the router, a guard around the
router (a malformed event or a Powertools failure), and a last resort around the
instrumentation itself.

Caught 5xx answers are invisible to Lambda's ``Errors`` metric (Lambda Developer Guide,
"Types of metrics for Lambda functions": ``Errors`` counts function errors only), so every answer records EMF metrics ``Http5xx`` and ``Http4xx`` (1 or 0,
unit Count) in namespace ``POWERTOOLS_METRICS_NAMESPACE`` with dimension ``service``:
their Sum counts errors and their Average is the error rate. A second dimension set adds
``version``, the function version that answered (``AWS_LAMBDA_FUNCTION_VERSION``, set by
the Lambda runtime), so during a canary the new version's errors are seen apart from the
old version's (Lambda Developer Guide, "Working with Lambda environment variables").
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from api import jobs, orders, problems, proxy, routing, service
from api.errors import (
    ApiError,
    GoneError,
    MalformedRequestError,
    NotFoundError,
    ValidationFailedError,
)

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "order-api")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "OrderApi")
HTTP_5XX_METRIC = "Http5xx"
HTTP_4XX_METRIC = "Http4xx"
VERSION_DIMENSION = "version"
JSON = "application/json"
INTERNAL_ERROR_DETAIL = (
    "The server failed to handle this request. Quote trace_id when you report it."
)
# 4xx answers for the errors the service layer raises (RFC 9110 section 15.5).
STATUS_OF_ERROR: dict[type, HTTPStatus] = {
    MalformedRequestError: HTTPStatus.BAD_REQUEST,
    NotFoundError: HTTPStatus.NOT_FOUND,
    GoneError: HTTPStatus.GONE,
    ValidationFailedError: HTTPStatus.UNPROCESSABLE_ENTITY,
}

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
app = APIGatewayRestResolver()


def _request_id(context: object) -> str:
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) else "unknown"


def _now() -> datetime:
    return datetime.now(UTC)


def _problem(
    status: int, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
) -> Response[str]:
    document = problems.problem(
        status,
        detail=detail,
        instance=problems.instance_for(app.current_event.path),
        trace_id=_request_id(app.lambda_context),
        **extensions,
    )
    return Response(
        status_code=status,
        body=problems.problem_json(document),
        headers={**problems.problem_headers(status), **(headers or {})},
    )


def _json(status: int, body: str, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=body, headers=headers)


# --- routes -----------------------------------------------------------------------------


@app.route(routing.HEALTH, method=["GET", "HEAD"])
def health() -> Response[str]:
    return _json(HTTPStatus.OK, '{"status":"ok"}', {"Cache-Control": "no-store"})


@app.post(routing.ORDERS)
def create_order() -> Response[str]:
    event = app.current_event
    payload = proxy.json_body(event.body, is_base64=event.is_base64_encoded is True)
    item = service.create_order(payload, now=_now(), order_id=service.new_id())
    body = orders.order_body(item)
    # RFC 9110 section 15.3.2: a 201 points at the resource it created.
    headers = {"Location": f"/orders/{item['id']}", "ETag": orders.strong_etag(body)}
    return _json(HTTPStatus.CREATED, body, headers)


@app.route(routing.ORDER, method=["GET", "HEAD"])
def get_order(order_id: str) -> Response[str]:
    item = service.read_live_order(order_id)
    body = orders.order_body(item)
    etag = orders.strong_etag(body)
    # no-cache: caches may store it but must revalidate, which the ETag makes cheap.
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    raw = app.current_event.raw_event
    conditions = proxy.header_values(
        raw.get("headers"), raw.get("multiValueHeaders"), "If-None-Match"
    )
    if proxy.if_none_match_matches(conditions, etag):
        # RFC 9110 section 15.4.5: a 304 has no body but keeps the 200's metadata.
        return _json(HTTPStatus.NOT_MODIFIED, "", headers)
    return _json(HTTPStatus.OK, body, headers)


@app.delete(routing.ORDER)
def delete_order(order_id: str) -> Response[str]:
    service.delete_order(order_id, now=_now())
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


@app.post(routing.ORDER_EXPORT)
def export_order(order_id: str) -> Response[str]:
    job = service.start_export(order_id, now=_now(), job_id=service.new_id())
    body = json.dumps(jobs.job_view(job), separators=(",", ":"))
    # 202 + a status resource the client polls, instead of work that could outlast the
    # gateway's timeout and end in a 504 (see api.jobs).
    return _json(HTTPStatus.ACCEPTED, body, {"Location": f"/jobs/{job['id']}"})


@app.route(routing.JOB, method=["GET", "HEAD"])
def get_job(job_id: str) -> Response[str]:
    body = json.dumps(jobs.job_view(service.read_job(job_id)), separators=(",", ":"))
    return _json(HTTPStatus.OK, body, {"Cache-Control": "no-store"})


# --- errors inside the router ----------------------------------------------------------


@app.not_found
def no_route(_: RouteNotFoundError) -> Response[str]:
    """Unknown path: 404. Known path, other method: 405 with ``Allow`` (OPTIONS: 204)."""
    method = app.current_event.http_method.upper()
    allowed = routing.allowed_methods(app.current_event.path)
    if not allowed:
        return _problem(HTTPStatus.NOT_FOUND, "No resource lives at this path.")
    allow = ", ".join(allowed)
    if method == "OPTIONS":
        return Response(status_code=HTTPStatus.NO_CONTENT, body="", headers={"Allow": allow})
    if method in allowed:
        # The route exists but its path parameter is not one the router accepts.
        return _problem(HTTPStatus.NOT_FOUND, "No resource lives at this path.")
    return _problem(
        HTTPStatus.METHOD_NOT_ALLOWED,
        "This resource does not support the request method; Allow lists those it does.",
        headers={"Allow": allow},
    )


def client_error(error: ApiError) -> Response[str]:
    # Nearest class in the MRO wins, so subclasses (MalformedBodyError) map like their base.
    status = next(
        (STATUS_OF_ERROR[cls] for cls in type(error).__mro__ if cls in STATUS_OF_ERROR),
        HTTPStatus.BAD_REQUEST,
    )
    extensions: dict[str, Any] = {}
    if isinstance(error, ValidationFailedError):
        extensions["errors"] = [
            {"field": e.field, "pointer": e.pointer, "detail": e.detail} for e in error.errors
        ]
    return _problem(status, error.detail, **extensions)


def server_error(error: Exception) -> Response[str]:
    trace_id = _request_id(app.lambda_context)
    logger.exception(
        "route failed",
        extra={"trace_id": trace_id, "error_type": type(error).__name__},
    )
    return _problem(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR_DETAIL)


# Registered by call: the decorator is untyped, and mypy --strict would untype the handlers.
# Powertools picks the handler of the nearest class in the exception's MRO.
app.exception_handler(ApiError)(client_error)
app.exception_handler(Exception)(server_error)


# --- the guards around the router --------------------------------------------------------


def _internal_error(trace_id: str, instance: str = "/") -> dict[str, Any]:
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    document = problems.problem(
        status, detail=INTERNAL_ERROR_DETAIL, instance=instance, trace_id=trace_id
    )
    return proxy.proxy_response(
        status, body=problems.problem_json(document), headers=problems.problem_headers(status)
    )


def _not_a_proxy_event(trace_id: str) -> dict[str, Any]:
    status = HTTPStatus.BAD_REQUEST
    document = problems.problem(
        status,
        detail="The event is not an API Gateway REST proxy request.",
        instance="/",
        trace_id=trace_id,
    )
    return proxy.proxy_response(
        status, body=problems.problem_json(document), headers=problems.problem_headers(status)
    )


def _function_version() -> str:
    # Outside Lambda (tests, local runs) there is no version: the unpublished one's name.
    return os.environ.get("AWS_LAMBDA_FUNCTION_VERSION") or "$LATEST"


def _add_dimensions() -> None:
    """Service and version, so the canary's errors are seen apart from the old version's."""
    metrics.add_dimensions(**{"service": SERVICE_NAME, VERSION_DIMENSION: _function_version()})


def _record(response: dict[str, Any], method: str, path: str) -> None:
    status = int(response["statusCode"])
    _add_dimensions()
    metrics.add_metric(name=HTTP_5XX_METRIC, unit=MetricUnit.Count, value=int(status >= 500))
    metrics.add_metric(name=HTTP_4XX_METRIC, unit=MetricUnit.Count, value=int(400 <= status < 500))
    logger.info("answered", extra={"status": status, "method": method, "path": path})


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@metrics.log_metrics
def _instrumented(event: Any, context: LambdaContext) -> dict[str, Any]:
    trace_id = _request_id(context)
    if not proxy.is_rest_proxy_event(event):
        logger.warning("event is not a REST proxy request", extra={"trace_id": trace_id})
        response = _not_a_proxy_event(trace_id)
        _record(response, "", "")
        return response
    method, path = event["httpMethod"], event["path"]
    try:
        response = proxy.finalize_response(app.resolve(event, context), method=method)
    except Exception:
        # Powertools itself failed, or a route's answer would have been a 502.
        logger.exception("router failed", extra={"trace_id": trace_id})
        response = _internal_error(trace_id, problems.instance_for(path))
    _record(response, method, path)
    return response


def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    """Answer one API Gateway REST proxy event; never raises."""
    try:
        response: dict[str, Any] = _instrumented(event, context)
        return response
    except Exception:
        # The logging or metrics decorators failed: answer anyway, then record what we can.
        trace_id = _request_id(context)
        with contextlib.suppress(Exception):
            logger.exception("instrumentation failed", extra={"trace_id": trace_id})
        with contextlib.suppress(Exception):
            metrics.clear_metrics()
            _add_dimensions()
            metrics.add_metric(name=HTTP_5XX_METRIC, unit=MetricUnit.Count, value=1)
            metrics.add_metric(name=HTTP_4XX_METRIC, unit=MetricUnit.Count, value=0)
            metrics.flush_metrics()
        return _internal_error(trace_id)
