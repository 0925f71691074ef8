"""Running the rollback handler in several threads at once, for the exactly-one-rollback tests.

``invoke_together`` starts one thread per event behind a barrier (so they all call the
handler at the same moment), waits for them and fails on any exception. ``gate`` holds
every call of one operation until ``parties`` invocations have reached it, which forces
the worst order for a check-then-act design (every invocation reads before any acts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

Handler = Callable[[Any, Any], dict[str, Any]]


class RegistersHooks(Protocol):
    def register(
        self, service: str, event: str, handler_: Callable[..., Any], *, first: bool = ...
    ) -> None: ...


def invoke_together(
    handler: Handler, events: Sequence[dict[str, Any]], context: Any
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(events))

    def invoke(event: dict[str, Any]) -> None:
        start.wait()
        try:
            results.append(handler(event, context))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=invoke, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return results


def gate(hooks: RegistersHooks, service: str, operation: str, parties: int) -> None:
    """Hold each ``service`` ``operation`` call until ``parties`` invocations reach it."""
    barrier = threading.Barrier(parties, timeout=10)

    def wait(**_: Any) -> None:
        # A before-call handler that returns a value answers the call; this one must not.
        barrier.wait()

    hooks.register(service, f"before-call.{service}.{operation}", wait)
