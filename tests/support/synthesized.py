"""The kit synthesized once per test process, for the drill runner's and benchmark's tests.

``synthesize`` builds the app in process the way ``cdk synth`` does (cdk.json's context,
so the same feature flags, plus the metadata switches the CLI turns on), without the
cdk-nag plugin, into a temporary directory, and remembers it: every drill test in the process reads the same cloud assembly. ``variant``
makes a copy whose service template is edited (other entries are symlinked), to show the
drill follows the template.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app import build_app
from stacks.config import load_config
from tests.support.templates import new_app

SERVICE_SUFFIX = "-service.template.json"

_SYNTHESIZED: list[Path] = []


def synthesize(outdir: Path) -> Path:
    """cdk.out for the default stage, synthesized on the first call of the process."""
    if not _SYNTHESIZED:
        _SYNTHESIZED.append(synthesize_with(outdir, {}))
    return _SYNTHESIZED[0]


def synthesize_with(outdir: Path, context: dict[str, str]) -> Path:
    """cdk.out synthesized now with ``-c key=value`` style ``context`` (not cached)."""
    # What the CDK CLI passes by default: aws:cdk:path and aws:asset:path metadata.
    metadata = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}
    app = new_app({**metadata, **context}, outdir=str(outdir))
    build_app(load_config(app.node.get_all_context()), app=app, nag=False).synth()
    return outdir


def service_template(cdk_out: Path) -> dict[str, Any]:
    path = next(cdk_out.glob(f"*{SERVICE_SUFFIX}"))
    body: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return body


def variant(
    cdk_out: Path,
    target: Path,
    edit: Callable[[dict[str, Any]], None],
    *,
    suffix: str = SERVICE_SUFFIX,
) -> Path:
    """``target`` holding ``cdk_out`` with ``edit`` applied to the template ending ``suffix``
    (the service template unless told)."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in cdk_out.iterdir():
        if entry.name.endswith(suffix):
            body = json.loads(entry.read_text(encoding="utf-8"))
            edit(body)
            (target / entry.name).write_text(json.dumps(body), encoding="utf-8")
        else:
            (target / entry.name).symlink_to(entry)
    return target


def resource(template: dict[str, Any], type_: str, fragment: str = "") -> dict[str, Any]:
    """The one resource of ``type_`` whose logical id contains ``fragment``."""
    found: list[dict[str, Any]] = [
        res
        for logical_id, res in template["Resources"].items()
        if res["Type"] == type_ and fragment in logical_id
    ]
    assert len(found) == 1, f"expected one {type_} matching {fragment!r}, found {len(found)}"
    return found[0]
