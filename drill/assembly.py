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
from typing import Any, cast

from aws_cdk import cloud_assembly_schema, cx_api

ACCOUNT = "123456789012"  # moto's default account (moto.core.models.DEFAULT_ACCOUNT_ID)
REGION = "us-east-1"
ALB_NAMESPACE = "AWS/ApplicationELB"
NESTED_STACK = "AWS::CloudFormation::Stack"


class DrillTemplateError(ValueError):
    """cdk.out lacks something the drill needs, or holds something it cannot resolve."""


@dataclass(frozen=True)
class Template:
    """One template file: a top-level stack or a nested stack."""

    name: str
    path: Path
    body: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], self.body.get("Resources", {}))

    def resource(self, logical_id: str) -> Mapping[str, Any]:
        if logical_id not in self.resources:
            raise DrillTemplateError(f"{self.path.name}: no resource {logical_id}")
        return cast(Mapping[str, Any], self.resources[logical_id])

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return cast(Mapping[str, Any], self.resource(logical_id).get("Properties", {}))

    def of_type(self, type_: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == type_]


@dataclass(frozen=True)
class Assembly:
    """The stacks of a cloud assembly, and ``assets``: an asset's S3 object key (what a
    ``Code.S3Key`` or nested ``TemplateURL`` names) -> its staged path in ``cdk_out``."""

    cdk_out: Path
    stacks: Mapping[str, Template]
    assets: Mapping[str, Path] = field(default_factory=dict)

    def asset_path(self, resource: Mapping[str, Any], key_holder: Any) -> Path | None:
        """Where ``resource``'s asset is staged: the asset manifest entry of an object key
        named in ``key_holder``, else the ``aws:asset:path`` metadata the CLI writes."""
        text = json.dumps(key_holder)
        staged = next((path for key, path in self.assets.items() if key in text), None)
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        return staged or (self.cdk_out / asset if isinstance(asset, str) else None)

    def nested(self, parent: Template, logical_id: str) -> Template | None:
        """The template of nested stack ``logical_id`` in ``parent`` (None if not in cdk.out)."""
        resource = parent.resource(logical_id)
        path = self.asset_path(resource, resource.get("Properties", {}).get("TemplateURL"))
        if path is None or not path.is_file():
            return None
        name = path.name.removesuffix(".nested.template.json")
        return Template(name, path, json.loads(path.read_text(encoding="utf-8")))

    def nested_of(self, parent: Template) -> list[tuple[str, Template]]:
        found = ((lid, self.nested(parent, lid)) for lid in parent.of_type(NESTED_STACK))
        return [(lid, child) for lid, child in found if child is not None]

    def templates(self) -> Iterator[Template]:
        """Every stack template, each followed by its nested ones."""
        for template in self.stacks.values():
            yield template
            yield from (child for _, child in self.nested_of(template))


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
        for dependency in (d for d in stack.dependencies if d.id.endswith(".assets")):
            manifest = str(path.parent / f"{dependency.id}.json")
            files = cloud_assembly_schema.Manifest.load_asset_manifest(manifest).files or {}
            for asset in files.values():
                for destination in asset.destinations.values():
                    assets[destination.object_key] = path.parent / str(asset.source.path)
    return Assembly(cdk_out, stacks, assets)
