"""Lambda code assets for the kit's functions, built at synth without Docker or network.

A function's code is a Python package directory; its asset holds that package at the
root, so the handler string is ``<package>.handler.lambda_handler`` and tests import the
code the same way. The rollback function's package ships inside this distribution as
package data (``functions/rollback``), found with ``importlib.resources``, so an
installed copy synthesizes the same asset as the repository. Pure-Python dependencies
(Powertools, for the sample API) are copied from the installed, pinned distributions of
the synthesizing interpreter (``importlib.metadata`` knows every file a distribution
installed), so no ``pip install`` or container runs during synth.
"""

from __future__ import annotations

import shutil
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

# A directory inside the package, never a zip member: setuptools installs it unpacked.
ROLLBACK_CODE = Path(str(resources.files(__package__ or "alarm_rollback_kit"))) / (
    "functions/rollback"
)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache")


def _copy_distribution(name: str, output_dir: Path) -> None:
    dist = metadata.distribution(name)
    for file in dist.files or []:
        parts = file.parts
        # Metadata and console scripts are not needed at run time.
        if (
            parts[0].endswith((".dist-info", ".egg-info"))
            or parts[0] == ".."
            or (file.suffix == ".pyc")
        ):
            continue
        source = Path(str(file.locate()))
        target = output_dir / file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@jsii.implements(cdk.ILocalBundling)
class _VendoredPackage:
    def __init__(
        self, source: Path, distributions: tuple[str, ...], data: tuple[tuple[Path, str], ...]
    ) -> None:
        self._source = source
        self._distributions = distributions
        self._data = data

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(self._source, out / self._source.name, ignore=_IGNORE, dirs_exist_ok=True)
        for name in self._distributions:
            _copy_distribution(name, out)
        for source, target in self._data:
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / target)
        return True


def function_code(
    source: Path,
    *,
    vendored: tuple[str, ...] = (),
    data: tuple[tuple[Path, str], ...] = (),
) -> lambda_.Code:
    """Asset holding the package at ``source`` plus the named installed distributions.

    ``data``: (file, path inside the asset) pairs copied in too, e.g. the API Gateway
    events the sample's pre-traffic hook sends, kept in one place with the tests that use
    them.
    """
    if not (source / "handler.py").is_file() and not (source / "__init__.py").is_file():
        raise FileNotFoundError(f"no Lambda package at {source}")
    return lambda_.Code.from_asset(
        str(source),
        # The hash covers the function's own source plus the pinned dependency versions,
        # so bumping Powertools in requirements.lock produces a new asset.
        asset_hash=None,
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds, so no container is used.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=_VendoredPackage(source, vendored, data),
        ),
    )
