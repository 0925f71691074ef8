"""A minimal cloud assembly on disk, as `cdk synth` lays one out, from template bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# The manifest version `cdk synth` writes with the pinned aws-cdk-lib (cloud-assembly schema).
SCHEMA_VERSION = "55.0.0"


def write_assembly(
    cdk_out: Path,
    stacks: Mapping[str, Mapping[str, Any]],
    files: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """``cdk_out`` holding one ``<name>.template.json`` per stack, the ``manifest.json``
    naming them, and ``files`` (e.g. nested templates) written as JSON beside them."""
    cdk_out.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, body in stacks.items():
        (cdk_out / f"{name}.template.json").write_text(json.dumps(body), encoding="utf-8")
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/unknown-region",
            "properties": {"templateFile": f"{name}.template.json"},
        }
    for file_name, body in (files or {}).items():
        (cdk_out / file_name).write_text(json.dumps(body), encoding="utf-8")
    manifest = {"version": SCHEMA_VERSION, "artifacts": artifacts}
    (cdk_out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return cdk_out
