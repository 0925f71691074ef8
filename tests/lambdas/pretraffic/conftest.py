"""Fixtures of the pre-traffic hook's tests: the moto release world of ``tests.support``."""

from tests.support.release_world import release_world

__all__ = ["release_world"]
