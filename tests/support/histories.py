"""Deployment histories the rollback function's tests lay down, shared by their modules.

Each takes the rollback tests' ``World`` (anything with its ``deploy``) and creates the
deployments of one situation, returning the good and the bad deployment's ids: the good
release v1 finished hours ago and the bad v2 either has baked (``baked``: created 10
minutes ago, succeeded 4 minutes before now, inside a 30-minute bake window) or is still
running (``running``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

MINUTE = timedelta(minutes=1)


class Deploys(Protocol):
    def deploy(
        self,
        key: str,
        *,
        created_ago: timedelta,
        completed_ago: timedelta | None = ...,
        status: str = ...,
        description: str | None = ...,
    ) -> Any: ...


def baked(world: Deploys) -> tuple[str, str]:
    good = world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)
    return good, bad


def running(world: Deploys) -> tuple[str, str]:
    good = world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=5 * MINUTE, status="InProgress")
    return good, bad
