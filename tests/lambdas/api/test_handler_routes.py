"""Every route of order-api and every status it answers, through ``lambda_handler`` under moto.

Status meanings follow RFC 9110 (HTTP Semantics) and RFC 6585 (429); each response is also checked against the proxy output contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from api import routing
from tests.support.api_events import (
    ApiEnv,
    Invoke,
    api_event,
    assert_proxy_response,
    header,
    order_path,
)

UNKNOWN_ID = "0" * 32


def _problem(response: dict[str, object]) -> dict[str, object]:
    document: dict[str, object] = json.loads(str(response["body"]))
    return document


# --- /health ----------------------------------------------------------------------------


def test_health_answers_200_with_a_small_json_body(api_env: ApiEnv, invoke: Invoke) -> None:
    response = invoke(api_event("apigw-rest-get-health.json"))

    assert_proxy_response(response)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}


# --- POST /orders -------------------------------------------------------------------------


def test_create_order_answers_201_with_location_of_the_new_order(
    api_env: ApiEnv, invoke: Invoke
) -> None:
    response = invoke(api_event("apigw-rest-post-orders.json"))

    assert_proxy_response(response)
    assert response["statusCode"] == 201
    order = json.loads(response["body"])
    assert header(response, "Location") == f"/orders/{order['id']}"
    assert (order["product_id"], order["quantity"]) == (1, 1)


def test_create_order_location_serves_the_same_representation(
    api_env: ApiEnv, invoke: Invoke
) -> None:
    created = invoke(api_event("apigw-rest-post-orders.json"))

    fetched = invoke(api_event("apigw-rest-get-order.json", path=header(created, "Location")))

    assert fetched["statusCode"] == 200
    assert fetched["body"] == created["body"]
    assert header(fetched, "ETag") == header(created, "ETag")


def test_create_order_accepts_a_base64_encoded_body(api_env: ApiEnv, invoke: Invoke) -> None:
    event = api_event(
        "apigw-rest-post-orders.json",
        body='{"product_id": 7, "quantity": 3}',
        base64_body=True,
    )

    response = invoke(event)

    assert response["statusCode"] == 201
    assert json.loads(response["body"])["product_id"] == 7


@pytest.mark.parametrize(
    ("body", "base64_body"),
    [
        ('{"product_id": 1, "quantity": ', False),
        ("", False),
        ("product_id=1&quantity=1", False),
        ('{"product_id": NaN, "quantity": 1}', False),
        ("not base64 at all!", True),
    ],
    ids=["truncated-json", "empty", "form-encoded", "nan-literal", "bad-base64"],
)
def test_create_order_answers_400_when_the_body_is_not_json(
    api_env: ApiEnv, invoke: Invoke, body: str, base64_body: bool
) -> None:
    event = api_event("apigw-rest-post-orders.json", body=body)
    event["isBase64Encoded"] = base64_body

    response = invoke(event)

    assert_proxy_response(response)
    assert response["statusCode"] == 400
    assert header(response, "Content-Type") == "application/problem+json"


def test_create_order_answers_422_with_one_entry_per_failing_field(
    api_env: ApiEnv, invoke: Invoke
) -> None:
    event = api_event("apigw-rest-post-orders.json", body='{"product_id": "1", "quantity": 0}')

    response = invoke(event)

    assert_proxy_response(response)
    assert response["statusCode"] == 422
    errors = _problem(response)["errors"]
    assert isinstance(errors, list)
    assert sorted(e["field"] for e in errors) == ["product_id", "quantity"]


def test_create_order_answers_422_naming_each_missing_field(
    api_env: ApiEnv, invoke: Invoke
) -> None:
    response = invoke(api_event("apigw-rest-post-orders.json", body="{}"))

    assert response["statusCode"] == 422
    errors = _problem(response)["errors"]
    assert isinstance(errors, list)
    assert {(e["field"], e["detail"]) for e in errors} == {
        ("product_id", "is required"),
        ("quantity", "is required"),
    }


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "1", None, 10_001])
def test_create_order_answers_422_for_a_quantity_that_is_not_a_positive_integer(
    api_env: ApiEnv, invoke: Invoke, quantity: object
) -> None:
    body = json.dumps({"product_id": 1, "quantity": quantity})

    response = invoke(api_event("apigw-rest-post-orders.json", body=body))

    assert response["statusCode"] == 422
    errors = _problem(response)["errors"]
    assert isinstance(errors, list)
    assert [e["pointer"] for e in errors] == ["#/quantity"]


def test_create_order_answers_422_when_the_body_is_not_an_object(
    api_env: ApiEnv, invoke: Invoke
) -> None:
    response = invoke(api_event("apigw-rest-post-orders.json", body="[1, 1]"))

    assert response["statusCode"] == 422
    assert _problem(response)["errors"] == [
        {"field": "", "pointer": "#", "detail": "the body must be a JSON object"}
    ]


# --- GET /orders/{id} -----------------------------------------------------------------------


def test_get_order_answers_200_with_a_strong_quoted_etag(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    order_id = create_order(product_id=5, quantity=2)

    response = invoke(api_event("apigw-rest-get-order.json", path=order_path(order_id)))

    assert_proxy_response(response)
    assert response["statusCode"] == 200
    etag = header(response, "ETag")
    assert etag is not None
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert json.loads(response["body"])["quantity"] == 2


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "*", "W/{etag}", '"0000", {etag}', '"a,b", W/"zz" , {etag}'],
    ids=["exact", "star", "weak-form", "list", "list-with-comma-in-tag"],
)
def test_get_order_answers_304_with_empty_body_when_if_none_match_matches(
    invoke: Invoke, create_order: Callable[..., str], if_none_match: str
) -> None:
    path = order_path(create_order())
    etag = header(invoke(api_event("apigw-rest-get-order.json", path=path)), "ETag")
    assert etag is not None
    conditional = api_event(
        "apigw-rest-get-order.json",
        path=path,
        headers={"If-None-Match": if_none_match.format(etag=etag)},
    )

    response = invoke(conditional)

    assert_proxy_response(response)
    assert response["statusCode"] == 304
    assert response["body"] == ""
    assert header(response, "ETag") == etag


def test_not_modified_keeps_the_representation_metadata(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    # RFC 9110 section 15.4.5: no body, but the headers of the 200 are still sent.
    path = order_path(create_order())
    fresh = invoke(api_event("apigw-rest-get-order.json", path=path))
    conditional = api_event(
        "apigw-rest-get-order.json",
        path=path,
        headers={"If-None-Match": str(header(fresh, "ETag"))},
    )

    response = invoke(conditional)

    assert response["headers"] == fresh["headers"]


def test_get_order_answers_200_when_if_none_match_names_another_tag(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    event = api_event(
        "apigw-rest-get-order.json",
        path=order_path(create_order()),
        headers={"If-None-Match": '"some-older-version"'},
    )

    response = invoke(event)

    assert response["statusCode"] == 200
    assert response["body"] != ""


def test_get_order_reads_if_none_match_from_any_repeated_header_line(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    path = order_path(create_order())
    etag = header(invoke(api_event("apigw-rest-get-order.json", path=path)), "ETag")
    event = api_event("apigw-rest-get-order.json", path=path)
    # API Gateway keeps only the last line in ``headers`` and all of them in the multi map.
    event["headers"]["if-none-match"] = '"other"'
    event["multiValueHeaders"]["if-none-match"] = [str(etag), '"other"']

    response = invoke(event)

    assert response["statusCode"] == 304


@pytest.mark.parametrize(
    "path", [order_path(UNKNOWN_ID), "/orders/not-an-id", "/orders/" + "a" * 5000]
)
def test_get_unknown_order_answers_404(api_env: ApiEnv, invoke: Invoke, path: str) -> None:
    response = invoke(api_event("apigw-rest-get-order.json", path=path))

    assert_proxy_response(response)
    assert response["statusCode"] == 404


def test_get_deleted_order_answers_410_gone(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    path = order_path(create_order())
    invoke(api_event("apigw-rest-delete-order.json", path=path))

    response = invoke(api_event("apigw-rest-get-order.json", path=path))

    assert_proxy_response(response)
    assert response["statusCode"] == 410


def test_head_order_answers_200_with_etag_and_no_body(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    event = api_event("apigw-rest-get-order.json", method="HEAD", path=order_path(create_order()))

    response = invoke(event)

    assert response["statusCode"] == 200
    assert response["body"] == ""
    assert header(response, "ETag") is not None


# --- DELETE /orders/{id} --------------------------------------------------------------------


def test_delete_order_answers_204_with_empty_body(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    response = invoke(api_event("apigw-rest-delete-order.json", path=order_path(create_order())))

    assert_proxy_response(response)
    assert response["statusCode"] == 204
    assert response["body"] == ""


def test_second_delete_of_an_order_answers_410(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    path = order_path(create_order())
    invoke(api_event("apigw-rest-delete-order.json", path=path))

    response = invoke(api_event("apigw-rest-delete-order.json", path=path))

    assert_proxy_response(response)
    assert response["statusCode"] == 410


def test_delete_unknown_order_answers_404(api_env: ApiEnv, invoke: Invoke) -> None:
    response = invoke(api_event("apigw-rest-delete-order.json", path=order_path(UNKNOWN_ID)))

    assert_proxy_response(response)
    assert response["statusCode"] == 404


def test_delete_keeps_only_a_tombstone_of_the_order(
    api_env: ApiEnv, invoke: Invoke, create_order: Callable[..., str]
) -> None:
    order_id = create_order()

    invoke(api_event("apigw-rest-delete-order.json", path=order_path(order_id)))

    item = api_env.table.get_item(Key={"pk": f"order#{order_id}"})["Item"]
    assert item["status"] == "deleted"
    assert "quantity" not in item


# --- POST /orders/{id}/export and GET /jobs/{id} --------------------------------------------


def test_export_answers_202_with_location_of_a_queued_job(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    order_id = create_order()

    response = invoke(
        api_event("apigw-rest-post-order-export.json", path=order_path(order_id, "/export"))
    )

    assert_proxy_response(response)
    assert response["statusCode"] == 202
    job = json.loads(response["body"])
    assert header(response, "Location") == f"/jobs/{job['id']}"
    assert (job["status"], job["order_id"]) == ("queued", order_id)


def test_export_enqueues_a_message_naming_the_job(
    api_env: ApiEnv, invoke: Invoke, create_order: Callable[..., str]
) -> None:
    order_id = create_order()

    response = invoke(
        api_event("apigw-rest-post-order-export.json", path=order_path(order_id, "/export"))
    )

    messages = api_env.sqs.receive_message(QueueUrl=api_env.queue_url)["Messages"]
    job_id = json.loads(response["body"])["id"]
    assert [json.loads(m["Body"]) for m in messages] == [{"job_id": job_id, "order_id": order_id}]


def test_export_of_unknown_order_answers_404(api_env: ApiEnv, invoke: Invoke) -> None:
    event = api_event("apigw-rest-post-order-export.json", path=order_path(UNKNOWN_ID, "/export"))

    response = invoke(event)

    assert response["statusCode"] == 404


def test_export_of_deleted_order_answers_410(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    order_id = create_order()
    invoke(api_event("apigw-rest-delete-order.json", path=order_path(order_id)))

    response = invoke(
        api_event("apigw-rest-post-order-export.json", path=order_path(order_id, "/export"))
    )

    assert response["statusCode"] == 410


def test_get_job_answers_200_with_the_job_state(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    accepted = invoke(
        api_event("apigw-rest-post-order-export.json", path=order_path(create_order(), "/export"))
    )

    response = invoke(api_event("apigw-rest-get-job.json", path=header(accepted, "Location")))

    assert_proxy_response(response)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "queued"


@pytest.mark.parametrize("path", [f"/jobs/{UNKNOWN_ID}", "/jobs/nope"])
def test_get_unknown_job_answers_404(api_env: ApiEnv, invoke: Invoke, path: str) -> None:
    response = invoke(api_event("apigw-rest-get-job.json", path=path))

    assert_proxy_response(response)
    assert response["statusCode"] == 404


# --- routing: 404, 405, OPTIONS -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", order_path(UNKNOWN_ID), "GET, HEAD, DELETE, OPTIONS"),
        ("GET", "/orders", "POST, OPTIONS"),
        ("DELETE", "/health", "GET, HEAD, OPTIONS"),
        ("GET", order_path(UNKNOWN_ID, "/export"), "POST, OPTIONS"),
        ("PATCH", f"/jobs/{UNKNOWN_ID}", "GET, HEAD, OPTIONS"),
    ],
)
def test_unsupported_method_answers_405_with_allow(
    api_env: ApiEnv, invoke: Invoke, method: str, path: str, allow: str
) -> None:
    response = invoke(api_event("apigw-rest-get-health.json", method=method, path=path))

    assert_proxy_response(response)
    assert response["statusCode"] == 405
    assert header(response, "Allow") == allow


def test_options_answers_204_with_allow(api_env: ApiEnv, invoke: Invoke) -> None:
    response = invoke(api_event("apigw-rest-get-health.json", method="OPTIONS", path="/orders"))

    assert_proxy_response(response)
    assert response["statusCode"] == 204
    assert header(response, "Allow") == "POST, OPTIONS"


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_unknown_route_answers_404_problem(api_env: ApiEnv, invoke: Invoke, method: str) -> None:
    response = invoke(api_event("apigw-rest-get-health.json", method=method, path="/customers"))

    assert_proxy_response(response)
    assert response["statusCode"] == 404
    assert _problem(response)["instance"] == "/customers"


def test_every_method_in_the_route_table_reaches_a_route(
    invoke: Invoke, create_order: Callable[..., str]
) -> None:
    # Given an order and a job, so no routed request answers 404
    order_id = create_order()
    accepted = invoke(
        api_event("apigw-rest-post-order-export.json", path=order_path(order_id, "/export"))
    )
    job_id = json.loads(accepted["body"])["id"]
    answers = {}
    # When every method the table lists is sent to its path
    for rule, methods in routing.METHODS.items():
        path = rule.replace("<order_id>", order_id).replace("<job_id>", job_id)
        for method in methods:
            response = invoke(api_event("apigw-rest-get-health.json", method=method, path=path))
            answers[(method, rule)] = response["statusCode"]

    # Then none is treated as an unknown route or an unsupported method
    assert {key: status for key, status in answers.items() if status in (404, 405)} == {}
