"""What the pre-traffic hook asks of a new order-api version, as plain functions.

API Gateway answers 502 whenever a Lambda proxy integration returns anything but the
documented output shape: int ``statusCode``, str->str ``headers``, str->list[str]
``multiValueHeaders``, str ``body``, bool ``isBase64Encoded`` (API Gateway Developer Guide,
"Output format of a Lambda function for proxy integration"), or when the function errors.
Nothing inside the function can count those 502s, so the hook refuses such a version
before it takes traffic. On top of the shape it asks what the kit promises every client:
no Python traceback in a body, and an error answered as ``application/problem+json``
(RFC 9457).

The cases are the documented API Gateway REST events bundled with the hook (the same
files the handler's tests use) and malformed ones a broken client or a test console could
send. A status is not judged: a well-formed 500 is the canary alarms' job (the hook must
not block a release because a dependency is slow at that moment).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBLEM_JSON = "application/problem+json"
TRACEBACK_MARKER = "Traceback (most recent call last)"
# The documented REST proxy events, by the name the test fixtures give them.
EVENT_GLOB = "apigw-rest-*.json"


@dataclass(frozen=True)
class Case:
    """One request the hook sends to the new version."""

    name: str
    event: Any


@dataclass(frozen=True)
class Answer:
    """What Lambda returned: the raw payload and the X-Amz-Function-Error header, if any."""

    payload: bytes
    function_error: str | None = None


@dataclass(frozen=True)
class Verdict:
    case: str
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def documented_cases(directory: Path) -> list[Case]:
    """Every bundled API Gateway REST event, sorted by file name."""
    cases = [
        Case(path.stem, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(directory.glob(EVENT_GLOB))
    ]
    if not cases:
        # An empty bundle would pass every version: refuse it instead.
        raise FileNotFoundError(f"no {EVENT_GLOB} events in {directory}")
    return cases


def malformed_cases(template: Mapping[str, Any]) -> list[Case]:
    """Events no client should send, derived from a documented one (``template``)."""
    post = dict(template)
    not_json = {**post, "httpMethod": "POST", "path": "/orders", "resource": "/orders"}
    not_json["body"] = "{not json"
    not_base64 = {**not_json, "body": "%%%", "isBase64Encoded": True}
    unknown_method = {**post, "httpMethod": "PATCH"}
    no_path = {k: v for k, v in post.items() if k != "path"}
    return [
        Case("malformed-empty-object", {}),
        Case("malformed-not-an-object", ["GET", "/health"]),
        Case("malformed-no-path", no_path),
        Case("malformed-body-not-json", not_json),
        Case("malformed-body-not-base64", not_base64),
        Case("malformed-unknown-method", unknown_method),
    ]


def _header_problems(answer: Mapping[str, Any]) -> list[str]:
    problems = []
    headers = answer.get("headers", {})
    if not isinstance(headers, dict):
        problems.append(f"headers is {type(headers).__name__}, not an object")
    else:
        for key, value in headers.items():
            if not isinstance(value, str):
                problems.append(f"header {key!r} is {type(value).__name__}, not a string")
    multi = answer.get("multiValueHeaders", {})
    if not isinstance(multi, dict) or not all(
        isinstance(values, list) and all(isinstance(v, str) for v in values)
        for values in multi.values()
    ):
        problems.append("multiValueHeaders is not an object of string lists")
    return problems


def _content_type(answer: Mapping[str, Any]) -> str:
    headers = answer.get("headers")
    if isinstance(headers, dict):
        for key, value in headers.items():
            if key.lower() == "content-type" and isinstance(value, str):
                return value
    return ""


def judge(answer: Answer) -> list[str]:
    """Why API Gateway (or a client) could not use ``answer``; empty when it is fine."""
    if answer.function_error:
        return [f"function error ({answer.function_error}): API Gateway answers 502"]
    try:
        value = json.loads(answer.payload)
    except ValueError:
        return ["payload is not JSON"]
    if not isinstance(value, dict):
        return [f"payload is a JSON {type(value).__name__}, not a proxy response object"]
    problems = []
    status = value.get("statusCode")
    # bool is an int in Python but not in API Gateway's eyes.
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        problems.append(f"statusCode is {status!r}, not an int 100..599")
    body = value.get("body")
    if not isinstance(body, str):
        problems.append(f"body is {type(body).__name__}, not a string")
    elif TRACEBACK_MARKER in body:
        problems.append("body carries a Python traceback")
    if not isinstance(value.get("isBase64Encoded", False), bool):
        problems.append("isBase64Encoded is not a boolean")
    problems += _header_problems(value)
    if (
        isinstance(status, int)
        and status >= 400
        and not _content_type(value).startswith(PROBLEM_JSON)
    ):
        problems.append(f"error {status} is not {PROBLEM_JSON}")
    return problems


def run(cases: Iterable[Case], invoke: Callable[[Any], Answer]) -> list[Verdict]:
    """Send every case to the new version through ``invoke`` and judge each answer."""
    return [Verdict(case.name, tuple(judge(invoke(case.event)))) for case in cases]


def hook_status(verdicts: Iterable[Verdict]) -> str:
    """``Succeeded`` only if every answer was usable (PutLifecycleEventHookExecutionStatus)."""
    return "Succeeded" if all(v.ok for v in verdicts) else "Failed"
