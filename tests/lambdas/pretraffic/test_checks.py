"""The hook's judgement of one answer, case by case (no AWS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pretraffic import checks
from tests.support.events import EVENTS_DIR

GOOD = {
    "statusCode": 404,
    "headers": {"Content-Type": "application/problem+json"},
    "body": '{"status": 404}',
    "isBase64Encoded": False,
}


def _judge(value: Any, error: str | None = None) -> list[str]:
    return checks.judge(checks.Answer(json.dumps(value).encode(), error))


def test_a_proper_problem_answer_passes() -> None:
    assert _judge(GOOD) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"statusCode": "200"}, "statusCode is '200', not an int 100..599"),
        ({"statusCode": True}, "statusCode is True, not an int 100..599"),
        ({"body": {"id": 1}}, "body is dict, not a string"),
        ({"headers": {"Content-Length": 12}}, "header 'Content-Length' is int, not a string"),
        ({"isBase64Encoded": "no"}, "isBase64Encoded is not a boolean"),
        (
            {"multiValueHeaders": {"Set-Cookie": "a=b"}},
            "multiValueHeaders is not an object of string lists",
        ),
        (
            {"headers": {"Content-Type": "application/json"}},
            "error 404 is not application/problem+json",
        ),
        (
            {"statusCode": 500, "body": 'Traceback (most recent call last):\n  File "x"'},
            "body carries a Python traceback",
        ),
    ],
)
def test_each_departure_from_the_proxy_contract_is_named(
    change: dict[str, Any], problem: str
) -> None:
    assert problem in _judge({**GOOD, **change})


def test_function_error_and_non_object_payloads_fail() -> None:
    assert _judge(GOOD, "Unhandled") == ["function error (Unhandled): API Gateway answers 502"]
    assert _judge([1, 2]) == ["payload is a JSON list, not a proxy response object"]
    assert checks.judge(checks.Answer(b"not json")) == ["payload is not JSON"]


def test_a_2xx_need_not_be_problem_json() -> None:
    assert (
        _judge({**GOOD, "statusCode": 200, "headers": {"Content-Type": "application/json"}}) == []
    )


def test_cases_are_every_documented_rest_event_plus_malformed_ones() -> None:
    documented = checks.documented_cases(EVENTS_DIR)
    names = {c.name for c in documented}
    assert names == {p.stem for p in EVENTS_DIR.glob("apigw-rest-*.json")}
    assert "apigw-rest-post-orders" in names
    malformed = checks.malformed_cases(documented[0].event)
    assert {c.name for c in malformed} >= {"malformed-empty-object", "malformed-body-not-json"}


def test_an_empty_event_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        checks.documented_cases(tmp_path)


def test_one_bad_verdict_fails_the_hook() -> None:
    verdicts = [checks.Verdict("a", ()), checks.Verdict("b", ("x",))]
    assert checks.hook_status(verdicts) == "Failed"
    assert checks.hook_status(verdicts[:1]) == "Succeeded"
