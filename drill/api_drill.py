"""Replays an API release scenario against the API stack's alarms as ``cdk synth`` wrote them.

The handler alias's CodeDeploy group, its configuration and alarms, and the API's paging
alarms on the same metrics come from ``cdk.out``; ``drill.evaluator`` replays each at the
best, typical and worst metric delay over series from the alias's weights
(``drill.api_scenario``: a version answers only its share, so the new version's 5xx are its
share x its error rate). A group alarm in ALARM while the deployment runs stops it and the
alias goes back (CodeDeploy User Guide, "Redeploy and roll back a deployment with
CodeDeploy"); AWS does not say how soon CodeDeploy sees it, so every run is repeated for
each assumed ``NOTICE_S`` and its figures hold only under both assumptions. The kit's
function (``drill.api_kit``) gets every ALARM transition, stops a running release and
undoes a succeeded one. ``main`` prints the EC2 reference's sweep beside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from drill import api_kit, api_scenario, runner, scenario
from drill.alarm_spec import AlarmSpec, MetricRef
from drill.api_scenario import ROLLBACK_S, ApiScenario, Shift, alias_shift, success_time
from drill.assembly import Assembly, DrillTemplateError, Template
from drill.evaluator import ALARM, OK, Replay, evaluation_range_for, replay
from drill.outcome import DrillOptions
from drill.report import render_sweep, sweep_lines
from drill.template import WatchedAlarm, _construct_label, all_alarms

# From a group alarm's ALARM to CodeDeploy's stop. ASSUMED, each in turn: AWS documents no
# polling interval, so there is no known worst case and none of these is one.
NOTICE_S = (60, 180, 300)
EC2_REFERENCE = "bad-release-502"
SERVED = ("Http5xx", "Errors")  # what a client gets as a 5xx: caught 500s and 502s


@dataclass(frozen=True)
class ApiKit:
    assembly: Assembly
    template: Template
    group_config: str
    alarms: Mapping[str, WatchedAlarm]  # ``rollback``: the deployment group watches it
    kit_function: tuple[str, str] | None  # (rule, the function it invokes) in the template


def _ref(value: Any) -> Any:
    return value.get("Ref") if isinstance(value, Mapping) else None


def _feeds(ref: MetricRef, function_id: str) -> bool:
    """Whether the scenario answers this metric: the stage's, the handler's, or Http5xx."""
    if ref.namespace == "AWS/Lambda":
        return ref.metric_name in ("Errors", "Throttles") and function_id in str(ref.dimensions)
    gateway = ref.namespace == "AWS/ApiGateway" and ref.metric_name in ("Count", "5XXError")
    return gateway or ref.metric_name == "Http5xx"


def find_api_kit(assembly: Assembly) -> ApiKit:
    """The Lambda group whose alarms read API Gateway metrics, and the alarms the scenario feeds."""
    for tpl in assembly.stacks.values():
        props = dict(all_alarms(tpl.body))
        specs = {lid: AlarmSpec.from_properties(p, name=lid) for lid, p in props.items()}
        by_name = {p.get("AlarmName"): lid for lid, p in props.items()}
        for alias_id in tpl.of_type("AWS::Lambda::Alias"):
            alias = tpl.resource(alias_id)
            policy = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
            group = tpl.properties(_ref(policy.get("DeploymentGroupName")) or alias_id)
            names = [a.get("Name") for a in group.get("AlarmConfiguration", {}).get("Alarms", [])]
            watched = {lid for lid in specs if lid in {_ref(n) or by_name.get(n) for n in names}}
            refs = [r for lid in watched for r in specs[lid].metric_refs()]
            if not any(r.namespace == "AWS/ApiGateway" for r in refs):
                continue
            function = _ref(alias.get("Properties", {}).get("FunctionName"))
            alarms = {
                lid: WatchedAlarm(
                    lid, _construct_label(tpl.resource(lid), lid), props[lid], s, lid in watched
                )
                for lid, s in specs.items()
                if all(_feeds(r, function) for r in s.metric_refs())
            }
            found = api_kit.kit_function(tpl)
            return ApiKit(assembly, tpl, group["DeploymentConfigName"], alarms, found)
    raise DrillTemplateError("no Lambda group watching API Gateway alarms in cdk.out: make synth")


def counts(scenario: ApiScenario, shift: Shift, version: str, metric: str) -> list[float]:
    """Per minute: how many of the version's answers were ``metric`` (its share x its rate)."""
    return [
        float(int(n * shift.share(version, t) * scenario.rate(version, metric, i) + 0.5))
        for i, (t, n) in enumerate(zip(scenario.times, scenario.requests, strict=True))
    ]


def metric_source(scenario: ApiScenario, shift: Shift) -> Any:
    """A ``MetricSource`` of the weighted series; an alarm's ``version`` dimension is the
    version the template publishes: the scenario's last release."""
    versions = {v for r in scenario.releases for v in (r.previous, r.version)}

    def source(ref: MetricRef) -> Mapping[datetime, float]:
        only = scenario.releases[-1].version if "version" in dict(ref.dimensions) else None
        names = SERVED if ref.metric_name == "5XXError" else (ref.metric_name,)
        per = [counts(scenario, shift, v, m) for v in versions if only in (None, v) for m in names]
        summed = [sum(column) for column in zip(*per, strict=True)]
        values = scenario.requests if ref.metric_name == "Count" else summed
        pairs = zip(scenario.times, values, scenario.requests, strict=True)
        return {t: v for t, v, n in pairs if n}  # nothing is published without requests

    return source


@dataclass(frozen=True)
class ApiRun:
    scenario: ApiScenario
    delay_s: int
    notice_s: int
    shift: Shift
    replays: Mapping[str, Replay]
    undo: Mapping[int, tuple[datetime, str, str]]  # release index -> (decided at, by whom, end)
    status: str  # the last release's
    kit_rollbacks: int
    onset_to_rollback: timedelta | None
    errors_served: float  # at ``ROLLBACK_S``'s long end, the worse
    errors_short: float  # the same decisions at its short end

    @property
    def final_version(self) -> str:
        weights = self.shift.steps[-1][1]
        return max(weights, key=lambda v: weights[v])

    @property
    def passed(self) -> bool:
        return all(c[3] for c in checks(self, self.scenario))

    @property
    def errors_until_end(self) -> bool:
        return self.final_version == self.scenario.releases[-1].version and self.errors_served > 0

    @property
    def onset_to_restored(self) -> timedelta | None:
        """At ``ROLLBACK_S``'s long end, as the alias model has it."""
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ROLLBACK_S[-1])

    @property
    def restored_short(self) -> timedelta | None:
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ROLLBACK_S[0])


def _stops(
    kit: ApiKit, scenario: ApiScenario, replays: Mapping[str, Replay], notice_s: int
) -> dict[int, Any]:
    """Release index -> (when CodeDeploy stops it, why, "Stopped"), ``notice_s`` after a
    group alarm is in ALARM while it runs; a tie with the last shift lets the shift go ahead."""
    stops = {}
    for index, release in enumerate(scenario.releases):
        begin, end = release.create_time, success_time(release, kit.group_config)
        seen = sorted(
            (max(t.at, begin) + timedelta(seconds=notice_s), kit.alarms[lid].label)
            for lid, run in replays.items()
            if kit.alarms[lid].rollback
            for t in run.alarms
            if t.at < end and run.state_at(max(t.at, begin)) == ALARM
        )
        if seen and seen[0][0] < end:
            why = f"CodeDeploy stops it ({notice_s} s notice, assumed): {seen[0][1]}"
            stops[index] = (seen[0][0], why, "Stopped")
    return stops


def run(kit: ApiKit, scenario: ApiScenario, delay_s: int, notice_s: int, longest_s: int) -> ApiRun:
    """Replay until the stops and undos agree with the alarms they come from; per release
    the first of CodeDeploy's stop and the kit's function's stop or undo counts."""
    undo: dict[int, Any] = {}
    end = scenario.end + timedelta(seconds=delay_s)
    evaluate = partial(replay, start=scenario.start, end=end, initial_state=OK, delay_s=delay_s)
    ranges = {
        lid: evaluation_range_for(a.spec.evaluation_periods, 60, longest_s)
        for lid, a in kit.alarms.items()
    }
    for _ in range(2 * len(scenario.releases) + 1):
        shift = alias_shift(scenario, kit.group_config, {i: u[0] for i, u in undo.items()})
        source = metric_source(scenario, shift)
        replays = {
            lid: evaluate(a.spec, source, evaluation_range=ranges[lid], source_period=60)
            for lid, a in kit.alarms.items()
        }
        found, kit_count = _stops(kit, scenario, replays, notice_s), 0
        if kit.kit_function is not None:
            by_kit, kit_count = api_kit.undos(kit, scenario, replays, found)
            found |= {i: u for i, u in by_kit.items() if i not in found or u[0] <= found[i][0]}
        if found == undo:
            break
        undo = found
    first = sum(1 for t in scenario.times if t + timedelta(minutes=1) <= scenario.onset)
    done = success_time(scenario.releases[-1], kit.group_config) <= scenario.end
    rollbacks = sorted(u[0] for u in undo.values() if u[0] >= scenario.onset)
    bad, last = scenario.releases[-1].version, undo.get(len(scenario.releases) - 1)
    status = last[2] if last else "Succeeded" if done else "InProgress"
    short = alias_shift(
        scenario, kit.group_config, {i: u[0] for i, u in undo.items()}, ROLLBACK_S[0]
    )
    served = [sum(sum(counts(scenario, s, bad, m)[first:]) for m in SERVED) for s in (shift, short)]
    elapsed = rollbacks[0] - scenario.onset if rollbacks else None
    return ApiRun(
        scenario, delay_s, notice_s, shift, replays, undo, status, kit_count, elapsed, *served
    )


def checks(result: ApiRun, scenario: ApiScenario) -> list[tuple[str, Any, Any, bool]]:
    """(expectation, wanted, got, met) for the scenario's expect block."""
    expect, elapsed = scenario.expect, result.onset_to_rollback
    out = [
        (name, expect[name], getattr(result, name), expect[name] == getattr(result, name))
        for name in ("status", "final_version", "kit_rollbacks")
    ]
    minutes = None if elapsed is None else elapsed.total_seconds() / 60
    for name, got in (
        ("max_minutes_onset_to_rollback", minutes),
        ("max_errors_served", result.errors_served),
    ):
        if name in expect:
            out.append((name, expect[name], got, got is not None and got <= expect[name]))
    return out


def run_range(kit: ApiKit, scenario: ApiScenario, delays: tuple[int, int]) -> list[Any]:
    """(case, run) for each metric delay and, within it, each assumed ``NOTICE_S``."""
    return [
        (f"{name} {d} s, notice {n} s", run(kit, scenario, d, n, max(delays)))
        for name, d in runner.delay_cases(delays)
        for n in NOTICE_S
    ]


def render(kit: ApiKit, loaded: ApiScenario, runs: list[Any], ec2: runner.DelaySweep) -> str:
    label, worst = runs[-1]
    events = [
        (at, "alias " + ", ".join(f"{v}: {w:.0%}" for v, w in sorted(weights.items())))
        for at, weights in worst.shift.steps[1:]
    ] + [(at, why) for at, why, _ in worst.undo.values()]
    events += [
        (t.at, f"{kit.alarms[lid].label} {t.old_state} -> {t.new_state}")
        for lid, r in worst.replays.items()
        for t in r.transitions
    ]
    return "\n".join(
        [
            f"API release drill: {loaded.name}\n  {loaded.description}",
            f"  {kit.template.path.name}: {kit.group_config}; [group] alarms stop the deployment",
            *(
                f"    {'[group]' if a.rollback else '[page] '} {a.label}: {a.describe()}"
                for a in kit.alarms.values()
            ),
            f"  kit's function on these alarms: {'yes' if kit.kit_function else 'none in cdk.out'}",
            f"Timeline at the {label}:",
            *(f"  {at:%H:%M:%S}  {text}" for at, text in sorted(events)),
            f"Expectations {loaded.expect} at every delay and notice (at the long end): "
            + ("all hold" if all(r.passed for _, r in runs) else ""),
            *(
                f"  FAIL  {case}: {what} expected {want} got {got}"
                for case, result in runs
                for what, want, got, ok in checks(result, loaded)
                if not ok
            ),
            "",
            *sweep_lines(
                "Lambda, conditional on the metric delay and CodeDeploy's notice (both assumed)",
                runs,
            ),
            f"  Lambda errors served: 5xx the new version answered, to the end; restored and "
            f"errors at both ends of the assumed {ROLLBACK_S[0]}-{ROLLBACK_S[-1]} s rollback "
            "deployment (decided at the long end).",
            render_sweep(ec2, f"EC2 reference ({EC2_REFERENCE}, ELB 5xx until recovery)"),
        ]
    )


def main(names: list[str], assembly: Assembly, delay_range_s: tuple[int, int]) -> int:
    """Run and print each API scenario; 0 when every expectation holds at every delay."""
    kit = find_api_kit(assembly)
    options = DrillOptions(metric_delay_s=max(delay_range_s), delay_range_s=delay_range_s)
    ec2 = runner.run_range(scenario.load(EC2_REFERENCE), assembly, options)
    passed = True
    for name in names:
        loaded = api_scenario.load(name)
        runs = run_range(kit, loaded, delay_range_s)
        passed = passed and all(r.passed for _, r in runs)
        print(render(kit, loaded, runs, ec2))
    return 0 if passed else 1
