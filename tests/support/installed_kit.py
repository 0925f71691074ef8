"""The kit's wheel installed into a directory of its own, and a way to run code against it.

``tests/package/conftest.py`` builds and installs the wheel once per session;
``InstalledKit.run`` starts this interpreter with only that directory added to the import
path, from a working directory outside the repository, so nothing but the installed copy
(and the pinned dependencies of this environment) can be imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InstalledKit:
    """The built wheel and the directory it was installed into."""

    wheel: Path
    target: Path

    def run(
        self, *args: str, cwd: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run this interpreter with ``args``, only the installed copy added to its path."""
        environ = {
            **os.environ,
            **(env or {}),
            "PYTHONPATH": str(self.target),
            # Node 24 from the venv for jsii, as the Makefile and tests/conftest.py set it.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        }
        return subprocess.run(  # noqa: S603 - our interpreter, our code
            [sys.executable, *args],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
