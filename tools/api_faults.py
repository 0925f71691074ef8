"""The bad order-api releases ``tools.api_release`` ships, as handlers wrapping the real one.

Copied into the release zip as ``release_faults.py`` next to the ``api`` package, and named
in the function's handler setting, so the bad version is the real code with one bug:

* ``post_orders_raises``: creating an order raises inside the service layer, the way a
  real bug would; the handler's catch-all turns it into a 500 problem and ``Http5xx`` = 1,
  which the canary alarm on the new version sees (the pre-traffic hook does not judge
  statuses, so this one reaches the canary).
* ``post_orders_not_proxy``: ``POST /orders`` returns the created order itself instead of
  a proxy response, which API Gateway would answer with 502 and the pre-traffic hook
  refuses before any traffic moves.
"""

from __future__ import annotations

from typing import Any

from api import handler, service


def _broken_create_order(*args: Any, **kwargs: Any) -> Any:
    raise KeyError("customer_id")  # the kind of slip a refactor leaves behind


def post_orders_raises(event: Any, context: Any) -> dict[str, Any]:
    original = service.create_order
    service.create_order = _broken_create_order  # type: ignore[assignment]
    try:
        return handler.lambda_handler(event, context)
    finally:
        service.create_order = original  # type: ignore[assignment]


def post_orders_not_proxy(event: Any, context: Any) -> Any:
    response = handler.lambda_handler(event, context)
    if response.get("statusCode") == 201:
        # The order document, as a route forgetting its envelope would return it.
        return {"created": True, "location": response.get("headers", {}).get("Location")}
    return response
