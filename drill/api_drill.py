"""Replays an API release scenario against the API stack's alarms as ``cdk synth`` wrote them.

The handler alias's CodeDeploy group, its configuration and alarms, and the API's paging
alarms on the same metrics come from ``cdk.out``; ``drill.evaluator`` replays them at each
metric delay over the alias's weighted series (``drill.api_scenario``). A group alarm in
ALARM stops a running deployment an assumed ``NOTICE_S`` later (CodeDeploy User Guide,
"Redeploy and roll back a deployment with CodeDeploy"); each ALARM of the kit's rule's alarms
goes, as the documented event and at once (as on the EC2 path), to the kit's function from
its cdk.out asset, in a moto account (``tests.support.lambda_world``) holding the releases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from moto import mock_aws

from drill import api_scenario, runner, scenario, template
from drill.alarm_event import alarm_event
from drill.alarm_spec import AlarmSpec, MetricRef
from drill.api_scenario import MINUTE, ROLLBACK_S, ApiScenario, Shift, Undo, alias_shift
from drill.assembly import Assembly, DrillTemplateError, Template
from drill.evaluator import ALARM, OK, Replay, evaluation_range_for, replay
from drill.function import AssetFunction, DrillContext, load
from drill.outcome import DrillOptions
from drill.report import render_sweep, sweep_lines
from drill.resolver import Resolver
from drill.sandbox import client, create_idempotency_table, sandbox_environment
from drill.scenario import ScenarioError
from drill.template import WatchedAlarm, all_alarms
from tests.support import codedeploy_gaps, lambda_world
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.lambda_world import LambdaWorld

# From a group alarm's ALARM to CodeDeploy's stop. ASSUMED, each in turn: AWS documents no
# polling interval, so there is no known worst case and none of these is one.
NOTICE_S = (60, 180, 300)
EC2_REFERENCE = "bad-release-502"
SERVED = ("Http5xx", "Errors")  # what a client gets as a 5xx: caught 500s and 502s
Replays = Mapping[str, Replay]  # by alarm logical id
NAMES = {  # the moto account's names stand in for the template's
    "APPLICATION_NAME": lambda_world.APPLICATION,
    "DEPLOYMENT_GROUP_NAME": lambda_world.GROUP,
    "LAMBDA_FUNCTION_NAME": lambda_world.FUNCTION,
    "LAMBDA_ALIAS_NAME": lambda_world.ALIAS,
}


@dataclass(frozen=True)
class ApiKit:
    assembly: Assembly
    template: Template
    group_config: str
    alarms: Mapping[str, WatchedAlarm]  # ``rollback``: the deployment group watches it
    kit_function: tuple[str, str] | None  # (rule, the function it invokes) in the template


class Setup(NamedTuple):
    """What every replay of one scenario on one kit shares, worked out once: each alarm's range
    and the kit's function (id, code, environment) with its rule's alarms' events."""

    ranges: Mapping[str, int]
    function: tuple[str, AssetFunction, Mapping[str, str]] | None = None
    events: Mapping[str, Callable[..., dict[str, Any]]] = {}


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
            # An alias CodeDeploy does not shift, or a group without alarms, is not the kit's.
            policy = alias.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate")
            if policy is None:
                continue
            group = tpl.properties(policy["DeploymentGroupName"]["Ref"])
            names = [a["Name"] for a in group.get("AlarmConfiguration", {}).get("Alarms", [])]
            watched = {n["Ref"] if isinstance(n, dict) else by_name[n] for n in names}
            refs = [r for lid in watched for r in specs[lid].metric_refs()]
            if all(r.namespace != "AWS/ApiGateway" for r in refs):
                continue
            function = alias["Properties"]["FunctionName"]["Ref"]
            label = {lid: template.construct_label(tpl.resource(lid), lid) for lid in props}
            alarms = {
                lid: WatchedAlarm(lid, label[lid], props[lid], spec, lid in watched)
                for lid, spec in specs.items()
                if all(_feeds(r, function) for r in spec.metric_refs())
            }
            rules = ((r, template.rule_function(tpl, r)) for r in template.alarm_rules(tpl.body))
            found = next(((r, f) for r, f in rules if f), None)
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
    versions = scenario.versions

    def source(ref: MetricRef) -> Mapping[datetime, float]:
        only = scenario.releases[-1].version if "version" in dict(ref.dimensions) else None
        names = SERVED if ref.metric_name == "5XXError" else (ref.metric_name,)
        per = [counts(scenario, shift, v, m) for v in versions if only in (None, v) for m in names]
        summed = [sum(column) for column in zip(*per, strict=True)]
        values = scenario.requests if ref.metric_name == "Count" else summed
        pairs = zip(scenario.times, values, scenario.requests, strict=True)
        return {t: v for t, v, n in pairs if n}  # nothing is published without requests

    return source


def _stops(kit: ApiKit, scenario: ApiScenario, replays: Replays, notice_s: int) -> dict[int, Undo]:
    """CodeDeploy's stops, ``notice_s`` after a group alarm is in ALARM while the release
    runs; a tie with the last shift lets the shift go ahead."""
    stops = {}
    for index, release in enumerate(scenario.releases):
        begin, end = release.create_time, release.success_time(kit.group_config)
        seen = [
            (max(t.at, begin) + timedelta(seconds=notice_s), kit.alarms[lid].label)
            for lid, run in replays.items()
            if kit.alarms[lid].rollback
            for t in run.alarms
            if t.at < end and run.state_at(max(t.at, begin)) == ALARM
        ]
        if seen and (first := min(seen))[0] < end:
            why = f"CodeDeploy stops it ({notice_s} s notice, assumed): {first[1]}"
            stops[index] = Undo(first[0], why, "Stopped")
    return stops


def _lay_down(
    world: LambdaWorld, scenario: ApiScenario, ends: dict[int, Undo], ids: list[str], at: datetime
) -> None:
    """Start the releases created, and end those CodeDeploy ended, before ``at`` (a tie is
    the worse case: still running)."""
    start = partial(world.release, created_ago=timedelta(0), completed_ago=None)
    for i, release in enumerate(scenario.releases):
        if len(ids) == i and release.create_time < at:
            world.now = release.create_time
            ids.append(start(current=release.previous, target=release.version))
        if i < len(ids) and i in ends and ends[i].at < at:
            world.end_if_running(ids[i], ends[i].end, at=ends[i].at)


def setup(kit: ApiKit, scenario: ApiScenario, longest_s: int) -> Setup:
    """``Setup`` for ``scenario`` on ``kit``; the kit's account has versions 1 and 2 only."""
    ranges = {
        lid: evaluation_range_for(a.spec.evaluation_periods, 60, longest_s)
        for lid, a in kit.alarms.items()
    }
    if kit.kit_function is None:
        return Setup(ranges)
    if scenario.versions - {"1", "2"}:
        raise ScenarioError(scenario.name, "deployments", "", "the kit's account has versions 1, 2")
    (rule_id, function_id), tpl = kit.kit_function, kit.template
    # The published version is the one released.
    version = {"Version": scenario.releases[-1].version}
    physical = {(tpl.name, v): version for v in tpl.of_type("AWS::Lambda::Version")}
    resolver = Resolver(kit.assembly, physical)
    resolve = partial(resolver.resolve, template=tpl)
    props = tpl.properties(function_id)
    env = {k: str(resolve(v)) for k, v in props["Environment"]["Variables"].items()} | NAMES
    function = load(template.asset_dir(kit.assembly, tpl, function_id), str(props["Handler"]))
    listened = resolve(tpl.properties(rule_id)["EventPattern"])["resources"]
    events = {
        lid: partial(alarm_event, name=n["Ref"], arn=n["Arn"], properties=resolve(a.properties))
        for lid, a in kit.alarms.items()
        if (n := resolver.attributes(tpl, lid))["Arn"] in listened
    }
    return Setup(ranges, (function_id, function, env), events)


def _kit_undos(
    kit: ApiKit, scenario: ApiScenario, ready: Setup, replays: Replays, stops: Mapping[int, Undo]
) -> tuple[dict[int, Undo], int]:
    """The releases the kit's function stopped or undid, and how many stops and undos it
    made, CodeDeploy's own ``stops`` landing at their times; each rollback deployment ends
    ``ROLLBACK_S``'s long end after the decision that started it."""
    if ready.function is None:
        return {}, 0
    (function_id, function, env), releases = ready.function, scenario.releases
    alarms = [
        (t.at, lid, ready.events[lid](transition=t, previous=previous, at=t.at))
        for lid, r in replays.items()
        if lid in ready.events
        for previous, t in zip([None, *r.transitions], r.transitions, strict=False)
        if t.new_state == ALARM
    ]
    ends = {
        i: stops.get(i) or Undo(r.success_time(kit.group_config), "", "Succeeded")
        for i, r in enumerate(releases)
    }
    ends = {i: e for i, e in ends.items() if e.at <= scenario.end or i in stops}
    ids: list[str] = []
    done: dict[int, Undo] = {}
    count = 0
    with sandbox_environment(), mock_aws(), gaps.install():
        # ``lambda_world``'s function and Lambda group, and the kit's function's topic and table.
        clients = {n: client(n) for n in ("codedeploy", "dynamodb", "iam", "lambda", "sns")}
        clients["sns"].create_topic(Name=env["TOPIC_ARN"].rsplit(":", 1)[-1])
        create_idempotency_table(env["IDEMPOTENCY_TABLE"])
        world = lambda_world.build(scenario.start, clients)
        for at, lid, event in sorted(alarms, key=lambda e: e[:2]):
            _lay_down(world, scenario, ends, ids, at)
            context = DrillContext(f"drill-{at:%H%M%S}-{lid}", function_id, function_id)
            result = function.invoke(event, now=at, environment=env, context=context).result
            action = (result or {}).get("action")
            if action not in ("stopped", "redeployed") or not ids:
                continue
            verb, ended = ("stops", "Stopped") if action == "stopped" else ("undoes", "Succeeded")
            why = f"the kit's function {verb} it: {kit.alarms[lid].label}"
            done.setdefault(len(ids) - 1, Undo(at, why, ended))
            count += 1
            back = at + timedelta(seconds=ROLLBACK_S[-1])
            for rollback in [d for d in codedeploy_gaps.backend().deployments if d not in ids]:
                world.end_if_running(rollback, "Succeeded", at=back, created=at)
    return done, count


@dataclass(frozen=True)
class ApiRun:
    scenario: ApiScenario
    delay_s: int
    notice_s: int
    shift: Shift
    replays: Replays
    undo: Mapping[int, Undo]  # release index -> its stop or undo
    status: str  # the last release's
    kit_rollbacks: int
    errors_short: float  # at ``ROLLBACK_S``'s short end
    errors_served: float  # at its long end, which the drill decides at

    @property
    def final_version(self) -> str:
        weights = self.shift.steps[-1][1]
        return max(weights, key=lambda v: weights[v])

    @property
    def onset_to_rollback(self) -> timedelta | None:
        onset = self.scenario.onset
        return min((u.at - onset for u in self.undo.values() if u.at >= onset), default=None)

    @property
    def restored_short(self) -> timedelta | None:
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ROLLBACK_S[0])

    @property
    def onset_to_restored(self) -> timedelta | None:
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ROLLBACK_S[-1])

    @property
    def errors_until_end(self) -> bool:
        return self.final_version == self.scenario.releases[-1].version and self.errors_served > 0

    @property
    def checks(self) -> list[tuple[str, Any, Any, bool]]:
        """(expectation, wanted, got, met) for the expect block; ``max_`` ones are bounds."""
        elapsed = self.onset_to_rollback
        bounds = {
            "max_minutes_onset_to_rollback": None if elapsed is None else elapsed / MINUTE,
            "max_errors_served": self.errors_served,
        }
        out = []
        for name, want in self.scenario.expect.items():
            got = bounds[name] if name in bounds else getattr(self, name)
            met = got is not None and got <= want if name in bounds else got == want
            out.append((name, want, got, met))
        return out

    @property
    def passed(self) -> bool:
        return all(met for *_, met in self.checks)


def run(kit: ApiKit, scenario: ApiScenario, ready: Setup, delay_s: int, notice_s: int) -> ApiRun:
    """Replay until the stops and undos agree with the alarms they come from; per release
    the first of CodeDeploy's stop and the kit's function's stop or undo counts."""
    end = scenario.end + timedelta(seconds=delay_s)
    evaluate = partial(
        replay, start=scenario.start, end=end, initial_state=OK, delay_s=delay_s, source_period=60
    )
    undo: dict[int, Undo] = {}
    for _ in range(2 * len(scenario.releases) + 1):
        shift = alias_shift(scenario, kit.group_config, undo, ROLLBACK_S[-1])
        source = metric_source(scenario, shift)
        replays = {
            lid: evaluate(a.spec, source, evaluation_range=ready.ranges[lid])
            for lid, a in kit.alarms.items()
        }
        found = _stops(kit, scenario, replays, notice_s)
        by_kit, count = _kit_undos(kit, scenario, ready, replays, found)
        found |= {i: u for i, u in by_kit.items() if i not in found or u.at <= found[i].at}
        if found == undo:
            break
        undo = found
    bad, last = scenario.releases[-1], undo.get(len(scenario.releases) - 1)
    done = bad.success_time(kit.group_config) <= scenario.end
    status = last.end if last else "Succeeded" if done else "InProgress"
    first = sum(1 for t in scenario.times if t + MINUTE <= scenario.onset)
    short = alias_shift(scenario, kit.group_config, undo, ROLLBACK_S[0])
    served = [
        sum(sum(counts(scenario, s, bad.version, m)[first:]) for m in SERVED)
        for s in (short, shift)
    ]
    return ApiRun(scenario, delay_s, notice_s, shift, replays, undo, status, count, *served)


def run_range(kit: ApiKit, scenario: ApiScenario, delays: tuple[int, int]) -> list[Any]:
    """(case, run) for each metric delay and, within it, each assumed ``NOTICE_S``."""
    ready = setup(kit, scenario, max(delays))
    return [
        (f"{name} {d} s, notice {n} s", run(kit, scenario, ready, d, n))
        for name, d in runner.delay_cases(delays)
        for n in NOTICE_S
    ]


def render(kit: ApiKit, loaded: ApiScenario, runs: list[Any], ec2: runner.DelaySweep) -> str:
    label, worst = runs[-1]
    events = [
        (at, "alias " + ", ".join(f"{v}: {w:.0%}" for v, w in sorted(weights.items())))
        for at, weights in worst.shift.steps[1:]
    ]
    events += [(u.at, u.why) for u in worst.undo.values()]
    events += [
        (t.at, f"{kit.alarms[lid].label} {t.old_state} -> {t.new_state}")
        for lid, r in worst.replays.items()
        for t in r.transitions
    ]
    failed = [
        f"  FAIL  {case}: {what} expected {want} got {got}"
        for case, result in runs
        for what, want, got, met in result.checks
        if not met
    ]
    title = "Lambda, conditional on the metric delay and CodeDeploy's notice (both assumed)"
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
            + ("" if failed else "all hold"),
            *failed,
            "",
            *sweep_lines(title, runs),
            f"  Lambda errors served: 5xx the new version answered, to the end; restored and "
            f"errors at both ends of the assumed {ROLLBACK_S[0]}-{ROLLBACK_S[-1]} s rollback "
            "deployment (decided at the long end).",
            render_sweep(ec2, f"EC2 reference ({EC2_REFERENCE}, ELB 5xx until recovery)"),
        ]
    )


def main(
    names: list[str],
    assembly: Assembly,
    options: DrillOptions,
    ec2: runner.DelaySweep | None = None,
) -> int:
    """Run and print each API scenario beside the EC2 reference (``ec2``, when the caller
    already ran it with the same ``options``); 0 when every expectation holds at every delay."""
    kit = find_api_kit(assembly)
    if ec2 is None:
        ec2 = runner.run_range(scenario.load(EC2_REFERENCE), assembly, options)
    passed = True
    for name in names:
        loaded = api_scenario.load(name)
        runs = run_range(kit, loaded, options.delay_range_s)
        passed = passed and all(r.passed for _, r in runs)
        print(render(kit, loaded, runs, ec2))
    return 0 if passed else 1
