"""The order-api as tests run it: a live server's starter type, and the bundle unpacked.

``StartServer`` is the type of the ``start_server`` fixture (``tests/sample_app/conftest.py``).
``open_bundle`` builds the CodeDeploy bundle in memory as ``tools/release.py`` does, and
``unpacked_app`` unpacks it and runs its app exactly as the systemd unit does (from the
unpacked tree, with the bundle's ``release.json``), for tests that need the real thing.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sample_app.order_api import OrderApiServer
from tests.support.processes import stop
from tools.release import BundleSpec, build_bundle

StartServer = Callable[..., OrderApiServer]


def open_bundle(variant: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(build_bundle(BundleSpec(variant=variant))))


@contextmanager
def unpacked_app(tmp_path: Path, variant: str) -> Iterator[tuple[Path, int]]:
    """Unpack the bundle and run its app as the unit does; yield (root, port)."""
    root = tmp_path / "opt-order-api"
    with open_bundle(variant) as bundle:
        bundle.extractall(root)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [
        sys.executable, "-m", "sample_app.order_api", "--host", "127.0.0.1", "--port", "0",
        "--keep-alive-timeout", "75", "--alb-idle-timeout", "60",
        "--release-file", str(root / "release.json"),
    ]  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        command, cwd=root, env=env, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    try:
        assert proc.stderr is not None
        listening = json.loads(proc.stderr.readline())
        yield root, int(listening["port"])
    finally:
        watchdog.cancel()
        stop(proc)
        if proc.stderr is not None:
            proc.stderr.close()
