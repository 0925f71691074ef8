"""Which release of order-api runs: its version, good or bad, and how the bad one breaks.

``release.json`` in the CodeDeploy bundle names them (``tools/release.py build`` writes
it); the server reads it at start and answers ``GET /version`` with it. A malformed file
is refused at start rather than run as some other release. Standard library only and
Python 3.9 syntax, like the rest of the package (it runs on the instance's ``python3``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VARIANTS = ("good", "bad")
# How the bad release breaks POST /orders (see the module docstring); the first is the default.
BAD_MODES = ("broken-headers", "truncated-body")
DEFAULT_BAD_MODE = BAD_MODES[0]
# Next to the package in the installed bundle: /opt/order-api/release.json.
DEFAULT_RELEASE_FILE = Path(__file__).resolve().parent.parent / "release.json"

_VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")


@dataclass(frozen=True)
class Release:
    """What ``release.json`` says: the version string, which behaviour ships and, for the
    bad release, how it breaks."""

    version: str
    variant: str
    bad_mode: str = DEFAULT_BAD_MODE

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"release variant {self.variant!r}: expected one of {VARIANTS}")
        if self.bad_mode not in BAD_MODES:
            raise ValueError(f"release bad_mode {self.bad_mode!r}: expected one of {BAD_MODES}")
        if not isinstance(self.version, str) or not _VERSION_RE.fullmatch(self.version):
            raise ValueError(
                f"release version {self.version!r}: expected 1-64 characters of letters, "
                "digits and '.+_-', such as '2.3.1'"
            )

    def as_dict(self) -> dict[str, str]:
        # The default mode is left out, so release.json and /version keep their shape.
        data = {"version": self.version, "variant": self.variant}
        if self.bad_mode != DEFAULT_BAD_MODE:
            data["bad_mode"] = self.bad_mode
        return data


DEV_RELEASE = Release(version="0.0.0-dev", variant="good")


def parse_release(data: Any) -> Release:
    """Build a ``Release`` from the decoded ``release.json`` object, rejecting other shapes."""
    if not isinstance(data, dict):
        raise ValueError(f"release.json: expected an object, got {type(data).__name__}")
    return Release(
        version=data.get("version", ""),
        variant=data.get("variant", ""),
        bad_mode=data.get("bad_mode", DEFAULT_BAD_MODE),
    )


def load_release(path: Path) -> Release:
    with path.open(encoding="utf-8") as fh:
        return parse_release(json.load(fh))
