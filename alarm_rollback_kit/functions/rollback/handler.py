"""Lambda entry point (``rollback.handler.lambda_handler``): parse, run the workflow, log.

Thin on purpose: it reads the settings once per container, turns the event into an
``AlarmEvent`` or, for CodeDeploy's FAILURE/STOP notifications, a ``DeploymentEvent`` (a
malformed one is logged with the raw event and skipped, never a crash), hands it to
``workflow.run`` or ``workflow.run_deployment_event`` and writes the one JSON decision line. Errors the kit cannot
retry are told to a human over SNS and re-raised; retryable ones are re-raised untold, so
Lambda's asynchronous retries and the dead-letter queue keep the event (EventBridge to
Lambda is asynchronous and at-least-once: AWS Lambda Developer Guide, asynchronous
invocation).
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any

from rollback import logs, workflow
from rollback.alarm_event import AlarmEvent, MalformedEvent, parse_alarm_event
from rollback.aws import Gateway, error_code, is_retryable
from rollback.config import Config, ConfigError
from rollback.deployment_event import (
    DeploymentEvent,
    is_deployment_event,
    parse_deployment_event,
)

LOGGER = logs.setup()


@functools.cache
def load_config() -> Config:
    return Config.from_environ(os.environ)


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    try:
        config = load_config()
    except ConfigError as exc:
        LOGGER.error("configuration invalid", extra={"fields": {"error": str(exc)}})
        raise
    gateway = Gateway()

    parsed: AlarmEvent | DeploymentEvent
    try:
        if is_deployment_event(event):
            parsed = parse_deployment_event(event)
        else:
            parsed = parse_alarm_event(event)
    except MalformedEvent as exc:
        result = _malformed(str(exc))
        _log(result, request_id, rawEvent=logs.raw_event(event))
        return result
    alarm = parsed if isinstance(parsed, AlarmEvent) else None

    try:
        if isinstance(parsed, DeploymentEvent):
            result = workflow.run_deployment_event(parsed, config, gateway, datetime.now(UTC))
        else:
            result = workflow.run(parsed, config, gateway, datetime.now(UTC))
    except Exception as exc:
        retryable = is_retryable(exc)
        notified = False if retryable else workflow.notify_failure(alarm, config, gateway, exc)
        LOGGER.error(
            "decision failed",
            extra={
                "fields": {
                    "action": "failed",
                    "alarmName": alarm.alarm_name if alarm else None,
                    "error": error_code(exc) or type(exc).__name__,
                    "detail": str(exc),
                    "retryable": retryable,
                    "notified": notified,
                    "awsCalls": gateway.calls,
                    "requestId": request_id,
                    "eventId": parsed.event_id,
                }
            },
        )
        raise
    result["awsCalls"] = list(gateway.calls)
    # The EventBridge event id ties this line to a DLQ message or a duplicate delivery.
    _log(result, request_id, eventId=parsed.event_id, alarmArn=alarm.alarm_arn if alarm else None)
    return result


def _malformed(why: str) -> dict[str, Any]:
    return {
        "action": "skipped",
        "reason": f"malformed event: {why}",
        "alarmName": None,
        "deploymentId": None,
        "rollbackDeploymentId": None,
        "invalidationId": None,
        "diagnosis": None,
        "awsCalls": [],
    }


def _log(result: dict[str, Any], request_id: str | None, **extra: Any) -> None:
    LOGGER.info("decision", extra={"fields": {**result, "requestId": request_id, **extra}})
