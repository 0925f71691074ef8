"""The built wheel is the construct library alone, and an installed copy imports by itself.

A user installs ``alarm-rollback-kit`` next to a ``stacks`` package of their own: the
distribution must bring one import root and nothing of the repository's samples.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.support.installed_kit import InstalledKit


def _top_level_entries(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name.split("/", 1)[0] for name in archive.namelist()}


def test_wheel_has_one_import_root(installed_kit: InstalledKit) -> None:
    entries = _top_level_entries(installed_kit.wheel)
    roots = {e for e in entries if not e.endswith(".dist-info")}
    assert roots == {"alarm_rollback_kit"}


def test_wheel_carries_the_type_marker(installed_kit: InstalledKit) -> None:
    with zipfile.ZipFile(installed_kit.wheel) as archive:
        assert "alarm_rollback_kit/py.typed" in archive.namelist()


def test_installed_copy_is_imported_from_the_target_not_the_repository(
    installed_kit: InstalledKit, tmp_path: Path
) -> None:
    result = installed_kit.run(
        "-c",
        "import alarm_rollback_kit, importlib.util\n"
        "print(alarm_rollback_kit.__file__)\n"
        "print(importlib.util.find_spec('stacks'))\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    module_file, stacks_spec = result.stdout.splitlines()
    assert Path(module_file).is_relative_to(installed_kit.target)
    assert stacks_spec == "None"
