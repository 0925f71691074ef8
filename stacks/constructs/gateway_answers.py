"""What API Gateway itself answers and logs for the order-api: problem documents and access log.

Errors API Gateway answers by itself (throttling, auth, integration timeout, unknown
paths, the 502 of a crashed handler) are shaped by gateway responses into the same RFC 9457
``application/problem+json`` document the handler sends, with ``$context.requestId`` (also
in the access log) as ``trace_id``; the access log has one JSON line per request with the
fields that tell a 502 of a crashed handler from a 5xx the handler chose to send.
``OrdersApi`` applies both to its REST API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from stacks.config import ApiConfig

SERVICE_NAME = "order-api"
PROBLEM_JSON = "application/problem+json"


# One JSON object per request. Every value is a quoted string so a "-" (no value) keeps
# the line valid JSON. Fields a client controls (path, user agent) are left out because
# access-log variables are substituted unescaped. The integration and error fields are
# the ones that tell a 502 of a crashed handler from a 5xx the handler chose to send.
ACCESS_LOG_FIELDS: Mapping[str, str] = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "integrationError": "$context.integration.error",
    "integrationErrorMessage": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
    "errorResponseType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}


@dataclass(frozen=True)
class GatewayProblem:
    """How API Gateway answers one of its own error types.

    ``status`` None keeps the status API Gateway chose (the DEFAULT_* catch-alls cover
    several codes); the body then has no ``status`` member rather than a wrong one, since
    RFC 9457 requires it to equal the response's code.
    """

    response_type: str
    status: int | None
    title: str | None
    detail: str
    headers: Mapping[str, str] = field(default_factory=dict)


def literal(value: str) -> str:
    """A gateway-response header value: a static value must be a single-quoted literal."""
    if "'" in value:
        raise ValueError(f"header literal cannot contain a single quote: {value!r}")
    return f"'{value}'"


def problem_template(problem: GatewayProblem) -> str:
    """The body template: an RFC 9457 problem like the handler's, by simple substitution.

    Gateway-response templates are not run through VTL (API Gateway Developer Guide,
    ``x-amazon-apigateway-gateway-responses.responseTemplates``), so nothing can be escaped
    here: only API Gateway's own values go in. ``$context.error.messageString`` is the
    message already quoted as a JSON string. The request id is a UUID, so
    ``urn:uuid:<id>`` names this occurrence (``instance``) without echoing the client's
    path into the body.
    """
    title = (
        json.dumps(problem.title) if problem.title is not None else "$context.error.messageString"
    )
    members = [f'"type":{json.dumps("about:blank")}', f'"title":{title}']
    if problem.status is not None:
        members.append(f'"status":{problem.status}')
    members += [
        f'"detail":{json.dumps(problem.detail)}',
        f'"instance":{json.dumps("urn:uuid:$context.requestId")}',
        f'"trace_id":{json.dumps("$context.requestId")}',
    ]
    return "{" + ",".join(members) + "}"


def gateway_problems(config: ApiConfig) -> tuple[GatewayProblem, ...]:
    """Every API Gateway error type the kit shapes, with its status and extra headers."""
    gateway_type = "($context.error.responseType)"
    return (
        # 429 tells the client when to retry with Retry-After (RFC 6585, section 4).
        GatewayProblem(
            "THROTTLED",
            429,
            "Too Many Requests",
            "The request rate is over this API's limit; retry after the delay in Retry-After.",
            {"Retry-After": str(config.retry_after_seconds)},
        ),
        # A 401 must carry WWW-Authenticate (RFC 9110, section 15.5.2).
        GatewayProblem(
            "UNAUTHORIZED",
            401,
            "Unauthorized",
            "The request carries no valid credentials.",
            {"WWW-Authenticate": f'Bearer realm="{SERVICE_NAME}"'},
        ),
        GatewayProblem(
            "ACCESS_DENIED", 403, "Forbidden", "The caller is not allowed to make this request."
        ),
        GatewayProblem(
            "WAF_FILTERED",
            403,
            "Forbidden",
            "A web application firewall rule blocked this request before it reached the API.",
        ),
        # A public REST API answers a path with no method here as 403 "Missing
        # Authentication Token"; to a client it is a path that does not exist. If IAM
        # authorization is ever added, this type also means "unsigned": revisit it.
        GatewayProblem(
            "MISSING_AUTHENTICATION_TOKEN", 404, "Not Found", "No resource lives at this path."
        ),
        GatewayProblem("RESOURCE_NOT_FOUND", 404, "Not Found", "No resource lives at this path."),
        GatewayProblem(
            "REQUEST_TOO_LARGE",
            413,
            "Content Too Large",
            "The request is larger than API Gateway accepts.",
        ),
        # 504: the handler did not answer within the integration timeout. The request may
        # still have been processed: a 504 says nothing of the origin (RFC 9110, section 15.6.5).
        GatewayProblem(
            "INTEGRATION_TIMEOUT",
            504,
            "Gateway Timeout",
            "The order-api handler did not answer in time; the request may "
            "still have been processed, so check before retrying.",
        ),
        GatewayProblem(
            "INTEGRATION_FAILURE",
            504,
            "Gateway Timeout",
            "API Gateway could not reach the order-api handler.",
        ),
        GatewayProblem(
            "DEFAULT_4XX",
            None,
            None,
            f"API Gateway refused the request before it reached order-api {gateway_type}.",
        ),
        # Includes the 502 of a handler that crashed, timed out or answered malformed.
        GatewayProblem(
            "DEFAULT_5XX",
            None,
            None,
            f"API Gateway got no usable answer from order-api {gateway_type}. "
            "Quote trace_id when you report it.",
        ),
    )
