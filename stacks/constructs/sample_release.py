"""The sample app's good release (order-api 2.3.1) as a CDK asset, built at synth.

``tools.release`` builds the same deterministic zip a user pushes by hand (AppSpec, hook
scripts, the app, ``release.json`` and the env file for this stage's port and ALB idle
timeout). Local bundling writes that one zip, and CDK uploads a single-archive bundle
output as it is (``BundlingOutput.ARCHIVED``), so no Docker, no network, and the asset hash
changes only when the bundle's bytes do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from alarm_rollback_kit.config import ServiceConfig
from tools.release import BUNDLE_DIR, BundleSpec, build_bundle


@jsii.implements(cdk.ILocalBundling)
class _Bundle:
    def __init__(self, spec: BundleSpec) -> None:
        self._spec = spec

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        (Path(output_dir) / self._spec.file_name).write_bytes(build_bundle(self._spec))
        return True


def good_release_spec(config: ServiceConfig) -> BundleSpec:
    return BundleSpec(
        variant="good",
        port=config.app_port,
        alb_idle_timeout_seconds=config.idle_timeout_seconds,
    )


def good_release_asset(scope: Construct, id_: str, config: ServiceConfig) -> s3_assets.Asset:
    spec = good_release_spec(config)
    return s3_assets.Asset(
        scope,
        id_,
        path=str(BUNDLE_DIR),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds, so no container is used.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=_Bundle(spec),
            output_type=cdk.BundlingOutput.ARCHIVED,
        ),
    )
