"""Build the distribution once per test session and install it the way a user would.

The wheel is built from a copy of the repository (so a build never writes ``build/`` or
``*.egg-info`` into the work tree) by the backend ``pyproject.toml`` pins, then installed
with ``pip install --no-deps --target``: the pinned dependencies already in this
interpreter's environment serve the installed copy, so nothing but the pinned build
backend is fetched. Programs that use the installed copy run in a subprocess whose only
extra import path is the target and whose working directory is outside the repository,
so none of the repository's own modules (``stacks``, ``lambdas``) can be imported by
accident. With pytest-xdist the workers share one build through a file lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.installed_kit import REPO, InstalledKit

# What a checkout has beyond the sources: never part of a build.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".lockvenv",
    "node_modules",
    "cdk.out",
    ".drill",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
)


def _pip(*args: str) -> None:
    subprocess.run(  # noqa: S603 - pip of this interpreter
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        timeout=600,
    )


def _build_and_install(root: Path) -> InstalledKit:
    source, wheels, target = root / "source", root / "wheels", root / "target"
    shutil.copytree(REPO, source, ignore=_NOT_SOURCES, symlinks=True)
    # Build isolation fetches only setuptools, at the version pyproject.toml pins.
    _pip("wheel", "--no-deps", "--wheel-dir", str(wheels), str(source))
    (wheel,) = wheels.glob("alarm_rollback_kit-*.whl")
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    return InstalledKit(wheel=wheel, target=target)


@pytest.fixture(scope="session")
def installed_kit(tmp_path_factory: pytest.TempPathFactory) -> InstalledKit:
    # Under xdist each worker's base temp lies in one directory per run, shared by the
    # workers; without xdist the base temp is the run's own (its parent holds old runs).
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "installed-kit"
    shared.mkdir(exist_ok=True)
    with (shared / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = shared / "target"
            kit = (
                InstalledKit(wheel=next((shared / "wheels").glob("*.whl")), target=done)
                if done.is_dir()
                else _build_and_install(shared)
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return kit
