"""Export-job rules as plain data: lifecycle, the public view and the queue message."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from api import jobs

NOW = datetime(2026, 11, 24, 14, 44, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "startable"),
    [(jobs.QUEUED, True), (jobs.RUNNING, True), (jobs.DONE, False), (jobs.FAILED, False)],
)
def test_only_unfinished_jobs_may_start(status: str, startable: bool) -> None:
    assert jobs.can_start(status) is startable


def test_new_job_is_queued_under_its_own_key() -> None:
    item = jobs.new_job_item("a" * 32, "b" * 32, NOW)

    assert (item["pk"], item["status"], item["order_id"]) == (f"job#{'a' * 32}", "queued", "b" * 32)


def test_job_view_decodes_the_stored_result() -> None:
    item = jobs.new_job_item("a" * 32, "b" * 32, NOW)
    item["result"] = json.dumps(jobs.export_result({"id": "b" * 32}, NOW))

    assert jobs.job_view(item)["result"] == {
        "exported_at": NOW.isoformat(),
        "order": {"id": "b" * 32},
    }


def test_export_message_round_trips() -> None:
    message = jobs.export_message("a" * 32, "b" * 32)

    assert jobs.parse_export_message(message) == jobs.ExportRequest("a" * 32, "b" * 32)


@pytest.mark.parametrize(
    "body", ["[]", '{"job_id": "x"}', '{"job_id": 1, "order_id": "y"}', "nope"]
)
def test_parse_export_message_rejects_bodies_that_are_not_ours(body: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError is a ValueError too
        jobs.parse_export_message(body)
