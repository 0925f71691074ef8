"""Lambda's asynchronous invocation of the rollback function: retries, then the destination.

EventBridge invokes its Lambda target asynchronously. When the function raises, Lambda
runs it again up to ``MaximumRetryAttempts`` times (the template's; one minute before the
second attempt and two before the third: AWS Lambda Developer Guide, "How Lambda handles
errors and retries with asynchronous invocation",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html) and then
sends an invocation record to the on-failure destination ("Capturing records of Lambda
asynchronous invocations",
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
``AsyncInvoker`` replays that on the drill's clock and tells each invocation's story as
timeline events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from drill import narration
from drill.function import KitInvocation
from drill.outcome import Event
from drill.template import Kit
from drill.world import World

# One minute before the second attempt, two minutes before the third.
RETRY_DELAYS_S = (60, 120)


def on_failure_record(record: KitInvocation, function_arn: str) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination."""
    error = record.invocation.error
    return {
        "version": "1.0",
        "timestamp": record.at.isoformat(),
        "requestContext": {
            "requestId": record.request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": record.attempt,
        },
        "requestPayload": record.event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
    }


class AsyncInvoker:
    """Delivers events to the function in ``world``; ``on_record`` sees every invocation."""

    def __init__(
        self,
        world: World,
        kit: Kit,
        events: list[Event],
        on_record: Callable[[KitInvocation], None],
    ) -> None:
        self.world, self.kit, self.events, self.on_record = world, kit, events, on_record
        self.invocations: list[KitInvocation] = []
        self._retries: list[tuple[datetime, int, dict[str, Any]]] = []

    def next_retry(self) -> datetime | None:
        return self._retries[0][0] if self._retries else None

    def retry(self) -> None:
        at, attempt, event = self._retries.pop(0)
        self.deliver(event, at, attempt)

    def deliver(self, event: dict[str, Any], at: datetime, attempt: int = 1) -> None:
        record = self.world.invoke(event, at=at, attempt=attempt)
        self.invocations.append(record)
        self.events.extend(narration.invocation_events(record, self.world))
        self.on_record(record)
        if record.invocation.error is not None:
            self._after_failure(record)

    def _after_failure(self, record: KitInvocation) -> None:
        retries = self.kit.retry_attempts
        if record.attempt <= retries:
            delay = RETRY_DELAYS_S[min(record.attempt, len(RETRY_DELAYS_S)) - 1]
            at = record.at + timedelta(seconds=delay)
            self._retries.append((at, record.attempt + 1, record.event))
            self._retries.sort(key=lambda r: r[0])
            text = (
                f"Lambda retries the event (asynchronous invocation, attempt "
                f"{record.attempt + 1} of {retries + 1}) at {at:%H:%M:%S}"
            )
        elif self.world.send_to_dead_letter_queue(
            on_failure_record(record, self.world.function_arn)
        ):
            text = (
                f"retries exhausted: the event goes to the on-failure destination, dead-letter "
                f"queue {self.kit.on_failure_id} (its alarm pages on-call)"
            )
        else:
            text = "retries exhausted and no on-failure destination: event lost"
        self.events.append(Event(record.at, "retry" if record.attempt <= retries else "dlq", text))
