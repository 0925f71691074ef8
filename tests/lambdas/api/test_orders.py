"""Order rules as plain data: validation, ids, state, the served body and its ETag."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api import orders
from api.errors import ValidationFailedError

NOW = datetime(2026, 11, 24, 14, 44, tzinfo=UTC)
ORDER_ID = "5d2f0c8e9a7b4c1d8e3f6a9b0c2d4e6f"


def _item(**changes: object) -> dict[str, object]:
    item = orders.new_order_item(ORDER_ID, orders.NewOrder(product_id=1, quantity=1), NOW)
    item.update(changes)
    return item


def _failing_fields(payload: object) -> dict[str, str]:
    with pytest.raises(ValidationFailedError) as caught:
        orders.validate_new_order(payload)
    return {e.field: e.detail for e in caught.value.errors}


def test_validate_accepts_the_reference_incident_reproduction_body() -> None:
    assert orders.validate_new_order({"product_id": 1, "quantity": 1}) == orders.NewOrder(1, 1)


def test_validate_ignores_fields_it_does_not_know() -> None:
    order = orders.validate_new_order({"product_id": 2, "quantity": 3, "note": "gift"})

    assert order == orders.NewOrder(product_id=2, quantity=3)


def test_validate_rejects_json_booleans_as_numbers() -> None:
    assert _failing_fields({"product_id": True, "quantity": 1}) == {
        "product_id": "must be an integer"
    }


def test_validate_rejects_a_product_id_a_javascript_client_cannot_read_exactly() -> None:
    fields = _failing_fields({"product_id": orders.MAX_PRODUCT_ID + 1, "quantity": 1})

    assert fields == {"product_id": f"must be at most {orders.MAX_PRODUCT_ID}"}


def test_validate_reports_every_failing_field_at_once() -> None:
    assert _failing_fields({"product_id": -3}) == {
        "product_id": "must be greater than 0",
        "quantity": "is required",
    }


@pytest.mark.parametrize(
    "value", [ORDER_ID.upper(), ORDER_ID[:-1], ORDER_ID + "0", "../" + ORDER_ID[3:], ""]
)
def test_is_valid_id_rejects_anything_but_32_lowercase_hex(value: str) -> None:
    assert orders.is_valid_id(value) is False


def test_order_state_tells_missing_live_and_deleted_apart() -> None:
    states = [orders.order_state(i) for i in (None, _item(), _item(status=orders.DELETED))]

    assert states == [orders.OrderState.MISSING, orders.OrderState.LIVE, orders.OrderState.DELETED]


def test_order_body_is_the_same_for_the_same_order_read_back_with_decimals() -> None:
    from decimal import Decimal

    read_back = _item(product_id=Decimal(1), quantity=Decimal(1))

    assert orders.order_body(read_back) == orders.order_body(_item())


def test_strong_etag_is_quoted_and_changes_with_the_body() -> None:
    first = orders.strong_etag(orders.order_body(_item()))
    second = orders.strong_etag(orders.order_body(_item(quantity=2)))

    assert first.startswith('"')
    assert first.endswith('"')
    assert not first.startswith("W/")
    assert first != second
