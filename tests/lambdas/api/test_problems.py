"""RFC 9457 problem documents: members, titles and a safe ``instance``."""

from __future__ import annotations

from api import problems


def test_problem_has_the_rfc_9457_members_and_the_trace_id() -> None:
    document = problems.problem(404, detail="No order.", instance="/orders/x", trace_id="t-1")

    assert document == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No order.",
        "instance": "/orders/x",
        "trace_id": "t-1",
    }


def test_instance_percent_encodes_characters_a_uri_cannot_hold() -> None:
    assert problems.instance_for('/orders/a b"<x>') == "/orders/a%20b%22%3Cx%3E"


def test_instance_is_bounded() -> None:
    assert len(problems.instance_for("/" + "a" * 10_000)) == problems.MAX_INSTANCE_CHARS


def test_instance_of_a_missing_path_is_the_root() -> None:
    assert problems.instance_for(None) == "/"


def test_only_server_errors_are_marked_no_store() -> None:
    assert "Cache-Control" not in problems.problem_headers(404)
    assert problems.problem_headers(503)["Cache-Control"] == "no-store"
