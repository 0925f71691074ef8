"""``make help`` lists every Makefile target with its purpose, so a new target needs one.

The purposes are the ``## target: purpose`` lines in the Makefile; ``help`` prints them.
These tests fail when a ``.PHONY`` target has no such line (it would be missing from
``make help``) or a line names a target the Makefile no longer has.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"
TEXT = MAKEFILE.read_text(encoding="utf-8")


def _phony() -> set[str]:
    (line,) = re.findall(r"^\.PHONY:(.*)$", TEXT, flags=re.MULTILINE)
    return set(line.split())


def _described() -> dict[str, str]:
    return dict(re.findall(r"^## ([a-z-]+): (.+)$", TEXT, flags=re.MULTILINE))


def _rules() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):(?!=)", TEXT, flags=re.MULTILINE))


def test_every_phony_target_has_a_purpose_line() -> None:
    missing = sorted(_phony() - set(_described()))
    assert missing == [], f"add a '## target: purpose' line for {missing}"


def test_every_purpose_line_names_a_phony_target_with_a_rule() -> None:
    described = set(_described())
    assert sorted(described - _phony()) == []
    assert sorted(described - _rules()) == []


MAKE = shutil.which("make")


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_help_prints_each_target_with_its_purpose() -> None:
    assert MAKE is not None
    # Fixed arguments: the repository's own Makefile, no user input.
    shown = subprocess.run(  # noqa: S603
        [MAKE, "-s", "-f", str(MAKEFILE), "help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=MAKEFILE.parent,
    ).stdout
    for target, purpose in _described().items():
        assert re.search(rf"^\s+{re.escape(target)}\s+{re.escape(purpose)}$", shown, re.M), target
