"""order-api's endpoints and its in-memory orders, apart from the HTTP plumbing.

``route`` maps a request line to an endpoint, ``parse_order`` checks an order body, and
``OrderStore`` keeps orders in memory, shared by the server's threads and bounded so a
load drill cannot exhaust the instance. Standard library only and Python 3.9 syntax (the
instance's ``python3``).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

# In-memory store: the oldest orders are dropped past this, so a load drill cannot
# exhaust the instance's memory.
MAX_ORDERS = 10_000
_ORDER_PATH_RE = re.compile(r"/orders/([0-9a-f]{32})")


@dataclass(frozen=True)
class Route:
    """Which endpoint a request line names; ``allow`` is set for a 405."""

    name: str
    order_id: str = ""
    allow: str = ""


def route(method: str, target: str) -> Route:
    """Map a method and request target to an endpoint name, ignoring any query string."""
    path = target.split("?", 1)[0]
    if path in ("/health", "/version"):
        return Route(path[1:]) if method == "GET" else Route("method_not_allowed", allow="GET")
    if path == "/orders":
        if method == "POST":
            return Route("create_order")
        return Route("method_not_allowed", allow="POST")
    match = _ORDER_PATH_RE.fullmatch(path)
    if match:
        if method == "GET":
            return Route("get_order", order_id=match.group(1))
        return Route("method_not_allowed", allow="GET")
    return Route("not_found")


def parse_order(body: bytes) -> dict[str, Any]:
    """Decode an order request body: a non-empty JSON object, or ``ValueError``."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise ValueError("body must be a non-empty JSON object")
    return data


class OrderStore:
    """Orders in memory, shared by the server's threads; the oldest go first past capacity."""

    def __init__(self, capacity: int = MAX_ORDERS) -> None:
        self._capacity = capacity
        self._orders: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def create(self, payload: dict[str, Any], *, keep: bool = True) -> str:
        order_id = uuid.uuid4().hex
        if not keep:
            return order_id
        with self._lock:
            self._orders[order_id] = {"orderId": order_id, "order": payload}
            while len(self._orders) > self._capacity:
                self._orders.popitem(last=False)
        return order_id

    def get(self, order_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._orders.get(order_id)
