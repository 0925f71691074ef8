"""The route table: which methods a path allows, for 405 answers and their Allow header."""

from __future__ import annotations

import pytest

from api import routing

ID = "5d2f0c8e9a7b4c1d8e3f6a9b0c2d4e6f"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/health", ("GET", "HEAD", "OPTIONS")),
        ("/orders", ("POST", "OPTIONS")),
        ("/orders/", ("POST", "OPTIONS")),
        (f"/orders/{ID}", ("GET", "HEAD", "DELETE", "OPTIONS")),
        (f"/orders/{ID}/export", ("POST", "OPTIONS")),
        (f"/jobs/{ID}", ("GET", "HEAD", "OPTIONS")),
    ],
)
def test_allowed_methods_of_each_known_path(path: str, allowed: tuple[str, ...]) -> None:
    assert routing.allowed_methods(path) == allowed


@pytest.mark.parametrize(
    "path", ["", "/", "/customers", f"/orders/{ID}/items", "/jobs", "/health/x"]
)
def test_allowed_methods_is_empty_for_unknown_paths(path: str) -> None:
    assert routing.allowed_methods(path) == ()
