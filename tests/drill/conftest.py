"""Fixtures for the drill's tests; the hand-made templates are in ``tests.support.alarms``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.alarms import kit_template


@pytest.fixture
def template() -> dict[str, Any]:
    return kit_template()
