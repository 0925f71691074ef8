"""The CodeDeploy bundle that tools/release.py builds: layout, modes, AppSpec, hook scripts.

Besides checking the zip itself, one test unpacks it, starts the app exactly as the
systemd unit does (from the unpacked tree, with the bundle's release.json) and runs the
bundle's own ValidateService script against it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.order_app import StartServer, open_bundle, unpacked_app
from tools.release import BUNDLE_DIR, BundleSpec, build_bundle, write_bundle

# CodeDeploy User Guide, AppSpec 'hooks' section: the scriptable lifecycle events of an
# EC2/On-Premises in-place deployment, and the per-script timeout ceiling.
IN_PLACE_EVENTS = {
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
}
MAX_HOOK_TIMEOUT_SECONDS = 3600
SCRIPTS = sorted(p.name for p in (BUNDLE_DIR / "scripts").glob("*.sh"))
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="validate uses curl")


def appspec() -> dict[str, Any]:
    with open_bundle("good") as bundle:
        data: dict[str, Any] = yaml.safe_load(bundle.read("appspec.yml"))
    return data


def test_bundle_has_appspec_at_its_root() -> None:
    with open_bundle("bad") as bundle:
        assert "appspec.yml" in bundle.namelist()


def test_hook_scripts_are_executable_in_the_zip() -> None:
    with open_bundle("bad") as bundle:
        modes = {
            info.filename: (info.external_attr >> 16) & 0o777
            for info in bundle.infolist()
            if info.filename.startswith("scripts/")
        }

    assert modes == {f"scripts/{name}": 0o755 for name in SCRIPTS}


@pytest.mark.parametrize(("variant", "version"), [("good", "2.3.1"), ("bad", "2.3.2")])
def test_release_json_names_the_variant_and_its_default_version(variant: str, version: str) -> None:
    with open_bundle(variant) as bundle:
        release = json.loads(bundle.read("release.json"))

    assert release == {"variant": variant, "version": version}


def test_same_inputs_build_identical_bytes(tmp_path: Path) -> None:
    spec = BundleSpec(variant="bad")

    first = write_bundle(spec, tmp_path / "one").read_bytes()
    second = write_bundle(spec, tmp_path / "two").read_bytes()

    assert first == second


def test_good_and_bad_bundles_differ_only_in_release_json() -> None:
    with open_bundle("good") as good, open_bundle("bad") as bad:
        changed = {
            name
            for name in set(good.namelist()) | set(bad.namelist())
            if name not in good.namelist()
            or name not in bad.namelist()
            or good.read(name) != bad.read(name)
        }

    assert changed == {"release.json"}


def test_bundle_ships_the_app_package_without_bytecode_or_bundle_sources() -> None:
    with open_bundle("good") as bundle:
        app_entries = {n for n in bundle.namelist() if n.startswith("sample_app/")}

    assert app_entries == {
        "sample_app/__init__.py",
        "sample_app/order_api.py",
        "sample_app/orders.py",
        "sample_app/release_info.py",
    }


def test_env_file_carries_the_port_and_keep_alive() -> None:
    spec = BundleSpec(variant="good", port=8080, keep_alive_seconds=75)

    with zipfile.ZipFile(io.BytesIO(build_bundle(spec))) as bundle:
        env = dict(
            line.split("=", 1) for line in bundle.read("config/order-api.env").decode().split()
        )

    assert env == {
        "ORDER_API_HOST": "0.0.0.0",  # noqa: S104 - the instance serves the ALB
        "ORDER_API_PORT": "8080",
        "ORDER_API_KEEP_ALIVE_SECONDS": "75",
        "ORDER_API_ALB_IDLE_TIMEOUT_SECONDS": "60",
    }


def test_bundle_refuses_keep_alive_not_longer_than_alb_idle_timeout() -> None:
    with pytest.raises(ValueError, match="keep_alive_seconds"):
        build_bundle(BundleSpec(variant="good", keep_alive_seconds=60))


def test_appspec_is_version_0_0_for_linux() -> None:
    spec = appspec()

    assert (spec["version"], spec["os"]) == (0.0, "linux")


def test_appspec_files_come_from_the_bundle_and_land_under_opt_order_api() -> None:
    with open_bundle("good") as bundle:
        names = bundle.namelist()

    for entry in appspec()["files"]:
        assert any(n == entry["source"] or n.startswith(entry["source"] + "/") for n in names)
        assert entry["destination"].startswith("/opt/order-api")


def test_appspec_hooks_are_in_place_lifecycle_events() -> None:
    assert set(appspec()["hooks"]) <= IN_PLACE_EVENTS


def test_appspec_hooks_run_bundled_scripts_within_the_timeout_ceiling() -> None:
    with open_bundle("good") as bundle:
        names = set(bundle.namelist())

    for event, scripts in appspec()["hooks"].items():
        for script in scripts:
            assert script["location"] in names, event
            assert 0 < script["timeout"] <= MAX_HOOK_TIMEOUT_SECONDS, event


@pytest.mark.parametrize("script", SCRIPTS)
def test_hook_script_is_valid_bash(script: str) -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv
        ["bash", "-n", str(BUNDLE_DIR / "scripts" / script)],  # noqa: S607 - bash from PATH
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def run_validate_service(env_file: Path, release_file: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ORDER_API_ENV_FILE": str(env_file),
        "ORDER_API_RELEASE_FILE": str(release_file),
        "VALIDATE_ATTEMPTS": "2",
        "VALIDATE_SLEEP_SECONDS": "0.1",
    }
    return subprocess.run(  # noqa: S603 - fixed argv
        ["bash", str(BUNDLE_DIR / "scripts" / "validate_service.sh")],  # noqa: S607
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_curl
def test_unpacked_bundle_runs_and_passes_its_validate_service_hook(tmp_path: Path) -> None:
    with unpacked_app(tmp_path, "bad") as (root, port):
        env_file = tmp_path / "order-api.env"
        env_file.write_text(f"ORDER_API_PORT={port}\n")

        result = run_validate_service(env_file, root / "release.json")

    assert result.returncode == 0, result.stdout + result.stderr


@needs_curl
def test_validate_service_fails_while_the_old_release_still_answers(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server("good", version="2.3.1")
    env_file = tmp_path / "order-api.env"
    env_file.write_text(f"ORDER_API_PORT={server.server_port}\n")
    release_file = tmp_path / "release.json"
    release_file.write_text(json.dumps({"version": "2.3.2", "variant": "bad"}))

    result = run_validate_service(env_file, release_file)

    assert result.returncode == 1
