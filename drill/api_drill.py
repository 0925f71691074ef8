"""Replays an API release scenario against the API stack's alarms as ``cdk synth`` wrote them.

The handler alias's CodeDeploy group, its configuration and alarms, and the API's paging
alarms on the same metrics come from ``cdk.out``; ``drill.evaluator`` replays each at the
best, typical and worst metric delay over series from the alias's weights
(``drill.api_scenario``: a version answers only its share, so the new version's 5xx are its
share x its error rate). A group alarm in ALARM while the deployment runs stops it and the
alias goes back (CodeDeploy User Guide, "Redeploy and roll back a deployment with
CodeDeploy"); AWS does not say how soon CodeDeploy sees it, so the drill takes ``NOTICE_S``
(the worse end), and one seen after the last shift leaves the deployment Succeeded, which
only the kit's function undoes (``drill.api_kit``). ``main`` prints the EC2 reference beside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from drill import api_kit, api_scenario, runner, scenario
from drill.alarm_spec import AlarmSpec, MetricRef
from drill.api_scenario import ALIAS_SHIFT_S, ApiScenario, Shift, alias_shift, success_time
from drill.assembly import Assembly, DrillTemplateError, Template
from drill.evaluator import ALARM, OK, Replay, evaluation_range_for, replay
from drill.outcome import DrillOptions
from drill.report import _minutes
from drill.template import WatchedAlarm, _construct_label, alarm_rules, all_alarms

NOTICE_S = 60  # from a group alarm's ALARM to CodeDeploy's stop: unpublished, modelled
EC2_REFERENCE = "bad-release-502"
SERVED = ("Http5xx", "Errors")  # what a client gets as a 5xx: caught 500s and 502s


@dataclass(frozen=True)
class ApiKit:
    assembly: Assembly
    template: Template
    group_config: str
    alarms: Mapping[str, WatchedAlarm]  # ``rollback``: the deployment group watches it
    kit_function: Any  # ``api_kit.kit_function``: (rule, function) or None


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
            rules = alarm_rules(tpl.body)
            found = next(
                filter(None, (api_kit.kit_function(assembly, tpl, r) for r in rules)), None
            )
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

    def total(metrics: tuple[str, ...], only: str | None = None) -> list[float]:
        per = [
            counts(scenario, shift, v, m) for v in versions if only in (None, v) for m in metrics
        ]
        return [sum(column) for column in zip(*per, strict=True)]

    def source(ref: MetricRef) -> Mapping[datetime, float]:
        only = scenario.releases[-1].version if "version" in dict(ref.dimensions) else None
        name = ref.metric_name
        values = (
            list(scenario.requests)
            if name == "Count"
            else total(SERVED if name == "5XXError" else (name,), only)
        )
        pairs = zip(scenario.times, values, scenario.requests, strict=True)
        return {t: v for t, v, n in pairs if n}  # nothing is published without requests

    return source


@dataclass(frozen=True)
class ApiRun:
    delay_s: int
    shift: Shift
    replays: Mapping[str, Replay]
    undo: Mapping[int, tuple[datetime, str]]  # release index -> (decided at, by whom)
    status: str  # the last release's
    kit_rollbacks: int
    onset_to_rollback: timedelta | None
    errors_served: float

    @property
    def final_version(self) -> str:
        weights = self.shift.steps[-1][1]
        return max(weights, key=lambda v: weights[v])

    @property
    def onset_to_restored(self) -> timedelta | None:
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ALIAS_SHIFT_S)


def _stops(kit: ApiKit, scenario: ApiScenario, replays: Mapping[str, Replay]) -> dict[int, Any]:
    """Release index -> (when CodeDeploy stops it, why), under the notice model."""
    stops = {}
    for index, release in enumerate(scenario.releases):
        begin, end = release.create_time, success_time(release, kit.group_config)
        seen = sorted(
            (
                max(t.at, begin) + timedelta(seconds=NOTICE_S),
                f"CodeDeploy stops it: {kit.alarms[lid].label}",
            )
            for lid, run in replays.items()
            if kit.alarms[lid].rollback
            for t in run.alarms
            if t.at < end and run.state_at(max(t.at, begin)) == ALARM
        )
        if seen and seen[0][0] < end:  # a tie is the worse case: the last shift goes ahead
            stops[index] = seen[0]
    return stops


def run(kit: ApiKit, scenario: ApiScenario, delay_s: int, longest_s: int) -> ApiRun:
    """Replay until the stops and undos agree with the alarms they come from."""
    undo: dict[int, Any] = {}
    evaluate = partial(
        replay,
        start=scenario.start,
        end=scenario.end + timedelta(seconds=delay_s),
        initial_state=OK,
        delay_s=delay_s,
        source_period=60,
    )
    for _ in range(len(scenario.releases) + 1):
        shift = alias_shift(scenario, kit.group_config, {i: at for i, (at, _) in undo.items()})
        source = metric_source(scenario, shift)
        ranges = {
            lid: evaluation_range_for(a.spec.evaluation_periods, 60, longest_s)
            for lid, a in kit.alarms.items()
        }
        replays = {
            lid: evaluate(a.spec, source, evaluation_range=ranges[lid])
            for lid, a in kit.alarms.items()
        }
        stopped, by_kit, kit_count = _stops(kit, scenario, replays), {}, 0
        if kit.kit_function is not None:
            by_kit, kit_count = api_kit.undos(kit, scenario, replays, stopped)
        if {**by_kit, **stopped} == undo:
            break
        undo = {**by_kit, **stopped}
    first = sum(1 for t in scenario.times if t + timedelta(minutes=1) <= scenario.onset)
    done = success_time(scenario.releases[-1], kit.group_config) <= scenario.end
    rollbacks = sorted(at for at, _ in undo.values() if at >= scenario.onset)
    bad = scenario.releases[-1].version
    last = len(scenario.releases) - 1
    status = "Stopped" if last in stopped else "Succeeded" if done else "InProgress"
    served = sum(sum(counts(scenario, shift, bad, m)[first:]) for m in SERVED)
    elapsed = rollbacks[0] - scenario.onset if rollbacks else None
    return ApiRun(delay_s, shift, replays, undo, status, kit_count, elapsed, served)


def checks(result: ApiRun, scenario: ApiScenario) -> list[tuple[str, Any, Any, bool]]:
    """(expectation, wanted, got, met) for the scenario's expect block."""
    expect, elapsed = scenario.expect, result.onset_to_rollback
    got = dict(
        status=result.status, final_version=result.final_version, kit_rollbacks=result.kit_rollbacks
    )
    out = [(name, expect[name], got[name], expect[name] == got[name]) for name in got]
    minutes = None if elapsed is None else elapsed.total_seconds() / 60
    for name, value in (
        ("max_minutes_onset_to_rollback", minutes),
        ("max_errors_served", result.errors_served),
    ):
        if name in expect:
            out.append((name, expect[name], value, value is not None and value <= expect[name]))
    return out


def run_range(kit: ApiKit, scenario: ApiScenario, delays: tuple[int, int]) -> list[Any]:
    return [(name, run(kit, scenario, d, max(delays))) for name, d in runner.delay_cases(delays)]


def render(kit: ApiKit, loaded: ApiScenario, runs: list[Any], ec2: runner.DelaySweep) -> str:
    label, worst = runs[-1]
    events = [
        (at, "alias " + ", ".join(f"{v}: {w:.0%}" for v, w in sorted(weights.items())))
        for at, weights in worst.shift.steps[1:]
    ] + list(worst.undo.values())
    events += [
        (t.at, f"{kit.alarms[lid].label} {t.old_state} -> {t.new_state}")
        for lid, r in worst.replays.items()
        for t in r.transitions
    ]
    lines = [
        f"API release drill: {loaded.name}\n  {loaded.description}",
        f"  {kit.template.path.name}: {kit.group_config}; [group] alarms stop the deployment",
        *(
            f"    {'[group]' if a.rollback else '[page] '} {a.label}: {a.describe()}"
            for a in kit.alarms.values()
        ),
        f"  kit's function on these alarms: {'yes' if kit.kit_function else 'none in cdk.out'}",
        f"Timeline at the {label} delay ({worst.delay_s} s):",
        *(f"  {at:%H:%M:%S}  {text}" for at, text in sorted(events)),
        "Expectations (at every delay):",
        *(
            f"  {'PASS' if ok else 'FAIL'}  {name:<8} {what:<30} expected {want!s:<10} got {got}"
            for name, result in runs
            for what, want, got, ok in checks(result, loaded)
        ),
        f"\n  {'delay':<13}{'Lambda: rollback':>17}{'restored':>10}{'errors':>8}"
        f"{'EC2: rollback':>16}{'restored':>10}{'errors':>8}",
    ]
    for (name, api), (_, ec2_run) in zip(runs, ec2.runs, strict=True):
        lines.append(
            f"  {f'{name} {api.delay_s} s':<13}{_minutes(api.onset_to_rollback):>17}"
            f"{_minutes(api.onset_to_restored):>10}{api.errors_served:>7,.0f}"
            f"{'+' if api.onset_to_rollback is None else ' '}"
            f"{_minutes(ec2_run.onset_to_rollback):>16}{_minutes(ec2_run.onset_to_restored):>10}"
            f"{ec2_run.errors_served or 0:>8,.0f}"
        )
    lines.append(
        f"  Lambda: 5xx the new version answered, to the end ('+': no rollback); "
        f"restored = rollback + {ALIAS_SHIFT_S} s alias shift (model).\n  EC2 "
        f"({EC2_REFERENCE}): ELB 5xx until recovery (drill.runner)."
    )
    return "\n".join(lines)


def main(names: list[str], assembly: Assembly, delay_range_s: tuple[int, int]) -> int:
    """Run and print each API scenario; 0 when every expectation holds at every delay."""
    kit = find_api_kit(assembly)
    options = DrillOptions(metric_delay_s=max(delay_range_s), delay_range_s=delay_range_s)
    ec2 = runner.run_range(scenario.load(EC2_REFERENCE), assembly, options)
    passed = True
    for name in names:
        loaded = api_scenario.load(name)
        runs = run_range(kit, loaded, delay_range_s)
        passed = passed and all(c[3] for _, r in runs for c in checks(r, loaded))
        print(render(kit, loaded, runs, ec2))
    return 0 if passed else 1
