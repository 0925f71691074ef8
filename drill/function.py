"""Runs the rollback function's deployed code in process: imported from its cdk.out asset.

``cdk synth`` copies the function's package into ``cdk.out/asset.<hash>/``, what Lambda
runs, so the drill imports the handler from there. The suite imports the
``alarm_rollback_kit/functions/`` copy of the same package ``rollback``, so the asset's
modules live in a private table swapped into ``sys.modules`` around every call (no ``.pyc``
written into cdk.out). Each invocation gets the template's environment, the drill's clock
(the handler module's ``datetime`` swapped for a frozen one, the only change made to the
code) and a capture of its log records.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock


class FunctionLoadError(RuntimeError):
    """The asset does not hold the handler's package."""


@dataclass(frozen=True)
class DrillContext:
    """The attributes of Lambda's context object the handler reads."""

    aws_request_id: str
    function_name: str
    invoked_function_arn: str


@dataclass
class Invocation:
    """One run of the handler: its result or the exception it raised, and its log records
    (each the message and the record's structured ``fields``)."""

    at: datetime
    result: dict[str, Any] | None
    error: BaseException | None
    logs: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def aws_calls(self) -> list[str]:
        """The result's calls, or on a failure those of the handler's "decision failed" line."""
        if self.result is not None:
            return list(self.result.get("awsCalls", []))
        failed = [line for line in self.logs if line["message"] == "decision failed"]
        return list(failed[-1].get("awsCalls", [])) if failed else []


def _frozen_clock(now: datetime) -> type[datetime]:
    class FrozenClock(datetime):
        """``datetime`` whose ``now()`` is the drill's simulated time."""

        @classmethod
        def now(cls, tz: Any = None) -> FrozenClock:
            return cls.fromtimestamp(now.timestamp(), tz)

    return FrozenClock


class AssetFunction:
    """A Lambda handler imported from an asset directory, callable with a simulated clock."""

    def __init__(self, asset_dir: Path, handler: str) -> None:
        self.module_name, _, self.function_name = handler.rpartition(".")
        self.package = self.module_name.split(".", 1)[0]
        if not (asset_dir / self.package).is_dir():
            raise FunctionLoadError(f"{asset_dir}: no package {self.package!r} in the asset")
        with (
            self._isolated({}),
            # The suite's copy shares the package's logger: the asset's set-up handler goes.
            mock.patch.object(logging.getLogger(self.package), "handlers", []),
            mock.patch.object(sys, "path", [str(asset_dir), *sys.path]),
            # Never add __pycache__ to what cdk deploys.
            mock.patch.object(sys, "dont_write_bytecode", True),
        ):
            importlib.invalidate_caches()
            self.module = importlib.import_module(self.module_name)
            self.modules = {n: m for n, m in sys.modules.items() if self._owned(n)}
        self.source_file = Path(str(self.module.__file__))

    def _owned(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    @contextlib.contextmanager
    def _isolated(self, modules: Mapping[str, ModuleType]) -> Iterator[None]:
        """``modules`` as the package in ``sys.modules``, the suite's put back after."""
        saved = {n: sys.modules.pop(n) for n in [n for n in sys.modules if self._owned(n)]}
        sys.modules.update(modules)
        try:
            yield
        finally:
            for name in [n for n in sys.modules if self._owned(n)]:
                del sys.modules[name]
            sys.modules.update(saved)

    def invoke(
        self,
        event: Mapping[str, Any],
        *,
        now: datetime,
        environment: Mapping[str, str],
        context: DrillContext,
    ) -> Invocation:
        """Call the handler as Lambda would, at simulated time ``now``."""
        capture = logging.handlers.BufferingHandler(capacity=1_000_000)  # keeps every record
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        with (
            self._isolated(self.modules),
            mock.patch.dict(os.environ, environment),
            # The asset's own set-up made the logger INFO and unpropagated.
            mock.patch.object(logging.getLogger(self.package), "handlers", [capture]),
        ):
            # The asset's modules are the drill's alone: each call sets their clock, and
            # the environment is per invocation here, not per container.
            self.module.__dict__["datetime"] = _frozen_clock(now)
            self.module.load_config.cache_clear()
            started = time.perf_counter()
            try:
                result = getattr(self.module, self.function_name)(dict(event), context)
            except Exception as exc:
                error = exc
            elapsed = time.perf_counter() - started
        logs = [{"message": r.getMessage(), **getattr(r, "fields", {})} for r in capture.buffer]
        return Invocation(now, result, error, logs, elapsed)


_load = functools.cache(AssetFunction)


def load(asset_dir: Path, handler: str) -> AssetFunction:
    """The asset's handler, imported once per process per asset directory."""
    return _load(asset_dir.resolve(), handler)


@dataclass
class KitInvocation:
    """One delivery of an event to the rollback function, and what it changed."""

    invocation: Invocation
    attempt: int
    event: dict[str, Any]
    request_id: str = ""
    created: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, str]] = field(default_factory=list)

    @property
    def at(self) -> datetime:
        return self.invocation.at

    @property
    def action(self) -> str:
        if self.invocation.error is not None:
            return "failed"
        return str((self.invocation.result or {}).get("action"))

    @property
    def rollback_started(self) -> bool:
        return bool(self.created) and self.action in {"redeployed", "stopped"}
