"""Property: whatever event arrives, ``lambda_handler`` answers with a valid proxy response.

Thousands of generated events (documented REST proxy events with odd methods, paths,
headers, bodies, base64 flags, missing or wrong-typed fields, huge values, and events that
are not dicts at all) must each produce an answer API Gateway accepts, never a 5xx (every
generated fault is the caller's), and never a body that leaks a traceback or exception
text. One 502 from API Gateway is exactly the failure this handler exists to prevent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_events import ApiEnv, Invoke, api_event, assert_proxy_response
from tests.support.events import load_event

EVENT_FILES = (
    "apigw-rest-get-health.json",
    "apigw-rest-post-orders.json",
    "apigw-rest-get-order.json",
    "apigw-rest-delete-order.json",
    "apigw-rest-post-order-export.json",
    "apigw-rest-get-job.json",
)
MISSING = object()
LEAK_MARKERS = ("Traceback", 'File "', ".py", "Exception", "botocore", "hypothesis", "NoneType")
HUGE = "9" * 100_000

methods = st.sampled_from(
    ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "get", "Post", "TRACE", ""]
) | st.text(max_size=12)
paths = (
    st.sampled_from(
        [
            "/health",
            "/orders",
            "/orders/",
            "/orders/{live}",
            "/orders/{gone}",
            "/orders/{unknown}",
            "/orders/{live}/export",
            "/orders/{gone}/export",
            "/jobs/{job}",
            "/jobs/{unknown}",
            "/",
            "",
            "//orders",
            "/ORDERS",
            "/orders/{live}/export/",
            "/orders/" + "a" * 5_000,
        ]
    )
    | st.text(max_size=40).map(lambda text: "/" + text)
    | st.text(max_size=40)
)
json_values = (
    st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
    | st.text(max_size=20)
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2)
)
order_bodies = st.fixed_dictionaries(
    {}, optional={"product_id": json_values, "quantity": json_values, "note": json_values}
).map(json.dumps)
raw_bodies = (
    order_bodies
    | st.text(max_size=200)
    | st.sampled_from(
        [
            '{"product_id": 1, "quantity": 1}',
            "[" * 50_000,
            HUGE,
            '{"product_id": ' + HUGE + ', "quantity": 1}',
            "null",
            "[]",
        ]
    )
)
# (body, isBase64Encoded) pairs: mostly consistent, so bodies reach validation, sometimes not.
body_and_flag = (
    st.tuples(st.none() | raw_bodies, st.just(False))
    | st.tuples(raw_bodies.map(lambda b: base64.b64encode(b.encode()).decode()), st.just(True))
    | st.tuples(st.none() | st.text(max_size=40), st.booleans())
)
header_maps = (
    st.none()
    | st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4)
    | st.sampled_from(
        [
            {"If-None-Match": "*"},
            {"if-none-match": 'W/"x", "y"'},
            {"If-None-Match": ""},
            {"Content-Type": "text/plain"},
            {"X-Big": HUGE},
        ]
    )
)
multi_header_maps = st.none() | st.dictionaries(
    st.text(max_size=20), st.lists(st.text(max_size=30), max_size=3), max_size=3
)
string_maps = st.none() | st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3)
# Fields as API Gateway could send them, each left as in the documented event or replaced.
well_typed = st.fixed_dictionaries(
    {},
    optional={
        "httpMethod": methods,
        "path": paths,
        "headers": header_maps,
        "multiValueHeaders": multi_header_maps,
        "queryStringParameters": string_maps,
        "pathParameters": string_maps,
        "requestContext": st.none() | st.just(MISSING),
    },
)
# Fields API Gateway never sends: missing, null where a string is due, wrong types.
ill_typed = st.fixed_dictionaries(
    {},
    optional={
        "httpMethod": st.none() | st.integers() | st.just(MISSING),
        "path": st.none() | st.lists(st.text(max_size=3), max_size=2) | st.just(MISSING),
        "headers": st.dictionaries(
            st.text(max_size=5), st.integers() | st.none(), min_size=1, max_size=2
        ),
        "multiValueHeaders": st.dictionaries(
            st.text(max_size=5), st.text(max_size=5), min_size=1, max_size=2
        ),
        "body": st.integers() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        "isBase64Encoded": st.none() | st.sampled_from(["true", 1]),
        "queryStringParameters": st.just([]),
        "requestContext": st.text(max_size=5) | st.integers(),
    },
)
well_formed_events = st.tuples(st.sampled_from(EVENT_FILES), well_typed, body_and_flag)
ill_formed_events = st.tuples(st.sampled_from(EVENT_FILES), ill_typed, body_and_flag)
foreign_events = (
    st.none()
    | st.integers()
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.lists(st.integers(), max_size=3)
    | st.dictionaries(st.text(max_size=10), st.integers(), max_size=3)
)


# Seven in ten events well formed (so they reach the routes), two ill formed, one foreign.
events = st.integers(min_value=0, max_value=9).flatmap(
    lambda share: (
        well_formed_events if share < 7 else ill_formed_events if share < 9 else foreign_events
    )
)


def _build(drawn: Any, ids: dict[str, str]) -> Any:
    if not isinstance(drawn, tuple):
        return drawn
    name, overrides, (body, is_base64) = drawn
    event = load_event(name)
    event["body"], event["isBase64Encoded"] = body, is_base64
    for key, value in overrides.items():
        if value is MISSING:
            event.pop(key, None)
        elif key == "path" and isinstance(value, str):
            for placeholder, resource_id in ids.items():
                value = value.replace(f"{{{placeholder}}}", resource_id)
            event[key] = value
        else:
            event[key] = value
    return event


def _leaks(response: dict[str, Any]) -> list[str]:
    text = response["body"]
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        # ``instance`` echoes the client's own path; everything else is ours.
        document.pop("instance", None)
        text = json.dumps(document)
    return [marker for marker in LEAK_MARKERS if marker in text]


@pytest.fixture
def known_ids(invoke: Invoke, create_order: Callable[..., str]) -> dict[str, str]:
    """Ids of a live order, a deleted order and a job, so generated paths hit real state.

    Function-scoped fixtures are set up once for the whole property run, not per example.
    """
    live, gone = create_order(), create_order()
    invoke(api_event("apigw-rest-delete-order.json", path=f"/orders/{gone}"))
    accepted = invoke(api_event("apigw-rest-post-order-export.json", path=f"/orders/{live}/export"))
    job_id = json.loads(accepted["body"])["id"]
    return {"live": live, "gone": gone, "job": job_id, "unknown": "0" * 32}


@settings(
    max_examples=2000,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
@given(drawn=events)
def test_every_event_gets_a_valid_proxy_answer_without_5xx_or_leaks(
    api_env: ApiEnv, invoke: Invoke, known_ids: dict[str, str], drawn: Any
) -> None:
    event = _build(drawn, known_ids)

    response = invoke(event)

    assert_proxy_response(response)
    assert response["statusCode"] < 500, response
    assert _leaks(response) == [], response
