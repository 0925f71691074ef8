"""The export worker under moto: jobs queued by the API run to ``done``, and a message that
cannot be processed is reported in ``batchItemFailures`` so SQS redelivers only that one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from api import store, worker
from tests.support.api_events import ApiEnv, Invoke, api_event, order_path, sqs_event
from tests.support.lambda_context import FakeLambdaContext


@dataclass
class Exports:
    """Export jobs through the API and deliveries of the queue to the worker."""

    env: ApiEnv
    invoke: Invoke
    context: FakeLambdaContext
    create_order: Callable[..., str]

    def start(self, order_id: str | None = None) -> dict[str, Any]:
        """Ask the API to export ``order_id`` (a new order if None); the accepted job."""
        order_id = order_id or self.create_order(product_id=9, quantity=4)
        event = api_event("apigw-rest-post-order-export.json", path=order_path(order_id, "/export"))
        response = self.invoke(event)
        assert response["statusCode"] == 202, response
        job: dict[str, Any] = json.loads(response["body"])
        return job

    def job(self, job_id: str) -> dict[str, Any]:
        response = self.invoke(api_event("apigw-rest-get-job.json", path=f"/jobs/{job_id}"))
        assert response["statusCode"] == 200, response
        job: dict[str, Any] = json.loads(response["body"])
        return job

    def queued(self, *extra_bodies: str) -> dict[str, Any]:
        """The SQS event for what is queued now, after sending ``extra_bodies``."""
        return sqs_event(self.env, extra_bodies=extra_bodies)

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = worker.lambda_handler(event, self.context)
        return result


@pytest.fixture
def exports(
    api_env: ApiEnv,
    invoke: Invoke,
    lambda_context: FakeLambdaContext,
    create_order: Callable[..., str],
) -> Exports:
    return Exports(api_env, invoke, lambda_context, create_order)


def _failed_bodies(result: dict[str, Any], event: dict[str, Any]) -> list[str]:
    bodies = {r["messageId"]: r["body"] for r in event["Records"]}
    return [bodies[f["itemIdentifier"]] for f in result["batchItemFailures"]]


def test_worker_runs_a_queued_export_to_done_with_the_order_snapshot(exports: Exports) -> None:
    job = exports.start()

    result = exports.deliver(exports.queued())

    assert result == {"batchItemFailures": []}
    finished = exports.job(job["id"])
    assert finished["status"] == "done"
    assert finished["result"]["order"]["id"] == job["order_id"]
    assert finished["result"]["order"]["quantity"] == 4


def test_worker_reports_only_the_malformed_message_as_a_batch_item_failure(
    exports: Exports,
) -> None:
    job = exports.start()
    event = exports.queued("this is not an export message")

    result = exports.deliver(event)

    assert _failed_bodies(result, event) == ["this is not an export message"]
    assert exports.job(job["id"])["status"] == "done"


def test_worker_reports_a_message_for_an_unknown_job_as_a_batch_item_failure(
    exports: Exports,
) -> None:
    body = json.dumps({"job_id": "f" * 32, "order_id": "e" * 32})
    event = exports.queued(body)

    result = exports.deliver(event)

    assert _failed_bodies(result, event) == [body]


def test_worker_reports_a_failing_store_as_a_batch_item_failure(
    exports: Exports, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports.start()
    event = exports.queued()

    def unavailable(*_: object, **__: object) -> Any:
        raise ConnectionError("dynamodb unreachable")

    monkeypatch.setattr(store, "get_item", unavailable)

    result = exports.deliver(event)

    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        event["Records"][0]["messageId"]
    ]


def test_worker_fails_the_job_when_the_order_was_deleted_meanwhile(exports: Exports) -> None:
    order_id = exports.create_order()
    job = exports.start(order_id)
    exports.invoke(api_event("apigw-rest-delete-order.json", path=order_path(order_id)))

    result = exports.deliver(exports.queued())

    assert result == {"batchItemFailures": []}
    finished = exports.job(job["id"])
    assert (finished["status"], finished["error"]) == (
        "failed",
        "the order was deleted before the export ran",
    )


def test_worker_leaves_a_finished_job_alone_on_redelivery(exports: Exports) -> None:
    job = exports.start()
    event = exports.queued()
    exports.deliver(event)
    first = exports.job(job["id"])

    # SQS delivers at least once: the same message arrives again.
    result = exports.deliver(event)

    assert result == {"batchItemFailures": []}
    assert exports.job(job["id"]) == first
