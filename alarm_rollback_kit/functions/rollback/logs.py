"""One-line JSON logs with the standard library only (the function carries no dependencies).

Each record becomes one JSON object on stdout, which Lambda ships to CloudWatch Logs as one
event, so Logs Insights can filter on ``action`` or ``deploymentId`` directly. Structured
fields travel in ``extra={"fields": {...}}``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER_NAME = "rollback"
RAW_EVENT_LIMIT = 8_000


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes newlines inside strings, so a record is always a single line.
        return json.dumps(payload, default=str, separators=(",", ":"), sort_keys=True)


class _StdoutHandler(logging.Handler):
    """Writes to whatever ``sys.stdout`` is at the time (Lambda's stream, pytest's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def setup() -> logging.Logger:
    """The kit's logger with exactly one JSON handler; safe to call more than once."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    # The Lambda runtime's root handler would print each line again in its own text format.
    logger.propagate = False
    return logger


def raw_event(event: object) -> str:
    """The event as JSON text for the log, cut to a size a log line can carry."""
    try:
        text = json.dumps(event, default=repr)
    except (TypeError, ValueError):  # non-string keys, circular references
        text = repr(event)
    return text if len(text) <= RAW_EVENT_LIMIT else text[:RAW_EVENT_LIMIT] + "...(cut)"
