"""The API Gateway REST (v1) Lambda proxy contract, in and out, as plain functions.

In: ``is_rest_proxy_event`` decides whether an event has the documented proxy input shape
(keys ``httpMethod``, ``path``, ``headers``, ``multiValueHeaders``, ``body``,
``isBase64Encoded`` ...) before any framework reads it, and ``json_body`` decodes a request
body (base64 when flagged) into JSON or says why it cannot.

Out: ``finalize_response`` turns whatever the router produced into exactly the documented
output shape (int ``statusCode``, str->str ``headers``, str->list[str]
``multiValueHeaders`` only where a header really repeats, str ``body``, bool
``isBase64Encoded``) or raises, because API Gateway answers any other shape with 502 (API
Gateway Developer Guide, "Output format of a Lambda function for proxy integration").
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, TypeGuard

from api.errors import MalformedRequestError

# RFC 9110 sections 15.3.5 and 15.4.5: 204 and 304 never carry content; nor does any answer
# to HEAD (section 9.3.2).
STATUSES_WITHOUT_BODY = frozenset({HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED})
# A strong or weak entity tag (RFC 9110 section 8.8.3); opaque-tag may contain commas, so a
# header is scanned tag by tag instead of being split on ",".
_ENTITY_TAG = re.compile(r'\s*(?:W/)?"([^"]*)"\s*(?:,|$)')


class MalformedBodyError(MalformedRequestError):
    """The request body is not JSON (or not valid base64/UTF-8 when flagged as base64)."""


class MalformedResponseError(ValueError):
    """A router answer that API Gateway would reject with 502."""


def _is_str_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _is_str_list_map(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v)
        for k, v in value.items()
    )


def is_rest_proxy_event(event: object) -> TypeGuard[dict[str, Any]]:
    """True when ``event`` has the REST proxy input shape the router relies on.

    Maps may be ``null`` (API Gateway sends ``null`` when a request has no query string or
    path parameters); when present they must hold strings, as API Gateway always sends.
    """
    if not isinstance(event, dict):
        return False
    if not isinstance(event.get("httpMethod"), str) or not isinstance(event.get("path"), str):
        return False
    for key in ("headers", "queryStringParameters", "pathParameters", "stageVariables"):
        if event.get(key) is not None and not _is_str_map(event[key]):
            return False
    for key in ("multiValueHeaders", "multiValueQueryStringParameters"):
        if event.get(key) is not None and not _is_str_list_map(event[key]):
            return False
    if event.get("body") is not None and not isinstance(event["body"], str):
        return False
    if not isinstance(event.get("isBase64Encoded", False), bool):
        return False
    return event.get("requestContext") is None or isinstance(event["requestContext"], dict)


def _reject_constant(name: str) -> None:
    # NaN and Infinity are not JSON (RFC 8259 section 6) though Python's parser accepts them.
    raise MalformedBodyError(f"{name} is not a JSON number")


def json_body(body: str | None, *, is_base64: bool) -> Any:
    """The request body parsed as JSON; ``MalformedBodyError`` says what is wrong with it."""
    if body is None or body == "":
        raise MalformedBodyError("The request has no body; send a JSON object.")
    text = body
    if is_base64:
        try:
            text = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise MalformedBodyError("The body is flagged base64 but is not base64 UTF-8.") from exc
    try:
        return json.loads(text, parse_constant=_reject_constant)
    # ValueError covers JSONDecodeError and integers over Python's digit limit; very deep
    # nesting exhausts the parser's recursion.
    except (ValueError, RecursionError) as exc:
        raise MalformedBodyError("The body is not valid JSON.") from exc


def header_values(
    headers: Mapping[str, str] | None,
    multi_value_headers: Mapping[str, list[str]] | None,
    name: str,
) -> list[str]:
    """Every value of header ``name`` (case-insensitive), preferring the multi-value map.

    API Gateway puts only the last value of a repeated header in ``headers`` and all of
    them in ``multiValueHeaders`` (Developer Guide, multi-value headers).
    """
    wanted = name.lower()
    for source in (multi_value_headers, headers):
        if not source:
            continue
        found: list[str] = []
        for key, value in source.items():
            if key.lower() == wanted:
                found.extend([value] if isinstance(value, str) else value)
        if found:
            return found
    return []


def if_none_match_matches(values: Iterable[str], etag: str) -> bool:
    """Whether an ``If-None-Match`` header selects the current representation.

    ``*`` matches any existing representation; otherwise tags are compared with the weak
    comparison RFC 9110 section 13.1.2 requires, so ``W/"x"`` matches ``"x"``.
    """
    current = etag.removeprefix("W/").strip('"')
    for value in values:
        if value.strip() == "*":
            return True
        for match in _ENTITY_TAG.finditer(value):
            if match.group(1) == current:
                return True
    return False


def _status_code(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponseError("statusCode is not an integer")
    status = int(value)
    if not 100 <= status <= 599:
        raise MalformedResponseError("statusCode is outside 100-599")
    return status


def _headers(response: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    raw_single = response.get("headers") or {}
    raw_multi = response.get("multiValueHeaders") or {}
    if not isinstance(raw_single, Mapping) or not isinstance(raw_multi, Mapping):
        raise MalformedResponseError("headers are not maps")
    for key, value in raw_single.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise MalformedResponseError("a header is not str -> str")
        single[key] = value
    for key, values in raw_multi.items():
        if not isinstance(key, str) or not isinstance(values, list):
            raise MalformedResponseError("a multi-value header is not str -> list")
        if not all(isinstance(v, str) for v in values):
            raise MalformedResponseError("a multi-value header holds a non-string")
        # A header the router set once goes to ``headers``: when a name is in both maps
        # API Gateway keeps only the multi-value one, so each name lives in one map only.
        if len(values) == 1:
            single[key] = values[0]
        elif values:
            single.pop(key, None)
            multi[key] = list(values)
    return single, multi


def finalize_response(response: Mapping[str, Any], *, method: str) -> dict[str, Any]:
    """The router's answer in exact proxy output shape, body removed where HTTP forbids one."""
    status = _status_code(response.get("statusCode"))
    headers, multi = _headers(response)
    body = response.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise MalformedResponseError("body is not a string")
    is_base64 = response.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise MalformedResponseError("isBase64Encoded is not a boolean")
    if status in STATUSES_WITHOUT_BODY or status < HTTPStatus.OK or method.upper() == "HEAD":
        body, is_base64 = "", False
    finalized: dict[str, Any] = {
        "statusCode": status,
        "headers": headers,
        "body": body,
        "isBase64Encoded": is_base64,
    }
    if multi:
        finalized["multiValueHeaders"] = multi
    return finalized


def proxy_response(status: int, *, body: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """A proxy answer built without the router, for the paths where the router cannot run."""
    # int(): an HTTPStatus member is an int subclass; the contract wants a plain number.
    return {
        "statusCode": int(status),
        "headers": dict(headers),
        "body": body,
        "isBase64Encoded": False,
    }
