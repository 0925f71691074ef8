"""Deployment histories the rollback function's tests lay down, shared by their modules.

Each takes the rollback tests' ``World`` (anything with its ``deploy``) and creates the
deployments of one situation: a bad release that has baked (``baked``: succeeded 4
minutes before the alarm, inside the bake window) or one still running (``running``).
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


def baked(world: Deploys) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)


def running(world: Deploys) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=5 * MINUTE, status="InProgress")
