"""Running the rollback handler in several threads at once, for the exactly-one-rollback tests.

``invoke_together`` starts one thread per event behind a barrier (so they all call the
handler at the same moment), waits for them and fails on any exception. ``gate`` holds
every call of one operation until ``parties`` invocations have reached it, which forces
the worst order for a check-then-act design (every invocation reads before any acts),
then applies them one at a time, as DynamoDB applies writes to one item.
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
    """Hold each ``service`` ``operation`` call until ``parties`` invocations reach it, then
    let them through one at a time.

    One at a time because the service applies each of these writes to its item atomically
    (DynamoDB Developer Guide, "Condition expressions": a conditional write succeeds only if
    its condition holds when the write is applied), while moto's backend holds no lock: calls
    released together could both pass ``attribute_not_exists`` there, which DynamoDB never
    allows.
    """
    barrier = threading.Barrier(parties, timeout=10)
    one_at_a_time = threading.Lock()

    def wait(**_: Any) -> None:
        # A before-call handler that returns a value answers the call; these must not.
        barrier.wait()
        one_at_a_time.acquire()

    def done(**_: Any) -> None:
        one_at_a_time.release()

    hooks.register(service, f"before-call.{service}.{operation}", wait)
    # after-call also follows an error answer (a failed condition); after-call-error
    # follows a call that got no answer.
    hooks.register(service, f"after-call.{service}.{operation}", done)
    hooks.register(service, f"after-call-error.{service}.{operation}", done)
