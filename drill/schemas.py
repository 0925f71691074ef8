"""The drill's JSON Schemas: read once, on first use, and a finding's field named one way.

Scenario files (``scenario_schema.json``, its ``api_scenario`` definition for API releases),
alarm properties (``alarm_schema.json``) and GetMetricData files (``metrics_schema.json``)
are checked by JSON Schema rather than by hand; each caller words its own error, and all of
them name the field as ``a.b[0].c``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match


@functools.cache
def document(name: str) -> dict[str, Any]:
    """The schema file ``name`` beside this module (callers must not change it)."""
    schema: dict[str, Any] = json.loads((Path(__file__).parent / name).read_text("utf-8"))
    return schema


@functools.cache
def validator(name: str, definition: str | None = None) -> Draft202012Validator:
    """A validator of the whole schema, or of one of its ``$defs``."""
    schema = document(name)
    if definition is not None:
        schema = {"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return Draft202012Validator(schema)


def finding(check: Draft202012Validator, data: Any) -> ValidationError | None:
    """The schema's best finding on ``data``, or None when it holds."""
    error: ValidationError | None = best_match(check.iter_errors(data))
    return error


def field(path: Iterable[str | int]) -> str:
    """``MetricDataResults[0].Label`` for the path ``MetricDataResults, 0, Label``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
