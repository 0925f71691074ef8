"""The REST API's resources and the handler's route table describe the same API.

The stack declares each path and method for per-operation metrics and access logs; the
handler answers 405 with ``Allow`` from its own table. If one changed without the other,
a route would reach the handler and 404, or be answered by API Gateway instead.
"""

from __future__ import annotations

import re

from api import routing
from stacks.constructs.orders_api import ROUTES


def _as_api_gateway_path(rule: str) -> str:
    return re.sub(r"<(\w+)>", r"{\1}", rule)


def test_every_handler_route_is_a_resource_with_the_same_methods() -> None:
    handler = {
        _as_api_gateway_path(rule): tuple(m for m in methods if m != "HEAD")
        for rule, methods in routing.METHODS.items()
    }
    assert handler == dict(ROUTES)
