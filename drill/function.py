"""Runs the rollback function's deployed code in process: imported from its cdk.out asset.

``cdk synth`` copies the function's package into ``cdk.out/asset.<hash>/``: what Lambda
would run, so the drill imports the handler from there. The test suite imports the
``alarm_rollback_kit/functions/`` copy of the same top-level package ``rollback``, so the
asset's modules live in a private table, swapped into ``sys.modules`` around every call,
and no ``.pyc`` is written into cdk.out. Each invocation gets the template's environment,
the drill's clock (the handler module's ``datetime`` swapped for a frozen one, the only
change made to the code) and a capture of its JSON log lines; the shared ``rollback``
logger is restored after every use.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any


class FunctionLoadError(RuntimeError):
    """The asset does not hold an importable handler the drill can drive."""


@dataclass(frozen=True)
class DrillContext:
    """The attributes of Lambda's context object the handler reads."""

    aws_request_id: str
    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class Invocation:
    """One run of the handler: its result or the exception it raised, and its log lines."""

    at: datetime
    result: dict[str, Any] | None
    error: BaseException | None
    logs: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def decision_log(self) -> dict[str, Any] | None:
        """The one JSON line the handler writes per decision (or per failure)."""
        lines: list[dict[str, Any]] = [
            line for line in self.logs if line.get("message") in {"decision", "decision failed"}
        ]
        return lines[-1] if lines else None

    @property
    def aws_calls(self) -> list[str]:
        if self.result is not None:
            return list(self.result.get("awsCalls", []))
        line = self.decision_log or {}
        return list(line.get("awsCalls", []))


class _Capture(logging.Handler):
    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {"message": text}
        self.lines.append(parsed if isinstance(parsed, dict) else {"message": text})


def _frozen_clock(now: datetime) -> type[datetime]:
    class FrozenClock(datetime):
        """``datetime`` whose ``now()`` is the drill's simulated time."""

        @classmethod
        def now(cls, tz: Any = None) -> FrozenClock:
            moment = now.astimezone(tz) if tz is not None else now.replace(tzinfo=None)
            return cls.fromtimestamp(moment.timestamp(), tz=moment.tzinfo)

    return FrozenClock


@contextlib.contextmanager
def _logger_restored(name: str) -> Iterator[logging.Logger]:
    logger = logging.getLogger(name)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    try:
        yield logger
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """``values`` set and ``unset`` removed in ``os.environ``; everything put back after."""
    saved = {name: os.environ.get(name) for name in [*values, *unset]}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class AssetFunction:
    """A Lambda handler imported from an asset directory, callable with a simulated clock."""

    def __init__(self, asset_dir: Path, handler: str) -> None:
        self.asset_dir = asset_dir.resolve()
        self.handler = handler
        self.module_name, _, self.function_name = handler.rpartition(".")
        self.package = self.module_name.split(".", 1)[0]
        self.modules: dict[str, ModuleType] = {}
        self._import()

    def _owned(self, name: str) -> bool:
        return name == self.package or name.startswith(self.package + ".")

    @contextlib.contextmanager
    def _swapped(self, replacement: Mapping[str, ModuleType]) -> Iterator[None]:
        saved = {n: m for n, m in sys.modules.items() if self._owned(n)}
        for name in saved:
            del sys.modules[name]
        sys.modules.update(replacement)
        try:
            yield
        finally:
            for name in [n for n in sys.modules if self._owned(n)]:
                del sys.modules[name]
            sys.modules.update(saved)

    def _import(self) -> None:
        if not (self.asset_dir / self.package).is_dir():
            raise FunctionLoadError(f"{self.asset_dir}: no package {self.package!r} in the asset")
        writes_bytecode = sys.dont_write_bytecode
        with self._swapped({}), _logger_restored(self.package):
            sys.path.insert(0, str(self.asset_dir))
            sys.dont_write_bytecode = True  # never add __pycache__ to what cdk deploys
            try:
                importlib.invalidate_caches()
                module = importlib.import_module(self.module_name)
            finally:
                sys.path.remove(str(self.asset_dir))
                sys.dont_write_bytecode = writes_bytecode
            self.modules = {n: m for n, m in sys.modules.items() if self._owned(n)}
        origin = Path(str(getattr(module, "__file__", ""))).resolve()
        if self.asset_dir not in origin.parents:
            raise FunctionLoadError(f"{self.module_name} was imported from {origin}, not the asset")
        if not callable(getattr(module, self.function_name, None)):
            raise FunctionLoadError(f"{self.handler}: no callable {self.function_name}")
        if not isinstance(module.__dict__.get("datetime"), type):
            raise FunctionLoadError(
                f"{self.module_name} has no module-level datetime: the drill cannot give "
                "the handler its simulated clock"
            )

    @property
    def handler_module(self) -> ModuleType:
        return self.modules[self.module_name]

    @property
    def source_file(self) -> Path:
        return Path(str(self.handler_module.__file__))

    def invoke(
        self,
        event: Mapping[str, Any],
        *,
        now: datetime,
        environment: Mapping[str, str],
        context: DrillContext,
    ) -> Invocation:
        """Call the handler as Lambda would, at simulated time ``now``."""
        module = self.handler_module
        logs_module = self.modules.get(f"{self.package}.logs")
        formatter_class = getattr(logs_module, "JsonFormatter", logging.Formatter)
        capture = _Capture(formatter_class())
        real_clock = module.__dict__["datetime"]
        result: dict[str, Any] | None = None
        error: BaseException | None = None
        started = time.perf_counter()
        with (
            self._swapped(self.modules),
            patched_environ(environment),
            _logger_restored(self.package) as logger,
        ):
            logger.handlers[:] = [capture]
            logger.setLevel(logging.INFO)
            logger.propagate = False
            module.__dict__["datetime"] = _frozen_clock(now)
            load_config = getattr(module, "load_config", None)
            cache_clear = getattr(load_config, "cache_clear", None)
            if callable(cache_clear):
                cache_clear()  # the environment is per invocation here, not per container
            started = time.perf_counter()
            try:
                result = getattr(module, self.function_name)(dict(event), context)
            except Exception as exc:
                error = exc
            finally:
                elapsed = time.perf_counter() - started
                module.__dict__["datetime"] = real_clock
                if callable(cache_clear):
                    cache_clear()
        return Invocation(
            at=now, result=result, error=error, logs=capture.lines, wall_seconds=elapsed
        )


_LOADED: dict[tuple[Path, str], AssetFunction] = {}


def load(asset_dir: Path, handler: str) -> AssetFunction:
    """The asset's handler, imported once per process per asset directory."""
    key = (asset_dir.resolve(), handler)
    if key not in _LOADED:
        _LOADED[key] = AssetFunction(asset_dir, handler)
    return _LOADED[key]


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
