"""Replays an API release scenario against the API stack's alarms as ``cdk synth`` wrote them.

The handler alias's CodeDeploy group, its configuration and alarms, and the API's paging
alarms on the same metrics come from ``cdk.out``; ``drill.evaluator`` replays each at the
best, typical and worst metric delay over series from the alias's weights
(``drill.api_scenario``: a version answers only its share, so the new version's 5xx are its
share x its error rate). A group alarm in ALARM while the deployment runs stops it and the
alias goes back (CodeDeploy User Guide, "Redeploy and roll back a deployment with
CodeDeploy"); AWS does not say how soon CodeDeploy sees it, so the drill takes ``NOTICE_S``
(the worse end), and one seen after the last shift leaves the deployment Succeeded, which
only the kit's function can undo (``kit_rule``). ``main`` prints the EC2 reference beside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drill import api_kit, api_scenario, runner, scenario
from drill.alarm_spec import AlarmSpec, MetricRef
from drill.api_scenario import ALIAS_SHIFT_S, ApiScenario, Shift, alias_shift, success_time
from drill.assembly import Assembly, DrillTemplateError, Template
from drill.evaluator import ALARM, OK, Replay, evaluation_range_for, replay
from drill.outcome import DrillOptions
from drill.report import _minutes
from drill.template import WatchedAlarm, _construct_label, alarm_rules, all_alarms

# Seconds from a group alarm's ALARM to CodeDeploy stopping the deployment (unpublished).
NOTICE_S = 60
GATEWAY, LAMBDA = "AWS/ApiGateway", "AWS/Lambda"
EC2_REFERENCE = "bad-release-502"
SERVED = ("Http5xx", "Errors")  # what the client gets as a 5xx: caught 500s and 502s


@dataclass(frozen=True)
class ApiKit:
    template: Template
    group_config: str
    alarms: Mapping[str, WatchedAlarm]  # ``rollback``: the deployment group watches it
    kit_rule: str | None
    assembly: Assembly
    kit_function: Any  # ``api_kit.kit_function``: (function, its alarms) or None


def _ref(value: Any) -> Any:
    return value.get("Ref") if isinstance(value, Mapping) else None


def _feeds(ref: MetricRef, function_id: str) -> bool:
    """Whether the scenario answers this metric: the stage's, the handler's, or Http5xx."""
    if ref.namespace == LAMBDA:
        return ref.metric_name in ("Errors", "Throttles") and function_id in str(ref.dimensions)
    return ref.metric_name in ("Count", "5XXError", "Http5xx")


def find_api_kit(assembly: Assembly) -> ApiKit:
    """The handler's Lambda deployment group and the alarms the scenario's metrics feed."""
    for template in assembly.stacks.values():
        props = dict(all_alarms(template.body))
        specs = {lid: AlarmSpec.from_properties(p, name=lid) for lid, p in props.items()}
        by_name = {p.get("AlarmName"): lid for lid, p in props.items()}
        for alias_id in template.of_type("AWS::Lambda::Alias"):
            alias = template.resource(alias_id)
            policy = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
            group = template.resources.get(_ref(policy.get("DeploymentGroupName")), {})
            group = group.get("Properties", {})
            names = [a.get("Name") for a in group.get("AlarmConfiguration", {}).get("Alarms", [])]
            watched = {lid for lid in specs if lid in {_ref(n) or by_name.get(n) for n in names}}
            if not any(r.namespace == GATEWAY for i in watched for r in specs[i].metric_refs()):
                continue
            function_id = _ref(alias.get("Properties", {}).get("FunctionName"))
            alarms = {
                lid: WatchedAlarm(
                    lid,
                    _construct_label(template.resource(lid), lid),
                    props[lid],
                    spec,
                    lid in watched,
                )
                for lid, spec in specs.items()
                if all(_feeds(r, function_id) for r in spec.metric_refs())
            }
            rule = next(iter(alarm_rules(template.body)), None)
            found = api_kit.kit_function(assembly, template, rule)
            return ApiKit(template, group["DeploymentConfigName"], alarms, rule, assembly, found)
    raise DrillTemplateError(
        "no CodeDeploy Lambda group watching API Gateway alarms in cdk.out: run `make synth`"
    )


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

    def total(metric: str, only: str | None = None) -> list[float]:
        per = [counts(scenario, shift, v, metric) for v in versions if only in (None, v)]
        return [sum(column) for column in zip(*per, strict=True)]

    def source(ref: MetricRef) -> Mapping[datetime, float]:
        if ref.metric_name == "Count":
            values = list(scenario.requests)
        elif ref.metric_name == "5XXError":  # the handler's 500s and API Gateway's 502s
            values = [sum(minute) for minute in zip(*(total(m) for m in SERVED), strict=True)]
        else:
            only = scenario.releases[-1].version if "version" in dict(ref.dimensions) else None
            values = total(ref.metric_name, only)
        pairs = zip(scenario.times, values, scenario.requests, strict=True)
        return {t: v for t, v, n in pairs if n}  # nothing is published without requests

    return source


@dataclass(frozen=True)
class ApiRun:
    delay_s: int
    shift: Shift
    replays: Mapping[str, Replay]
    undo: Mapping[int, tuple[datetime, str]]  # release index -> (stopped at, by which alarm)
    status: str  # the last release's
    onset_to_rollback: timedelta | None
    errors_served: float
    final_version: str
    kit_rollbacks: int

    @property
    def onset_to_restored(self) -> timedelta | None:
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ALIAS_SHIFT_S)


def _stops(kit: ApiKit, scenario: ApiScenario, replays: Mapping[str, Replay]) -> dict[int, Any]:
    """Release index -> (when CodeDeploy stops it, the alarm), under the notice model."""
    stops = {}
    notice = timedelta(seconds=NOTICE_S)
    for index, release in enumerate(scenario.releases):
        begin, end = release.create_time, success_time(release, kit.group_config)
        seen = sorted(
            (
                max(t.at, begin) + notice,
                f"CodeDeploy stops it: {kit.alarms[lid].label} (+{NOTICE_S} s)",
            )
            for lid, run in replays.items()
            if kit.alarms[lid].rollback
            for t in run.alarms
            if t.at < end and run.state_at(max(t.at, begin)) == ALARM
        )
        if seen and seen[0][0] < end:
            stops[index] = seen[0]
    return stops


def run(kit: ApiKit, scenario: ApiScenario, delay_s: int, longest_s: int) -> ApiRun:
    """Replay until the stops agree with the alarms they come from (one pass per release)."""
    undo: dict[int, Any] = {}
    for _ in range(len(scenario.releases) + 1):
        shift = alias_shift(scenario, kit.group_config, {i: at for i, (at, _) in undo.items()})
        source = metric_source(scenario, shift)
        replays = {
            lid: replay(
                a.spec,
                source,
                start=scenario.start,
                end=scenario.end + timedelta(seconds=delay_s),
                initial_state=OK,
                delay_s=delay_s,
                source_period=60,
                evaluation_range=evaluation_range_for(a.spec.evaluation_periods, 60, longest_s),
            )
            for lid, a in kit.alarms.items()
        }
        found = stopped = _stops(kit, scenario, replays)
        kit_count = 0
        if kit.kit_function is not None:
            by_kit, kit_count = api_kit.undos(
                kit.assembly,
                kit.template,
                kit.kit_function,
                scenario,
                kit.group_config,
                replays,
                found,
            )
            found = {**by_kit, **found}
        if found == undo:
            break
        undo = found
    first = sum(1 for t in scenario.times if t + timedelta(minutes=1) <= scenario.onset)
    last, bad = len(scenario.releases) - 1, scenario.releases[-1].version
    weights, done = shift.at(scenario.end), success_time(scenario.releases[-1], kit.group_config)
    rollbacks = sorted(at for at, _ in undo.values() if at >= scenario.onset)
    return ApiRun(
        delay_s=delay_s,
        shift=shift,
        replays=replays,
        undo=undo,
        status="Stopped"
        if last in stopped
        else "Succeeded"
        if done <= scenario.end
        else "InProgress",
        onset_to_rollback=rollbacks[0] - scenario.onset if rollbacks else None,
        errors_served=sum(sum(counts(scenario, shift, bad, m)[first:]) for m in SERVED),
        final_version=max(weights, key=lambda v: weights[v]),
        kit_rollbacks=kit_count,
    )


def checks(result: ApiRun, scenario: ApiScenario) -> list[tuple[str, Any, Any, bool]]:
    """(expectation, wanted, got, met) for the scenario's expect block."""
    expect, elapsed = scenario.expect, result.onset_to_rollback
    got: dict[str, Any] = {
        "status": result.status,
        "final_version": result.final_version,
        "kit_rollbacks": result.kit_rollbacks,
    }
    out = [(name, expect[name], got[name], expect[name] == got[name]) for name in got]
    minutes = None if elapsed is None else elapsed.total_seconds() / 60
    for name, value in (
        ("max_minutes_onset_to_rollback", minutes),
        ("max_errors_served", result.errors_served),
    ):
        if name in expect:
            out.append((name, expect[name], value, value is not None and value <= expect[name]))
    return out


def run_range(
    kit: ApiKit, scenario: ApiScenario, delay_range_s: tuple[int, int]
) -> list[tuple[str, ApiRun]]:
    cases = runner.delay_cases(delay_range_s)
    return [(label, run(kit, scenario, delay, max(delay_range_s))) for label, delay in cases]


# --- Output -----------------------------------------------------------------------------------


def _timeline(kit: ApiKit, result: ApiRun) -> list[str]:
    events = [
        (at, "alias " + ", ".join(f"{v}: {w:.0%}" for v, w in sorted(weights.items())))
        for at, weights in result.shift.steps[1:]
    ]
    for lid, replayed in result.replays.items():
        role = "deployment group" if kit.alarms[lid].rollback else "pages on-call"
        events += [
            (t.at, f"alarm {kit.alarms[lid].label} {t.old_state} -> {t.new_state} ({role})")
            for t in replayed.transitions
        ]
    events += [(at, label) for at, label in result.undo.values()]
    return [f"  {at:%H:%M:%S}  {text}" for at, text in sorted(events)]


def render(kit: ApiKit, loaded: ApiScenario, runs: list[tuple[str, ApiRun]], ec2: Any) -> str:
    label, worst = runs[-1]
    lines = [
        f"API release drill: {loaded.name}\n  {loaded.description}",
        f"  {kit.template.path.name}: {kit.group_config}; [group] alarms stop the deployment",
        *(
            f"    {'[group]' if a.rollback else '[page] '} {a.label}: {a.describe()}"
            for a in kit.alarms.values()
        ),
        f"  kit rule on these alarms: {kit.kit_rule or 'none in cdk.out (no kit rollback)'}",
        f"Timeline at the {label} delay ({worst.delay_s} s):",
        *_timeline(kit, worst),
        "Expectations (at every delay):",
    ]
    for name, result in runs:
        lines += [
            f"  {'PASS' if ok else 'FAIL'}  {name:<8} {what:<30} expected {want!s:<10} got {got}"
            for what, want, got, ok in checks(result, loaded)
        ]
    lines.append(
        f"\n  {'delay':<13}{'Lambda: rollback':>17}{'restored':>10}{'errors':>8}"
        f"{'EC2: rollback':>16}{'restored':>10}{'errors':>8}"
    )
    for (name, api), (_, report) in zip(runs, ec2.runs, strict=True):
        more = "+" if api.onset_to_rollback is None else " "
        lines.append(
            f"  {f'{name} {api.delay_s} s':<13}{_minutes(api.onset_to_rollback):>17}"
            f"{_minutes(api.onset_to_restored):>10}{api.errors_served:>7,.0f}{more}"
            f"{_minutes(report.onset_to_rollback):>16}{_minutes(report.onset_to_restored):>10}"
            f"{report.errors_served or 0:>8,.0f}"
        )
    lines.append(
        f"  Lambda: errors = 5xx the new version answered, to the end ('+': never rolled back);"
        f"\n  restored = rollback + alias shift ({ALIAS_SHIFT_S} s, modelled). EC2 "
        f"({EC2_REFERENCE}): ELB 5xx until recovery, restore per alarm_rollback_kit/timing.py."
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
