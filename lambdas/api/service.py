"""Use cases of order-api: each joins the plain rules (orders, jobs) with the store.

Routes and the worker call these and nothing else; failures a client caused come out as
``api.errors`` exceptions, which the handler maps to status codes. Time and ids are
parameters so tests can pin them.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime
from typing import Any

from api import items, jobs, orders, store
from api.errors import GoneError, NotFoundError, UnknownJobError


def new_id() -> str:
    """A fresh resource id (uuid4 hex: unguessable, fixed length, safe in a URL)."""
    return uuid.uuid4().hex


def create_order(payload: object, *, now: datetime, order_id: str) -> dict[str, Any]:
    """Validate a parsed body and store the order; returns the stored item."""
    order = orders.validate_new_order(payload)
    item = orders.new_order_item(order_id, order, now)
    store.put_new_item(item)
    return item


def read_live_order(order_id: str) -> dict[str, Any]:
    """The stored order; ``NotFoundError`` if it never existed, ``GoneError`` if deleted."""
    if not orders.is_valid_id(order_id):
        raise NotFoundError("No order has this id.")
    item = store.get_item(items.key(orders.KIND, order_id))
    state = orders.order_state(item)
    if state is orders.OrderState.MISSING or item is None:
        raise NotFoundError("No order has this id.")
    if state is orders.OrderState.DELETED:
        raise GoneError("This order was deleted and will not come back.")
    return item


def delete_order(order_id: str, *, now: datetime) -> None:
    """Tombstone a live order; a second delete finds the tombstone and is told 410."""
    if not orders.is_valid_id(order_id):
        raise NotFoundError("No order has this id.")
    if store.tombstone_order(items.key(orders.KIND, order_id), now.isoformat()):
        return
    # The conditional write failed: find out whether the order is missing or already gone.
    read_live_order(order_id)


def start_export(order_id: str, *, now: datetime, job_id: str) -> dict[str, Any]:
    """Record a queued export job for a live order and enqueue it; returns the job item.

    If the message cannot be queued the job is marked failed before the error propagates,
    so a client polling it does not wait for a job nobody will run.
    """
    read_live_order(order_id)
    item = jobs.new_job_item(job_id, order_id, now)
    store.put_new_item(item)
    try:
        store.send_export_message(jobs.export_message(job_id, order_id))
    except Exception:
        # Best effort: the original error is what the caller must see and log.
        with contextlib.suppress(Exception):
            store.set_job_status(
                items.key(jobs.KIND, job_id),
                jobs.FAILED,
                now.isoformat(),
                allowed_from=[jobs.QUEUED],
                extra={"error": "the export could not be queued"},
            )
        raise
    return item


def read_job(job_id: str) -> dict[str, Any]:
    """The stored job; ``NotFoundError`` if there is none."""
    if not orders.is_valid_id(job_id):
        raise NotFoundError("No job has this id.")
    item = store.get_item(items.key(jobs.KIND, job_id))
    if item is None:
        raise NotFoundError("No job has this id.")
    return item


def run_export(request: jobs.ExportRequest, *, now: datetime) -> str:
    """Run one export job; returns the job's outcome (``done``, ``failed`` or ``skipped``).

    Raises ``UnknownJobError`` (and lets AWS errors through) so the worker reports the
    message as a batch item failure and SQS redelivers it.
    """
    key = items.key(jobs.KIND, request.job_id)
    job = store.get_item(key)
    if job is None:
        raise UnknownJobError(request.job_id)
    if not jobs.can_start(str(job["status"])):
        return "skipped"
    stamp = now.isoformat()
    if not store.set_job_status(key, jobs.RUNNING, stamp, allowed_from=jobs.STARTABLE):
        return "skipped"
    order = store.get_item(items.key(orders.KIND, str(job["order_id"])))
    if orders.order_state(order) is not orders.OrderState.LIVE or order is None:
        store.set_job_status(
            key,
            jobs.FAILED,
            stamp,
            allowed_from=[jobs.RUNNING],
            extra={"error": "the order was deleted before the export ran"},
        )
        return jobs.FAILED
    result = jobs.export_result(orders.order_view(order), now)
    store.set_job_status(
        key,
        jobs.DONE,
        stamp,
        allowed_from=[jobs.RUNNING],
        extra={"result": json.dumps(result, separators=(",", ":"))},
    )
    return jobs.DONE
