"""The proxy contract as plain functions: event shape, body decoding, If-None-Match and
the normalisation of the router's answer into what API Gateway accepts."""

from __future__ import annotations

import base64

import pytest

from api import proxy
from tests.support.events import load_event

ETAG = '"abc123"'


def test_documented_event_is_a_rest_proxy_event() -> None:
    assert proxy.is_rest_proxy_event(load_event("apigw-rest-post-orders.json")) is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("headers", {"Accept": 1}),
        ("multiValueHeaders", {"Accept": "a"}),
        ("body", {"product_id": 1}),
        ("isBase64Encoded", "false"),
        ("queryStringParameters", []),
        ("requestContext", "ctx"),
        ("path", None),
    ],
)
def test_event_with_a_field_api_gateway_never_sends_is_rejected(key: str, value: object) -> None:
    event = load_event("apigw-rest-post-orders.json")
    event[key] = value

    assert proxy.is_rest_proxy_event(event) is False


def test_json_body_decodes_a_base64_body() -> None:
    encoded = base64.b64encode(b'{"a": 1}').decode()

    assert proxy.json_body(encoded, is_base64=True) == {"a": 1}


@pytest.mark.parametrize(
    ("body", "is_base64"),
    [
        (None, False),
        ("", False),
        ("{", False),
        ("Infinity", False),
        ("[" * 100_000, False),
        ("1" * 5_000, False),
        ("@@@", True),
        (base64.b64encode(b"\xff\xfe").decode(), True),
    ],
    ids=["none", "empty", "truncated", "infinity", "deep", "huge-int", "not-b64", "not-utf8"],
)
def test_json_body_raises_malformed_body_for_what_is_not_json(
    body: str | None, is_base64: bool
) -> None:
    with pytest.raises(proxy.MalformedBodyError):
        proxy.json_body(body, is_base64=is_base64)


def test_header_values_prefers_the_multi_value_map_and_ignores_case() -> None:
    values = proxy.header_values(
        {"If-None-Match": "b"}, {"if-none-match": ["a", "b"]}, "IF-NONE-MATCH"
    )

    assert values == ["a", "b"]


@pytest.mark.parametrize(
    ("values", "matches"),
    [
        ([ETAG], True),
        (["*"], True),
        (['W/"abc123"'], True),
        (['"x", "abc123"'], True),
        (['"x"', '"abc123"'], True),
        (['"abc"'], False),
        (["abc123"], False),
        ([], False),
    ],
    ids=["exact", "star", "weak", "list", "lines", "prefix", "unquoted", "absent"],
)
def test_if_none_match_uses_weak_comparison(values: list[str], matches: bool) -> None:
    assert proxy.if_none_match_matches(values, ETAG) is matches


def test_finalize_moves_single_valued_headers_to_the_headers_map() -> None:
    answer = {
        "statusCode": 200,
        "body": "{}",
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }

    finalized = proxy.finalize_response(answer, method="GET")

    assert finalized == {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": "{}",
        "isBase64Encoded": False,
    }


def test_finalize_keeps_repeated_headers_only_in_the_multi_value_map() -> None:
    answer = {
        "statusCode": 200,
        "body": "",
        "headers": {"Set-Cookie": "a=1"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
    }

    finalized = proxy.finalize_response(answer, method="GET")

    assert (finalized["headers"], finalized["multiValueHeaders"]) == (
        {},
        {"Set-Cookie": ["a=1", "b=2"]},
    )


@pytest.mark.parametrize(
    ("status", "method"), [(204, "DELETE"), (304, "GET"), (200, "HEAD"), (404, "head")]
)
def test_finalize_removes_the_body_where_http_forbids_one(status: int, method: str) -> None:
    answer = {"statusCode": status, "body": "null", "isBase64Encoded": True}

    finalized = proxy.finalize_response(answer, method=method)

    assert (finalized["body"], finalized["isBase64Encoded"]) == ("", False)


def test_finalize_turns_a_missing_body_into_an_empty_string() -> None:
    assert proxy.finalize_response({"statusCode": 200}, method="GET")["body"] == ""


@pytest.mark.parametrize("status", [True, "200", 99, 600, None])
def test_finalize_rejects_a_status_code_api_gateway_cannot_use(status: object) -> None:
    with pytest.raises(proxy.MalformedResponseError):
        proxy.finalize_response({"statusCode": status, "body": ""}, method="GET")
