"""Synthesis helpers for the synth-and-assert tests, and typed reads of a ``Template``.

The service stack's template is synthesized once per context in a test run
(``service_template``; other stacks through module-scoped fixtures in
``tests/infra/conftest.py``), each from a config built the way ``app.py`` builds it, without
the cdk-nag plugin (the compliance test runs that over the whole app); tests assert on the
CloudFormation template. ``Template.find_resources`` is typed as read-only mappings; the
helpers here hand back plain dicts a test may index and copy.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from app import build_app
from stacks.config import StageConfig, load_config
from stacks.service_stack import ServiceStack

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
# In-memory mode: a failing gate raises with the whole report as its message (outside
# it CDK may only print the report and set the exit code).
IN_MEMORY = {"@aws-cdk/core:appMode": "inmemory"}


def new_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None) -> cdk.App:
    """An App with cdk.json's context (feature flags, stages) plus ``context``, as the CLI
    would pass it; without the feature flags CDK synthesizes different resources."""
    base: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    return cdk.App(context={**base, **(context or {})}, outdir=outdir)


def service_stack(context: Mapping[str, Any] | None = None) -> ServiceStack:
    """Build the app for ``context`` (as ``-c`` would give it) and return its service stack."""
    app = new_app(context)
    config: StageConfig = load_config(app.node.get_all_context())
    build_app(config, app=app, nag=False)
    stacks = [c for c in app.node.children if isinstance(c, ServiceStack)]
    assert len(stacks) == 1
    return stacks[0]


def service_template(context: Mapping[str, Any] | None = None) -> Template:
    """The service stack's template for ``context``, synthesized once per context in a run
    (tests only read a Template, so every caller may share it)."""
    return _template(tuple(sorted((context or {}).items())))


@functools.cache
def _template(context: tuple[tuple[str, Any], ...]) -> Template:
    return Template.from_stack(service_stack(dict(context)))


def resources_of(
    template: Template, type_: str, props: Mapping[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Every resource of ``type_`` (optionally matching ``props``), by logical id."""
    found = template.find_resources(type_, {"Properties": props} if props else None)
    return {logical_id: dict(resource) for logical_id, resource in found.items()}


def only(
    template: Template, type_: str, props: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The logical id and body of the one resource of ``type_``; fails on 0 or 2+."""
    found = resources_of(template, type_, props)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    (pair,) = found.items()
    return pair


def only_resource(
    template: Template, type_: str, props: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one resource of ``type_`` (optionally matching ``props``); fails on 0 or 2+."""
    return only(template, type_, props)[1]


def alarm_properties(template: Template, logical_prefix: str) -> dict[str, Any]:
    """The properties of the one alarm whose logical id starts with ``logical_prefix``."""
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    (props,) = [a["Properties"] for k, a in alarms.items() if k.startswith(logical_prefix)]
    return dict(props)


def metric_queries(props: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """A metric-math alarm's queries by id, and the expression it alarms on."""
    queries = {q["Id"]: q for q in props["Metrics"]}
    expression = next(q["Expression"] for q in queries.values() if "Expression" in q)
    return queries, str(expression)
