"""The export worker under moto: jobs queued by the API run to ``done``, and a message that
cannot be processed is reported in ``batchItemFailures`` so SQS redelivers only that one."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from api import store, worker
from tests.support.api_events import ApiEnv, Invoke, api_event, order_path, sqs_event
from tests.support.lambda_context import FakeLambdaContext


@pytest.fixture
def start_export(invoke: Invoke, create_order: Callable[..., str]) -> Callable[..., dict[str, Any]]:
    """Create an order and ask the API to export it; returns the accepted job."""

    def _start(order_id: str | None = None) -> dict[str, Any]:
        order_id = order_id or create_order(product_id=9, quantity=4)
        event = api_event("apigw-rest-post-order-export.json", path=order_path(order_id, "/export"))
        response = invoke(event)
        assert response["statusCode"] == 202, response
        job: dict[str, Any] = json.loads(response["body"])
        return job

    return _start


def _job(invoke: Invoke, job_id: str) -> dict[str, Any]:
    response = invoke(api_event("apigw-rest-get-job.json", path=f"/jobs/{job_id}"))
    assert response["statusCode"] == 200, response
    job: dict[str, Any] = json.loads(response["body"])
    return job


def _failed_bodies(result: dict[str, Any], event: dict[str, Any]) -> list[str]:
    bodies = {r["messageId"]: r["body"] for r in event["Records"]}
    return [bodies[f["itemIdentifier"]] for f in result["batchItemFailures"]]


def test_worker_runs_a_queued_export_to_done_with_the_order_snapshot(
    api_env: ApiEnv,
    invoke: Invoke,
    start_export: Callable[..., dict[str, Any]],
    lambda_context: FakeLambdaContext,
) -> None:
    job = start_export()
    event = sqs_event(api_env)

    result = worker.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    finished = _job(invoke, job["id"])
    assert finished["status"] == "done"
    assert finished["result"]["order"]["id"] == job["order_id"]
    assert finished["result"]["order"]["quantity"] == 4


def test_worker_reports_only_the_malformed_message_as_a_batch_item_failure(
    api_env: ApiEnv,
    invoke: Invoke,
    start_export: Callable[..., dict[str, Any]],
    lambda_context: FakeLambdaContext,
) -> None:
    job = start_export()
    event = sqs_event(api_env, extra_bodies=("this is not an export message",))

    result = worker.lambda_handler(event, lambda_context)

    assert _failed_bodies(result, event) == ["this is not an export message"]
    assert _job(invoke, job["id"])["status"] == "done"


def test_worker_reports_a_message_for_an_unknown_job_as_a_batch_item_failure(
    api_env: ApiEnv, lambda_context: FakeLambdaContext
) -> None:
    body = json.dumps({"job_id": "f" * 32, "order_id": "e" * 32})
    event = sqs_event(api_env, extra_bodies=(body,))

    result = worker.lambda_handler(event, lambda_context)

    assert _failed_bodies(result, event) == [body]


def test_worker_reports_a_failing_store_as_a_batch_item_failure(
    api_env: ApiEnv,
    start_export: Callable[..., dict[str, Any]],
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start_export()
    event = sqs_event(api_env)

    def unavailable(*_: object, **__: object) -> Any:
        raise ConnectionError("dynamodb unreachable")

    monkeypatch.setattr(store, "get_item", unavailable)

    result = worker.lambda_handler(event, lambda_context)

    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        event["Records"][0]["messageId"]
    ]


def test_worker_fails_the_job_when_the_order_was_deleted_meanwhile(
    api_env: ApiEnv,
    invoke: Invoke,
    create_order: Callable[..., str],
    start_export: Callable[..., dict[str, Any]],
    lambda_context: FakeLambdaContext,
) -> None:
    order_id = create_order()
    job = start_export(order_id)
    invoke(api_event("apigw-rest-delete-order.json", path=order_path(order_id)))

    result = worker.lambda_handler(sqs_event(api_env), lambda_context)

    assert result == {"batchItemFailures": []}
    finished = _job(invoke, job["id"])
    assert (finished["status"], finished["error"]) == (
        "failed",
        "the order was deleted before the export ran",
    )


def test_worker_leaves_a_finished_job_alone_on_redelivery(
    api_env: ApiEnv,
    invoke: Invoke,
    start_export: Callable[..., dict[str, Any]],
    lambda_context: FakeLambdaContext,
) -> None:
    job = start_export()
    event = sqs_event(api_env)
    worker.lambda_handler(event, lambda_context)
    first = _job(invoke, job["id"])

    # SQS delivers at least once: the same message arrives again.
    result = worker.lambda_handler(event, lambda_context)

    assert result == {"batchItemFailures": []}
    assert _job(invoke, job["id"]) == first
