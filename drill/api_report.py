"""``python -m drill --scenario api-...``: an API release drill, printed beside the EC2 path.

Prints the worst delay's timeline (alias shifts, alarm transitions, CodeDeploy's stop), the
expectations, and one line per delay with onset -> rollback, onset -> restored and the 5xx
the new version served, next to the same figures of the EC2 reference scenario
(``bad-release-502``: in-place redeploy through the kit's function) replayed by
``drill.runner`` at the same delays, so the two restore paths can be compared.
"""

from __future__ import annotations

from datetime import timedelta

from drill import api_drill, api_scenario, runner, scenario
from drill.assembly import Assembly
from drill.outcome import DrillOptions

EC2_REFERENCE = "bad-release-502"


def _minutes(delta: timedelta | None) -> str:
    return "-" if delta is None else f"{delta.total_seconds() / 60:.1f} min"


def _timeline(kit: api_drill.ApiKit, result: api_drill.ApiRun) -> list[str]:
    events = [
        (at, "alias  " + ", ".join(f"{v}: {w:.0%}" for v, w in sorted(weights.items())))
        for at, weights in result.shift.steps[1:]
    ]
    for lid, run in result.replays.items():
        alarm = kit.alarms[lid]
        role = "deployment group" if alarm.rollback else "pages on-call"
        events += [
            (t.at, f"alarm  {alarm.label} {t.old_state} -> {t.new_state} ({role})")
            for t in run.transitions
        ]
    events += [
        (
            at,
            f"CodeDeploy stops the deployment ({label} in ALARM, noticed after "
            f"{api_drill.NOTICE_S} s, modelled); the alias goes back",
        )
        for at, label in result.undo.values()
    ]
    return [f"  {at:%H:%M:%S}  {text}" for at, text in sorted(events)]


def render(
    kit: api_drill.ApiKit,
    loaded: api_scenario.ApiScenario,
    runs: list[tuple[str, api_drill.ApiRun]],
    ec2: runner.DelaySweep,
) -> str:
    label, worst = runs[-1]
    lines = [
        f"API release drill: {loaded.name}",
        f"  {loaded.description}",
        f"  template {kit.template.path.name}; group config {kit.group_config}; alarms:",
        *(
            f"    {'[group] ' if a.rollback else '[page]  '}{a.label}: {a.describe()}"
            for a in kit.alarms.values()
        ),
        f"  kit rule on these alarms: {kit.kit_rule or 'none in cdk.out (no kit rollback)'}",
        f"Timeline at the {label} delay ({worst.delay_s} s):",
        *_timeline(kit, worst),
        "Expectations (every delay):",
        *(
            f"  {'PASS' if ok else 'FAIL'}  {name:<30} expected {want!s:<12} got {got}"
            for name, want, got, ok in worst.checks
        ),
        "",
        "Lambda alias (this scenario) beside in-place EC2 (bad-release-502), per metric delay",
        f"  {'delay':<12} {'Lambda: rollback':>17} {'restored':>9} {'errors':>7}   "
        f"{'EC2: rollback':>14} {'restored':>9} {'errors':>7}  result",
    ]
    for (name, api), (_, report) in zip(runs, ec2.runs, strict=True):
        more = "+" if api.onset_to_rollback is None else ""
        lines.append(
            f"  {f'{name} {api.delay_s}s':<12} {_minutes(api.onset_to_rollback):>17} "
            f"{_minutes(api.onset_to_restored):>9} {api.errors_served:>6,.0f}{more or ' '}  "
            f"{_minutes(report.onset_to_rollback):>14} {_minutes(report.onset_to_restored):>9} "
            f"{report.errors_served or 0:>7,.0f}  {'PASS' if api.passed else 'FAIL'}"
        )
    lines += [
        "  Lambda: errors = 5xx the new version answered (its alias share x its error rate),",
        "  to the scenario's end ('+': no rollback, still failing); restored = rollback + the",
        f"  alias shift ({api_scenario.ALIAS_SHIFT_S} s, modelled). EC2: ELB 5xx onset to "
        "recovery, restore from alarm_rollback_kit/timing.py.",
    ]
    return "\n".join(lines)


def main(names: list[str], assembly: Assembly, delay_range_s: tuple[int, int]) -> int:
    """Run and print each API scenario; 0 when every expectation holds at every delay."""
    kit = api_drill.find_api_kit(assembly)
    low, high = delay_range_s
    options = DrillOptions(metric_delay_s=high, delay_range_s=delay_range_s)
    ec2 = runner.run_range(scenario.load(EC2_REFERENCE), assembly, options)
    passed = True
    for name in names:
        loaded = api_scenario.load(name)
        runs = api_drill.run_range(kit, loaded, (low, high))
        passed = passed and all(r.passed for _, r in runs)
        print(render(kit, loaded, runs, ec2))
    return 0 if passed else 1
