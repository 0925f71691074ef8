"""The cloud assembly ``cdk synth`` wrote, read with CDK's own reader.

``aws_cdk.cx_api.CloudAssembly`` gives the stacks (stage assemblies included) and each
stack's asset manifest, which says where a nested template or a function's code is staged;
``load_assembly`` turns them into plain ``Template`` values the drill reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import cloud_assembly_schema, cx_api

ACCOUNT = "123456789012"  # moto's default account (moto.core.models.DEFAULT_ACCOUNT_ID)
REGION = "us-east-1"
ALB_NAMESPACE = "AWS/ApplicationELB"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
NESTED_STACK = "AWS::CloudFormation::Stack"
DISTRIBUTION = "AWS::CloudFront::Distribution"


class DrillTemplateError(ValueError):
    """cdk.out lacks something the drill needs, or holds something it cannot resolve."""


# --- The cloud assembly ----------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One template file: a top-level stack or a nested stack."""

    name: str
    path: Path
    body: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Any]:
        found: Mapping[str, Any] = self.body.get("Resources", {})
        return found

    def resource(self, logical_id: str) -> Mapping[str, Any]:
        try:
            found: Mapping[str, Any] = self.resources[logical_id]
        except KeyError:
            raise DrillTemplateError(f"{self.path.name}: no resource {logical_id}") from None
        return found

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        props: Mapping[str, Any] = self.resource(logical_id).get("Properties", {})
        return props

    def of_type(self, type_: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == type_]


@dataclass(frozen=True)
class Assembly:
    """The stacks of a cloud assembly and where its file assets are staged.

    ``assets`` maps an asset's S3 object key (what a template's ``Code.S3Key`` or nested
    ``TemplateURL`` names) to its staged path in ``cdk_out``.
    """

    cdk_out: Path
    stacks: Mapping[str, Template]
    assets: Mapping[str, Path] = field(default_factory=dict)

    def asset_path(self, resource: Mapping[str, Any], key_holder: Any) -> Path | None:
        """Where ``resource``'s asset is staged: the asset manifest entry of an object key
        found in ``key_holder``, else the ``aws:asset:path`` metadata the CLI writes."""
        for text in _strings(key_holder):
            staged = self.assets.get(text.rsplit("/", 1)[-1])
            if staged is not None:
                return staged
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        return self.cdk_out / asset if isinstance(asset, str) else None

    def nested(self, parent: Template, logical_id: str) -> Template | None:
        """The template of nested stack ``logical_id`` in ``parent`` (None if not in cdk.out)."""
        resource = parent.resource(logical_id)
        if resource.get("Type") != NESTED_STACK:
            return None
        path = self.asset_path(resource, resource.get("Properties", {}).get("TemplateURL"))
        if path is None or not path.is_file():
            return None
        return _read_template(path)

    def nested_of(self, parent: Template) -> list[tuple[str, Template]]:
        found = []
        for logical_id in parent.of_type(NESTED_STACK):
            child = self.nested(parent, logical_id)
            if child is not None:
                found.append((logical_id, child))
        return found

    def templates(self) -> Iterator[Template]:
        """Every stack template, each followed by its nested ones."""
        for template in self.stacks.values():
            yield template
            for _, child in self.nested_of(template):
                yield child


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _read_template(path: Path) -> Template:
    name = path.name.removesuffix(".json").removesuffix(".template").removesuffix(".nested")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DrillTemplateError(f"{path}: not a readable template: {err}") from None
    return Template(name, path, body)


def load_assembly(cdk_out: Path) -> Assembly:
    """Every stack of the cloud assembly in ``cdk_out`` (nested ones are reached through it)."""
    try:
        cloud = cx_api.CloudAssembly(str(cdk_out))
    except Exception as err:  # jsii wraps every reader error in a RuntimeError
        raise DrillTemplateError(
            f"no cloud assembly under {cdk_out} ({str(err).splitlines()[0]}): run `make synth` "
            "(or pass --cdk-out)"
        ) from None
    stacks: dict[str, Template] = {}
    assets: dict[str, Path] = {}
    for stack in cloud.stacks_recursively:
        path = Path(stack.template_full_path)
        stacks[stack.stack_name] = Template(stack.stack_name, path, stack.template)
        for dependency in stack.dependencies:
            manifest = path.parent / f"{dependency.id}.json"
            if not dependency.id.endswith(".assets") or not manifest.is_file():
                continue
            files = cloud_assembly_schema.Manifest.load_asset_manifest(str(manifest)).files
            for asset in (files or {}).values():
                for destination in asset.destinations.values():
                    assets[destination.object_key] = path.parent / str(asset.source.path)
    if not stacks:
        raise DrillTemplateError(
            f"no stack in the cloud assembly under {cdk_out}: run `make synth`"
        )
    return Assembly(cdk_out, stacks, assets)
