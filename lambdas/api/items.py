"""The envelope every item in the orders table shares: its key, kind, id and timestamps.

Orders and export jobs live in one table, told apart by the partition key's prefix
(``pk = "<kind>#<id>"``) and a ``kind`` attribute; both start with ``created_at`` equal to
``updated_at``. ``orders`` and ``jobs`` add their own attributes on top.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def key(kind: str, item_id: str) -> str:
    """The table partition key of the ``kind`` item ``item_id`` (``order``, ``job``)."""
    return f"{kind}#{item_id}"


def new_item(kind: str, item_id: str, now: datetime, **attributes: Any) -> dict[str, Any]:
    """A new item of ``kind`` with ``attributes``, created and last updated ``now``."""
    stamp = now.isoformat()
    return {
        "pk": key(kind, item_id),
        "kind": kind,
        "id": item_id,
        **attributes,
        "created_at": stamp,
        "updated_at": stamp,
    }
