"""Order rules as plain functions: validation, the stored item, its JSON view and its ETag.

Nothing here touches AWS, so the rules are tested with plain data. An order is stored
under ``pk = "order#<id>"``; deleting it leaves a tombstone (``status = "deleted"``) so a
later read can answer 410 Gone rather than 404 (RFC 9110 section 15.5.11).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from api import items
from api.errors import FieldError, ValidationFailedError

KIND = "order"
ACTIVE = "active"
DELETED = "deleted"
# Largest integer a JavaScript client reads without losing precision.
MAX_PRODUCT_ID = 2**53 - 1
# A business ceiling that also keeps every number far inside DynamoDB's 38 digits.
MAX_QUANTITY = 10_000
_ID = re.compile(r"[0-9a-f]{32}")


class OrderState(Enum):
    """What a read of an order id found."""

    MISSING = "missing"
    LIVE = "live"
    DELETED = "deleted"


@dataclass(frozen=True)
class NewOrder:
    """A validated ``POST /orders`` body."""

    product_id: int
    quantity: int


def is_valid_id(value: str) -> bool:
    """Whether ``value`` could be an id this API issued (uuid4 hex).

    Checked before any read, so a malformed or huge path segment is a plain 404 and never
    reaches DynamoDB (whose key limit would turn it into a server error).
    """
    return _ID.fullmatch(value) is not None


def _integer_problem(value: object, *, maximum: int) -> str | None:
    # bool is an int subclass in Python, but ``true`` is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    if value <= 0:
        return "must be greater than 0"
    if value > maximum:
        return f"must be at most {maximum}"
    return None


def validate_new_order(payload: object) -> NewOrder:
    """The order a well-formed JSON body asks for, or ``ValidationFailedError`` listing
    one entry per failing field. Fields this API does not know are ignored."""
    if not isinstance(payload, dict):
        raise ValidationFailedError([FieldError("", "the body must be a JSON object")])
    errors: list[FieldError] = []
    for name, maximum in (("product_id", MAX_PRODUCT_ID), ("quantity", MAX_QUANTITY)):
        if name not in payload:
            errors.append(FieldError(name, "is required"))
            continue
        problem = _integer_problem(payload[name], maximum=maximum)
        if problem is not None:
            errors.append(FieldError(name, problem))
    if errors:
        raise ValidationFailedError(errors)
    return NewOrder(product_id=payload["product_id"], quantity=payload["quantity"])


def new_order_item(order_id: str, order: NewOrder, now: datetime) -> dict[str, Any]:
    """The table item for a freshly created order."""
    return items.new_item(
        KIND,
        order_id,
        now,
        status=ACTIVE,
        product_id=order.product_id,
        quantity=order.quantity,
    )


def order_state(item: Mapping[str, Any] | None) -> OrderState:
    """Whether a read found nothing, a live order or a tombstone."""
    if item is None:
        return OrderState.MISSING
    return OrderState.DELETED if item.get("status") == DELETED else OrderState.LIVE


def order_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """The public JSON representation of a live order (DynamoDB numbers become ints)."""
    return {
        "id": str(item["id"]),
        "product_id": int(item["product_id"]),
        "quantity": int(item["quantity"]),
        "created_at": str(item["created_at"]),
    }


def order_body(item: Mapping[str, Any]) -> str:
    """The exact bytes served for an order: sorted and compact, so equal orders give equal
    bodies and the ETag below can be strong."""
    return json.dumps(order_view(item), sort_keys=True, separators=(",", ":"))


def strong_etag(body: str) -> str:
    """A strong, quoted entity tag (RFC 9110 section 8.8.3) for exactly this body."""
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
    return f'"{digest}"'
