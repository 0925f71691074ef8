"""RFC 9457 problem details: the one body shape every error answer of order-api uses.

A client, a log search and an alarm all read the same fields: ``type``, ``title``,
``status``, ``detail``, ``instance``, plus ``trace_id`` (the Lambda request id, also on
every log line of the invocation as ``function_request_id``) so a user's report leads
straight to the log entry. ``detail`` is always our own sentence: exception text, class
names and stack traces never reach a body, they go to the structured log only.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

PROBLEM_JSON = "application/problem+json"
# RFC 9457 section 4.2.1: "about:blank" says the problem is what the status code says;
# then ``title`` should be the status phrase.
ABOUT_BLANK = "about:blank"
# Longer request paths are cut so a client cannot make an error body arbitrarily large.
MAX_INSTANCE_CHARS = 512
# Characters RFC 3986 allows in a path (pchar and "/"), "%" kept so existing escapes survive.
_PATH_SAFE = "/-._~!$&'()*+,;=:@%"


def status_title(status: int) -> str:
    """The reason phrase of ``status``, or a generic title for a code HTTP does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def instance_for(path: object) -> str:
    """A URI reference for the request that failed: its path, percent-encoded and bounded."""
    if not isinstance(path, str) or not path.startswith("/"):
        return "/"
    encoded = quote(path, safe=_PATH_SAFE, errors="replace")
    return encoded[:MAX_INSTANCE_CHARS]


def problem(
    status: int, *, detail: str, instance: str, trace_id: str, **extensions: Any
) -> dict[str, Any]:
    """The problem document for one failed request, extension members last."""
    return {
        "type": ABOUT_BLANK,
        "title": status_title(status),
        "status": int(status),
        "detail": detail,
        "instance": instance,
        "trace_id": trace_id,
        **extensions,
    }


def problem_headers(status: int) -> dict[str, str]:
    """Headers every problem answer carries.

    5xx answers are marked ``no-store``: a cache in front of the API (CloudFront caches
    error responses: CloudFront Developer Guide, "Control how long CloudFront caches errors") must not keep serving a failure after recovery.
    """
    headers = {"Content-Type": PROBLEM_JSON}
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        headers["Cache-Control"] = "no-store"
    return headers


def problem_json(document: dict[str, Any]) -> str:
    """Serialize a problem document; ASCII-only so odd client input cannot break encoding."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True, default=str)
