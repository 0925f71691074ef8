"""Documented AWS event shapes from ``tests/events/``, loaded fresh for each use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    """Return a fresh copy of ``tests/events/<name>`` so a test may mutate it freely."""
    with (EVENTS_DIR / name).open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
