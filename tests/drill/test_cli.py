"""``python -m drill``: the command line's exit codes, its JSON report, the timeline and PNG,
and the alarm event it sends in the documented shape (CloudWatch User Guide, "Alarm events
and EventBridge")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drill import alarm_event, scenario
from drill.__main__ import main
from drill.evaluator import ALARM, OK, Transition
from tests.support.events import load_event
from tests.support.synthesized import synthesize

REFERENCE = "bad-release-502"


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


def test_alarm_event_has_the_documented_shape_and_the_function_parses_it() -> None:
    from alarm_rollback_kit.functions.rollback.alarm_event import parse_alarm_event

    documented = load_event("cloudwatch-alarm-state-change-metric-math.json")
    at = datetime(2026, 11, 24, 14, 47, tzinfo=UTC)
    transition = Transition(at, at - timedelta(minutes=1), OK, ALARM, "Threshold Crossed", {})

    event = alarm_event.alarm_event(
        name="alarm-a",
        arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:alarm-a",
        properties={"Metrics": [{"Id": "e", "Expression": "m", "ReturnData": True}]},
        transition=transition,
        previous=None,
        at=at,
    )

    assert set(event) == set(documented)
    assert set(event["detail"]) == set(documented["detail"])
    assert parse_alarm_event(event).timestamp == at


@pytest.fixture
def cli(cdk_out: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    def run(*args: str) -> tuple[int, str]:
        code = main(["--cdk-out", str(cdk_out), *args])
        return code, capsys.readouterr().out

    return run


def test_cli_json_report_carries_onset_decision_ids_restore_and_expectations(
    cli: Callable[..., tuple[int, str]],
) -> None:
    code, out = cli("--json", "--no-png")

    report = json.loads(out)
    assert code == 0
    assert report["onset"] == "2026-11-24T14:45:00+00:00"
    assert report["decision"] == "rollback"
    assert report["ids"]["rollbackDeploymentId"]
    assert report["restore"]["ratio"] > 1
    assert all(check["passed"] for check in report["expectations"])
    assert [d["metricDelaySeconds"] for d in report["delays"]] == [60, 150, 240]
    assert all(d["passed"] and d["errorsServed"] > 0 for d in report["delays"])


def test_cli_exits_non_zero_when_the_expectation_is_not_met(
    cli: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    data = json.loads((scenario.SCENARIOS_DIR / f"{REFERENCE}.json").read_text(encoding="utf-8"))
    data["expect"]["rollback_target"] = "v2.3.2"
    path = tmp_path / "wrong-target.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    code, out = cli("--scenario", str(path), "--no-png")

    assert code == 1
    assert "FAIL  rollback_target" in out


def test_cli_prints_the_timeline_and_writes_a_png(
    cli: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    png = tmp_path / "incident.png"

    code, out = cli("--png", str(png))

    assert code == 0
    # The worst delay's timeline: 14:45 ends 14:46, lands 14:50, evaluated 14:50.
    assert "14:50:00  EventBridge: rule" in out
    assert "worst 240 s" in out
    assert "best 60 s" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_without_a_synthesized_app_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--cdk-out", str(tmp_path), "--no-png"])

    assert code == 2
    assert "make synth" in capsys.readouterr().err


def test_the_drill_imports_outside_pytest_with_only_the_repository_on_the_path() -> None:
    # `make drill` runs `python -m drill` from the repository root, without pytest's extra
    # pythonpath entries (the function's and the sample's source folders): nothing the
    # drill imports may need them.
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", "import drill.__main__, drill.backtest"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
