"""The route table of order-api: which paths exist and which methods each one answers.

The router registers its routes from these rule constants; the same table lets a request
with an unsupported method get 405 with the ``Allow`` header RFC 9110 section 15.5.6
requires instead of the 404 the router gives for any unmatched method and path.
"""

from __future__ import annotations

import re
from functools import cache

HEALTH = "/health"
ORDERS = "/orders"
ORDER = "/orders/<order_id>"
ORDER_EXPORT = "/orders/<order_id>/export"
JOB = "/jobs/<job_id>"

# HEAD is served wherever GET is (RFC 9110 section 9.3.2); OPTIONS is answered for every
# known path by the not-found handler, so it is added by ``allowed_methods``.
METHODS: dict[str, tuple[str, ...]] = {
    HEALTH: ("GET", "HEAD"),
    ORDERS: ("POST",),
    ORDER: ("GET", "HEAD", "DELETE"),
    ORDER_EXPORT: ("POST",),
    JOB: ("GET", "HEAD"),
}

_PARAMETER = re.compile(r"<\w+>")


@cache
def _rule_pattern(rule: str) -> re.Pattern[str]:
    # One path segment per parameter; trailing slashes tolerated as the REST resolver does.
    pieces = _PARAMETER.split(rule)
    body = "[^/]+".join(re.escape(piece) for piece in pieces)
    return re.compile(f"{body}/*")


def allowed_methods(path: str) -> tuple[str, ...]:
    """The methods ``path`` answers (with OPTIONS), or ``()`` when no route has this path."""
    for rule, methods in METHODS.items():
        if _rule_pattern(rule).fullmatch(path):
            return (*methods, "OPTIONS")
    return ()
