"""``python -m tools.bench`` (``make bench``): the kit's figures, measured once on this machine.

Prints, as a table (or ``--json``), with the date and the machine (CPU count and model,
Python version):

* wall time of ``make synth`` in a fresh clone (``git clone`` of this repository into a
  temporary directory, so it includes creating the venv and ``npm ci``; needs the package
  registries; ``--skip-fresh`` leaves it out), of a warm ``make synth`` here, and of a warm
  ``make test`` (``--skip-test`` leaves it out);
* for each kind of decision the rollback function takes, the AWS calls it makes and the
  p50/p95 of its run time under moto (``--runs`` times each, default 30; the code is the
  cdk.out asset the drill runs, with warm clients as in a warm Lambda container; the first
  run of each kind is a warm-up and not counted);
* the drill's onset-to-rollback, onset-to-restored and errors served for the reference
  incident at the best, typical and worst metric delay of the modelled range;
* the modelled restore time for the kit's template and for AWS defaults, and their ratio.

These are figures from one run, not assertions: they move with the machine and the load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drill import alarm_event, outcome, report, runner, scenario
from drill import function as asset_function
from drill.assembly import Assembly, load_assembly
from drill.evaluator import OK
from drill.evaluator import replay as replay_alarm
from drill.template import find_kit
from drill.world import World

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = 30


# --- Machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (x86 "model name", Arm "CPU part"), else platform's."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        text = ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    for key in ("model name", "Model", "Hardware", "cpu model"):
        if fields.get(key):
            return fields[key]
    if fields.get("CPU part"):
        return f"CPU implementer {fields.get('CPU implementer', '?')} part {fields['CPU part']}"
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpuModel": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# --- make timings ----------------------------------------------------------------------------


def timed_make(target: str, cwd: Path) -> float:
    """Wall time of ``make <target>`` in ``cwd``; its output goes to our stderr."""
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["make", "--no-print-directory", target],  # noqa: S607 - make from PATH, as a user runs it
        cwd=cwd,
        check=True,
        stdout=sys.stderr,
    )
    return time.perf_counter() - started


def fresh_synth(repo: Path = REPO) -> float:
    """``make synth`` in a fresh clone: venv, pip install, npm ci, then synth."""
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        clone = Path(tmp) / "kit"
        subprocess.run(  # noqa: S603 - fixed argv
            ["git", "clone", "-q", str(repo), str(clone)],  # noqa: S607
            check=True,
        )
        return timed_make("synth", clone)


# --- Decisions under moto --------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionCase:
    name: str
    action: str
    deployments: Callable[[scenario.Scenario], tuple[scenario.Deployment, ...]]
    environment: Mapping[str, str]
    duplicate: bool = False


def _as_is(base: scenario.Scenario) -> tuple[scenario.Deployment, ...]:
    return base.deployments


def _running(base: scenario.Scenario) -> tuple[scenario.Deployment, ...]:
    *older, newest = base.deployments
    return (*older, replace(newest, status="InProgress", complete_time=None))


def _days_old(base: scenario.Scenario) -> tuple[scenario.Deployment, ...]:
    *older, newest = base.deployments
    shift = timedelta(days=3)
    assert newest.complete_time is not None
    return (
        *older,
        replace(
            newest,
            create_time=newest.create_time - shift,
            complete_time=newest.complete_time - shift,
        ),
    )


def _failing(base: scenario.Scenario) -> tuple[scenario.Deployment, ...]:
    *older, newest = base.deployments
    return (*older, replace(newest, rollback_fails=True))


CASES = (
    DecisionCase("redeploy a succeeded release", "redeployed", _as_is, {}),
    DecisionCase("stop a running deployment", "stopped", _running, {}),
    DecisionCase("skip: no recent deployment (page)", "skipped", _days_old, {}),
    DecisionCase("skip: duplicate delivery", "skipped", _as_is, {}, duplicate=True),
    DecisionCase("dry run: would redeploy", "would-redeploy", _as_is, {"DRY_RUN": "true"}),
    DecisionCase("rollback refused (notify, re-raise)", "failed", _failing, {}),
)


@dataclass(frozen=True)
class DecisionFigures:
    name: str
    action: str
    calls: tuple[str, ...]
    runs: int
    p50_ms: float
    p95_ms: float


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _one_decision(
    case: DecisionCase, base: scenario.Scenario, assembly: Assembly
) -> tuple[str, tuple[str, ...], float]:
    kit = find_kit(assembly)
    drill = replace(base, deployments=case.deployments(base))
    function = asset_function.load(kit.asset_dir, kit.handler)
    # The decision is timed, not the detection: the shortest modelled delay will do.
    delay = timedelta(seconds=outcome.DEFAULT_DELAY_RANGE_S[0])
    alarm = kit.rollback_alarms[0]
    history = replay_alarm(
        alarm.spec,
        drill.metric_source(),
        start=drill.start,
        end=drill.end + delay,
        initial_state=OK,
        delay_s=delay.total_seconds(),
    )
    transition = history.alarms[0]
    at = transition.at
    with World(
        kit, drill, function, metric_delay=delay, environment_overrides=case.environment
    ) as world:
        world.advance_to(at)
        event = alarm_event.world_alarm_event(world, alarm, transition, previous=None, at=at)
        delivered = world.put_event(event)
        if delivered is None:
            raise RuntimeError(f"{case.name}: the rule did not match the alarm event")
        record = world.invoke(delivered, at=at, attempt=1)
        if case.duplicate:
            record = world.invoke(delivered, at=at, attempt=1)
    calls = tuple(record.invocation.aws_calls)
    return record.action, calls, record.invocation.wall_seconds


def decision_benchmark(
    assembly: Assembly, *, runs: int = DEFAULT_RUNS, cases: Sequence[DecisionCase] = CASES
) -> list[DecisionFigures]:
    """Run each decision ``runs`` times (plus one warm-up) in a fresh moto world each time."""
    base = scenario.load(scenario.DEFAULT_SCENARIO)
    figures = []
    for case in cases:
        _one_decision(case, base, assembly)  # warm-up: clients, first imports
        times: list[float] = []
        actions: set[str] = set()
        calls: set[tuple[str, ...]] = set()
        for _ in range(runs):
            action, made, seconds = _one_decision(case, base, assembly)
            actions.add(action)
            calls.add(made)
            times.append(seconds * 1000)
        if actions != {case.action} or len(calls) != 1:
            raise RuntimeError(f"{case.name}: expected {case.action}, got {actions} / {calls}")
        figures.append(
            DecisionFigures(
                name=case.name,
                action=case.action,
                calls=calls.pop(),
                runs=runs,
                p50_ms=percentile(times, 0.50),
                p95_ms=percentile(times, 0.95),
            )
        )
    return figures


# --- Report ----------------------------------------------------------------------------------


def collect(
    *,
    cdk_out: Path,
    runs: int,
    skip_fresh: bool,
    skip_test: bool,
    repo: Path = REPO,
) -> dict[str, Any]:
    figures: dict[str, Any] = {"machine": machine()}
    figures["freshSynthSeconds"] = None if skip_fresh else round(fresh_synth(repo), 1)
    figures["warmSynthSeconds"] = round(timed_make("synth", repo), 1)
    figures["warmTestSeconds"] = None if skip_test else round(timed_make("test", repo), 1)
    assembly = load_assembly(cdk_out)
    figures["decisions"] = [
        {
            "decision": f.name,
            "action": f.action,
            "awsCalls": list(f.calls),
            "callCount": len(f.calls),
            "runs": f.runs,
            "p50Milliseconds": round(f.p50_ms, 1),
            "p95Milliseconds": round(f.p95_ms, 1),
        }
        for f in decision_benchmark(assembly, runs=runs)
    ]
    sweep = runner.run_range(scenario.load(scenario.DEFAULT_SCENARIO), assembly)
    figures["referenceIncident"] = report.sweep_json(sweep)
    figures["restore"] = report.as_json(sweep.worst)["restore"]
    return figures


def _incident_lines(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per metric delay: the reference incident's times and errors served."""
    lines = []
    for case in cases:
        title = f"drill, reference incident, delay {case['metricDelaySeconds']} s ({case['case']})"
        rollback = case["onsetToRollbackSeconds"]
        restored = case["onsetToRestoredSeconds"]
        errors = case["errorsServed"]
        lines.append(
            f"{title:<46} onset -> rollback "
            + ("-" if rollback is None else f"{rollback:.0f} s")
            + ", -> restored "
            + ("-" if restored is None else f"{restored:.0f} s")
            + ", errors served "
            + ("-" if errors is None else f"{errors:,.0f}")
        )
    return lines


def _seconds(value: float | None, skipped: str) -> str:
    return skipped if value is None else f"{value:.1f} s"


def render(figures: Mapping[str, Any]) -> str:
    host = figures["machine"]
    lines = [
        f"make bench - {host['date']}",
        f"machine: {host['cpus']} CPUs, {host['cpuModel']}; Python {host['python']}; "
        f"{host['platform']}",
        "",
        f"{'figure':<46} value",
        f"{'make synth, fresh clone (venv + npm ci)':<46} "
        + _seconds(figures["freshSynthSeconds"], "skipped (--skip-fresh)"),
        f"{'make synth, warm':<46} " + _seconds(figures["warmSynthSeconds"], "-"),
        f"{'make test, warm':<46} " + _seconds(figures["warmTestSeconds"], "skipped (--skip-test)"),
        *_incident_lines(figures["referenceIncident"]),
        f"{'restore, kit template (modelled)':<46} {figures['restore']['kitSeconds']} s = "
        f"{figures['restore']['kitFormula']}",
        f"{'restore, AWS defaults (modelled)':<46} {figures['restore']['awsDefaultSeconds']} s = "
        f"{figures['restore']['awsDefaultFormula']}",
        f"{'restore ratio, AWS defaults / kit':<46} {figures['restore']['ratio']:.1f}x",
        "",
        "Rollback function under moto (cdk.out asset, warm clients), per decision:",
        f"  {'decision':<38} {'action':<15} {'calls':>5} {'p50':>8} {'p95':>8}  AWS calls",
    ]
    for row in figures["decisions"]:
        calls = ", ".join(call.split(":", 1)[1] for call in row["awsCalls"]) or "none"
        lines.append(
            f"  {row['decision']:<38} {row['action']:<15} {row['callCount']:>5} "
            f"{row['p50Milliseconds']:>6.1f}ms {row['p95Milliseconds']:>6.1f}ms  {calls}"
        )
    runs = figures["decisions"][0]["runs"] if figures["decisions"] else 0
    lines.append(f"  ({runs} runs each after one warm-up; nearest-rank percentiles)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--skip-fresh", action="store_true", help="skip the fresh-clone synth")
    parser.add_argument("--skip-test", action="store_true", help="skip the warm make test")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="runs per decision type")
    parser.add_argument("--cdk-out", type=Path, default=REPO / "cdk.out")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    figures = collect(
        cdk_out=args.cdk_out, runs=args.runs, skip_fresh=args.skip_fresh, skip_test=args.skip_test
    )
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
