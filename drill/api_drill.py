"""Replays an API release scenario against the API stack's alarms as ``cdk synth`` wrote them.

The deployment group of the handler's ``live`` alias is found in ``cdk.out`` (the Lambda
group whose alarms read API Gateway metrics), with its deployment configuration and every
alarm it watches; the API's other alarms on the same metrics (the paging ones) are replayed
beside them. Each alarm is evaluated by ``drill.evaluator.replay`` every minute over the
datapoints that have landed, at the best, typical and worst metric delay
(``drill.runner.delay_cases``), over series built from the alias's weights
(``drill.api_scenario``): a version answers only its share of the requests, so the 5xx the
new version serves are its share x its error rate.

CodeDeploy model (CodeDeploy User Guide, "Redeploy and roll back a deployment with
CodeDeploy"): a group alarm in ALARM while the deployment runs stops it, and with
``DEPLOYMENT_STOP_ON_ALARM`` the alias goes back to the previous version. AWS does not say
how often CodeDeploy polls the alarms (the group's ``IgnorePollAlarmFailure`` only says it
does), so the drill takes ``NOTICE_S`` (60 s) after the alarm's transition, every time: the
worse end of an unpublished range; an alarm that CodeDeploy would notice only after the last
shift leaves the deployment Succeeded. After success nothing in AWS rolls it back: that is
the kit's function's job, once the API stack has an EventBridge rule on these alarms
(``kit_rule``); without one the drill says so and counts no kit rollback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drill import runner
from drill.alarm_spec import AlarmSpec, MetricRef
from drill.api_scenario import ALIAS_SHIFT_S, MINUTE, ApiScenario, Shift, alias_shift, planned
from drill.assembly import Assembly, DrillTemplateError, Template
from drill.evaluator import ALARM, OK, Replay, evaluation_range_for, replay
from drill.template import WatchedAlarm, _construct_label, alarm_rules, all_alarms

NOTICE_S = 60
GATEWAY, LAMBDA = "AWS/ApiGateway", "AWS/Lambda"


@dataclass(frozen=True)
class ApiKit:
    template: Template
    group_config: str
    function_id: str
    alarms: Mapping[str, WatchedAlarm]  # ``rollback``: the deployment group watches it
    kit_rule: str | None

    @property
    def group_alarms(self) -> frozenset[str]:
        return frozenset(lid for lid, alarm in self.alarms.items() if alarm.rollback)


def _ref(value: Any) -> str | None:
    return value.get("Ref") if isinstance(value, Mapping) else None


def _group_alarm_ids(template: Template, group: Mapping[str, Any]) -> set[str]:
    by_name = {p.get("AlarmName"): lid for lid, p in all_alarms(template.body)}
    names = [a.get("Name") for a in group.get("AlarmConfiguration", {}).get("Alarms", [])]
    return {_ref(n) or by_name.get(n) for n in names} - {None}  # type: ignore[return-value]


def _alias_function(template: Template, group_id: str) -> str | None:
    for alias_id in template.of_type("AWS::Lambda::Alias"):
        resource = template.resource(alias_id)
        policy = resource.get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
        if _ref(policy.get("DeploymentGroupName")) == group_id:
            return _ref(resource.get("Properties", {}).get("FunctionName"))
    return None


def _feeds(ref: MetricRef, function_id: str) -> bool:
    """Whether the scenario answers this metric: the stage's, the handler's, or Http5xx."""
    if ref.namespace == LAMBDA:
        return ref.metric_name in ("Errors", "Throttles") and function_id in str(ref.dimensions)
    if ref.namespace == GATEWAY:
        return ref.metric_name in ("Count", "5XXError")
    return ref.metric_name == "Http5xx"


def find_api_kit(assembly: Assembly) -> ApiKit:
    """The handler's Lambda deployment group and the alarms the scenario's metrics feed."""
    for template in assembly.stacks.values():
        for group_id in template.of_type("AWS::CodeDeploy::DeploymentGroup"):
            group = template.properties(group_id)
            config = group.get("DeploymentConfigName")
            function_id = _alias_function(template, group_id)
            if not (isinstance(config, str) and ".Lambda" in config and function_id):
                continue
            watched = _group_alarm_ids(template, group)
            alarms = {
                lid: WatchedAlarm(
                    lid,
                    _construct_label(template.resource(lid), lid),
                    props,
                    AlarmSpec.from_properties(props, name=lid),
                    lid in watched,
                )
                for lid, props in all_alarms(template.body)
            }
            refs = [r for lid in watched for r in alarms[lid].spec.metric_refs()]
            if any(r.namespace == GATEWAY for r in refs):
                fed = {
                    lid: a
                    for lid, a in alarms.items()
                    if all(_feeds(r, function_id) for r in a.spec.metric_refs())
                }
                rule = next(iter(alarm_rules(template.body)), None)
                return ApiKit(template, config, function_id, fed, rule)
    raise DrillTemplateError(
        "no CodeDeploy Lambda deployment group watching API Gateway alarms in cdk.out: "
        "is the API stack in the app? run `make synth`"
    )


# --- Metrics from the alias's weights ----------------------------------------------------------


def counts(scenario: ApiScenario, shift: Shift, version: str, metric: str) -> list[float]:
    """Per minute: how many of the version's answers were ``metric`` (its share x its rate)."""
    out = []
    for i, minute in enumerate(scenario.start + MINUTE * k for k in range(scenario.minutes)):
        served = scenario.requests[i] * shift.share(version, minute)
        out.append(float(int(served * scenario.rate(version, metric, i) + 0.5)))
    return out


def metric_source(scenario: ApiScenario, shift: Shift) -> Any:
    """A ``MetricSource`` over the weighted series; the alarms' version dimension is the
    version the template publishes, i.e. the scenario's last release."""
    versions = sorted({v for r in scenario.releases for v in (r.previous, r.version)})
    released = scenario.releases[-1].version
    times = [scenario.start + MINUTE * k for k in range(scenario.minutes)]

    def total(metric: str, only: str | None = None) -> list[float]:
        per = [counts(scenario, shift, v, metric) for v in versions if only in (None, v)]
        return [sum(column) for column in zip(*per, strict=True)]

    def source(ref: MetricRef) -> Mapping[datetime, float]:
        dims = dict(ref.dimensions)
        if ref.namespace == GATEWAY and ref.metric_name == "Count":
            values = list(scenario.requests)
        elif ref.namespace == GATEWAY:  # 5XXError: caught 5xx, unhandled errors (502), own
            own = zip(total("Http5xx"), total("Errors"), scenario.gateway_5xx, strict=True)
            values = [sum(parts) for parts in own]
        else:
            values = total(ref.metric_name, released if "version" in dims else None)
        return {t: v for t, v, n in zip(times, values, scenario.requests, strict=True) if n}

    return source


# --- The run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiRun:
    delay_s: int
    shift: Shift
    replays: Mapping[str, Replay]
    undo: Mapping[int, tuple[datetime, str]]  # release index -> (decided at, by whom)
    statuses: tuple[str, ...]
    final_version: str
    onset_to_rollback: timedelta | None
    errors_served: float
    checks: tuple[tuple[str, Any, Any, bool], ...] = ()

    @property
    def onset_to_restored(self) -> timedelta | None:
        elapsed = self.onset_to_rollback
        return None if elapsed is None else elapsed + timedelta(seconds=ALIAS_SHIFT_S)

    @property
    def passed(self) -> bool:
        return all(check[3] for check in self.checks)


def _stops(kit: ApiKit, scenario: ApiScenario, replays: Mapping[str, Replay]) -> dict[int, Any]:
    """Release index -> (when CodeDeploy stops it, the alarm) under the notice model."""
    stops = {}
    for index, release in enumerate(scenario.releases):
        success = planned(release, kit.group_config)[1]
        seen = []
        for lid in kit.group_alarms & replays.keys():
            run = replays[lid]
            if run.state_at(release.create_time) == ALARM:
                seen.append((release.create_time, lid))
            seen += [(t.at, lid) for t in run.alarms if release.create_time <= t.at < success]
        notice = timedelta(seconds=NOTICE_S)
        early = [(at + notice, lid) for at, lid in sorted(seen) if at + notice < success]
        if early:
            stops[index] = (early[0][0], kit.alarms[early[0][1]].label)
    return stops


def run(kit: ApiKit, scenario: ApiScenario, delay_s: int, longest_s: int) -> ApiRun:
    undo: dict[int, Any] = {}
    for _ in range(len(scenario.releases) + 1):
        shift = alias_shift(scenario, kit.group_config, {i: at for i, (at, _) in undo.items()})
        source = metric_source(scenario, shift)
        replays = {
            lid: replay(
                spec,
                source,
                start=scenario.start,
                end=scenario.end + timedelta(seconds=delay_s),
                initial_state=OK,
                delay_s=delay_s,
                source_period=60,
                evaluation_range=evaluation_range_for(
                    spec.evaluation_periods, spec.period, longest_s
                ),
            )
            for lid, spec in ((lid, a.spec) for lid, a in kit.alarms.items())
        }
        found = _stops(kit, scenario, replays)
        if found == undo:
            break
        undo = found
    return _outcome(kit, scenario, delay_s, shift, replays, undo)


def _outcome(
    kit: ApiKit,
    scenario: ApiScenario,
    delay_s: int,
    shift: Shift,
    replays: Mapping[str, Replay],
    undo: Mapping[int, Any],
) -> ApiRun:
    statuses = tuple(
        "Stopped"
        if i in undo
        else "Succeeded"
        if planned(r, kit.group_config)[1] <= scenario.end
        else "InProgress"
        for i, r in enumerate(scenario.releases)
    )
    weights = shift.at(scenario.end)
    final = max(weights, key=lambda v: weights[v])
    after = sorted(at for at, _ in undo.values() if at >= scenario.onset)
    bad = scenario.releases[-1].version
    onset_minute = next(
        i for i in range(scenario.minutes) if scenario.start + MINUTE * (i + 1) > scenario.onset
    )
    served = sum(sum(counts(scenario, shift, bad, m)[onset_minute:]) for m in ("Http5xx", "Errors"))
    result = ApiRun(
        delay_s,
        shift,
        replays,
        undo,
        statuses,
        final,
        after[0] - scenario.onset if after else None,
        served,
    )
    return _checked(result, scenario)


def _checked(result: ApiRun, scenario: ApiScenario) -> ApiRun:
    expect = scenario.expect
    elapsed = result.onset_to_rollback
    checks = [
        ("status", expect["status"], result.statuses[-1], expect["status"] == result.statuses[-1]),
        (
            "final_version",
            expect["final_version"],
            result.final_version,
            expect["final_version"] == result.final_version,
        ),
        ("kit_rollbacks", expect["kit_rollbacks"], 0, expect["kit_rollbacks"] == 0),
    ]
    if "max_minutes_onset_to_rollback" in expect:
        limit = expect["max_minutes_onset_to_rollback"]
        checks.append(
            (
                "max_minutes_onset_to_rollback",
                limit,
                elapsed,
                elapsed is not None and elapsed <= timedelta(minutes=limit),
            )
        )
    if "max_errors_served" in expect:
        limit = expect["max_errors_served"]
        checks.append(
            ("max_errors_served", limit, result.errors_served, result.errors_served <= limit)
        )
    return ApiRun(**{**result.__dict__, "checks": tuple(checks)})


def run_range(
    kit: ApiKit, scenario: ApiScenario, delay_range_s: tuple[int, int]
) -> list[tuple[str, ApiRun]]:
    return [
        (label, run(kit, scenario, delay, max(delay_range_s)))
        for label, delay in runner.delay_cases(delay_range_s)
    ]
