"""Lambda code assets for the kit's functions, built at synth without Docker or network.

Each function is a package under ``lambdas/`` and its asset holds that package at the
root, so the handler string is ``<package>.handler.lambda_handler`` and tests import the
code the same way. Pure-Python dependencies (Powertools) are copied from the
installed, pinned distributions of the synthesizing interpreter (``importlib.metadata``
knows every file a distribution installed), so the asset carries exactly the version
``requirements.lock`` pins, and no ``pip install`` or container runs during synth.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
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
        self, package: str, distributions: tuple[str, ...], data: tuple[tuple[Path, str], ...]
    ) -> None:
        self._package = package
        self._distributions = distributions
        self._data = data

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(
            LAMBDAS_DIR / self._package, out / self._package, ignore=_IGNORE, dirs_exist_ok=True
        )
        for name in self._distributions:
            _copy_distribution(name, out)
        for source, target in self._data:
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, out / target)
        return True


def function_code(
    package: str,
    *,
    vendored: tuple[str, ...] = (),
    data: tuple[tuple[Path, str], ...] = (),
) -> lambda_.Code:
    """Asset for ``lambdas/<package>`` plus the named installed distributions.

    ``data``: (file, path inside the asset) pairs copied in too, e.g. the API Gateway
    events the pre-traffic hook sends, kept in one place with the tests that use them.
    """
    source = LAMBDAS_DIR / package
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
            local=_VendoredPackage(package, vendored, data),
        ),
    )
