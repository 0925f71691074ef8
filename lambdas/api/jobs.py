"""Export-job rules as plain functions: the job item, its lifecycle and the queue message.

An export answers 202 Accepted at once and runs in the worker, because work that may take
longer than API Gateway's 29 s integration timeout would otherwise end in 504, and a 504 tells the
client nothing about whether the work ran (API Gateway Developer Guide, "Amazon API Gateway
quotas": 29 s integration timeout). A job lives in the orders table under ``pk = "job#<id>"`` and moves
queued -> running -> done | failed; ``running`` may be re-entered because SQS delivers at
least once and a crashed attempt is retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api import items

KIND = "job"
QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
# States from which a delivery may (re)start the work.
STARTABLE = frozenset({QUEUED, RUNNING})
TERMINAL = frozenset({DONE, FAILED})


@dataclass(frozen=True)
class ExportRequest:
    """The body of one export message on the queue."""

    job_id: str
    order_id: str


def new_job_item(job_id: str, order_id: str, now: datetime) -> dict[str, Any]:
    """The table item of a job that has been accepted but not started."""
    return items.new_item(KIND, job_id, now, order_id=order_id, status=QUEUED)


def can_start(status: str) -> bool:
    """Whether a delivered message should (re)run the job: not once it has finished."""
    return status in STARTABLE


def job_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON of a job: state, timestamps, and the result or error once finished."""
    view: dict[str, Any] = {
        "id": str(item["id"]),
        "order_id": str(item["order_id"]),
        "status": str(item["status"]),
        "created_at": str(item["created_at"]),
        "updated_at": str(item["updated_at"]),
    }
    if "result" in item:
        view["result"] = json.loads(str(item["result"]))
    if "error" in item:
        view["error"] = str(item["error"])
    return view


def export_result(order: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What a finished export holds: the order as it was when the job ran."""
    return {"exported_at": now.isoformat(), "order": dict(order)}


def export_message(job_id: str, order_id: str) -> str:
    """The SQS message body that asks the worker to run a job."""
    return json.dumps({"job_id": job_id, "order_id": order_id}, separators=(",", ":"))


def parse_export_message(body: str) -> ExportRequest:
    """The request in a message body; ``ValueError`` when it is not one of ours."""
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("export message is not a JSON object")
    job_id, order_id = payload.get("job_id"), payload.get("order_id")
    if not isinstance(job_id, str) or not isinstance(order_id, str):
        raise ValueError("export message lacks job_id or order_id")
    return ExportRequest(job_id=job_id, order_id=order_id)
