"""Replays one incident scenario through the synthesized kit and reports what it did.

Minute by minute on the scenario's clock, ``drill.evaluator`` replays the kit's alarms over
the scenario's series; each state change becomes a "CloudWatch Alarm State Change" event
(``drill.alarm_event``) put through moto's EventBridge with the synthesized rule, and what
the rule's target receives goes to the real rollback handler from the cdk.out asset, which
runs against moto (``drill.world``); a failed invocation is retried as Lambda retries an
asynchronous one, then goes to the on-failure destination (``drill.invoker``). Once a
rollback starts, the restore model (``alarm_rollback_kit/timing.py``) says when the fleet
runs the old revision; from the first minute after that every series except ``RequestCount``
returns to its pre-onset median and the alarms are replayed again. ALB publishes a minute's
datapoints when it ends (ELB User Guide, "CloudWatch metrics for your Application Load
Balancer") and AWS publishes no ingestion delay, so each scenario runs at the best, typical
and worst delay of a stated range (docs/aws-behaviours.md) and its expectations must hold at
every one. EventBridge and the function take no time on the drill's clock (their wall time
is measured). Errors served counts the ELB 5xx from onset until the first recovered minute.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from drill import function as asset_function
from drill import narration
from drill.alarm_event import world_alarm_event
from drill.assembly import Assembly
from drill.evaluator import ALARM, OK, Replay, Transition, evaluation_range_for, replay
from drill.function import KitInvocation
from drill.invoker import AsyncInvoker
from drill.outcome import (
    DrillOptions,
    DrillReport,
    Event,
    Restore,
    Rollback,
    decision_of,
    expectations,
)
from drill.scenario import Scenario
from drill.template import Kit, WatchedAlarm, find_kit
from drill.world import World

# Traffic is not what a bad release changes, so recovery leaves it as the scenario gives it,
# except where it had no datapoint: the ALB leaves requests it could not route to a target
# out of RequestCount (ELB User Guide, CloudWatch metrics), and the restore ends that.
UNCHANGED_BY_RECOVERY = ("RequestCount",)


# --- Recovery model --------------------------------------------------------------------------


def _baseline(values: Sequence[float | None], *, count: bool) -> float | None:
    present = [v for v in values if v is not None]
    if not present or 2 * len(present) < len(values):
        return None
    middle = statistics.median(present)
    return float(round(middle)) if count else float(middle)


def recovered(
    scenario: Scenario, *, restore_end: datetime, baseline_until: datetime
) -> tuple[Scenario, datetime | None]:
    """The series after a restore ending at ``restore_end``, and the first modelled minute."""
    times = scenario.timestamps()
    first = next((i for i, t in enumerate(times) if t >= restore_end), None)
    window = [i for i, t in enumerate(times) if t < baseline_until]
    if first is None or not window:
        return scenario, None
    series: dict[str, tuple[float | None, ...]] = {}
    for key, values in scenario.series.items():
        name = key.partition(":")[0]
        level = _baseline([values[i] for i in window], count=name.endswith("Count"))
        if name in UNCHANGED_BY_RECOVERY:
            series[key] = values[:first] + tuple(level if v is None else v for v in values[first:])
            continue
        series[key] = values[:first] + (level,) * (len(values) - first)
    return replace(scenario, series=series), times[first]


# --- The run ---------------------------------------------------------------------------------


class _Run:
    def __init__(self, kit: Kit, scenario: Scenario, options: DrillOptions) -> None:
        self.kit = kit
        self.scenario = scenario
        self.options = options
        self.delay = timedelta(seconds=options.metric_delay_s)
        self.function = asset_function.load(kit.asset_dir, kit.handler)
        self.events: list[Event] = []
        self.triggers: dict[str, tuple[str, datetime]] = {}
        self.notes: list[str] = []
        self.rollback: Rollback | None = None
        self.recovery_from: datetime | None = None
        self.baseline_until: datetime | None = scenario.onset
        self.restore = Restore(kit.restore, options.lifecycle_s)
        self.replays = self._replay(scenario)

    def _replay(self, scenario: Scenario) -> dict[str, Replay]:
        source = scenario.metric_source()
        longest = max(self.options.delay_range_s)
        return {
            alarm.logical_id: replay(
                alarm.spec,
                source,
                start=scenario.start,
                # Until the last minute's datapoints have landed and been evaluated.
                end=scenario.end + self.delay,
                initial_state=OK,
                delay_s=self.options.metric_delay_s,
                source_period=scenario.period,
                evaluation_range=evaluation_range_for(
                    alarm.spec.evaluation_periods, alarm.spec.period, longest
                ),
            )
            for alarm in self.kit.alarms
        }

    def event(self, at: datetime, kind: str, text: str) -> None:
        self.events.append(Event(at, kind, text))

    def run(self) -> DrillReport:
        with World(
            self.kit,
            self.scenario,
            self.function,
            metric_delay=self.delay,
            environment_overrides=self.options.environment,
        ) as world:
            self.world = world
            self.invoker = AsyncInvoker(world, self.kit, self.events, self._after_invocation)
            self.events.extend(narration.deployment_events(self.scenario))
            self._loop()
            last = max(
                [self.scenario.end + self.delay]
                + (
                    [self.rollback.restore_end]
                    if self.rollback and self.rollback.restore_end
                    else []
                )
            )
            world.advance_to(last)
            invocations = self.invoker.invocations
            self.events, stopped = narration.without_stopped_endings(
                self.kit, self.world, invocations, self.events
            )
            self.notes += stopped + narration.subject_notes(invocations)
            outcome = self._outcome()
            dead_letters = world.dead_letters()
            self.notes.extend(world.notes)
            report = DrillReport(
                scenario=self.scenario,
                kit=self.kit,
                options=self.options,
                environment=dict(world.environment),
                pattern=world.pattern,
                rule_name=world.rule_name,
                source_file=str(self.function.source_file),
                alarm_names={a.logical_id: world.alarm_name(a.logical_id) for a in self.kit.alarms},
                replays=self.replays,
                rows=narration.rows(self.scenario, self.kit, self.replays, self.recovery_from),
                events=sorted(self.events, key=lambda e: e.at),
                invocations=invocations,
                restore=self.restore,
                rollback=outcome,
                recovery_from=self.recovery_from,
                baseline_until=self.baseline_until,
                diagnosis=narration.diagnosis(invocations),
                checks=[],
                dead_letters=dead_letters,
                notes=self.notes,
            )
        report.checks = expectations(report)
        return report

    # --- The event loop ----------------------------------------------------------------------

    def _next_transition(
        self, cursor: tuple[datetime, int, int]
    ) -> tuple[datetime, int, int, WatchedAlarm, Transition] | None:
        best = None
        for index, alarm in enumerate(self.kit.alarms):
            for number, transition in enumerate(self.replays[alarm.logical_id].transitions):
                key = (transition.at, index, number)
                if key > cursor and (best is None or key < best[:3]):
                    best = (*key, alarm, transition)
        return best

    def _loop(self) -> None:
        """Alarm transitions and Lambda's retries, in time order (a retry first on a tie)."""
        cursor = (datetime.min.replace(tzinfo=self.scenario.start.tzinfo), -1, -1)
        while True:
            upcoming = self._next_transition(cursor)
            retry = self.invoker.next_retry()
            if retry is not None and (upcoming is None or retry < upcoming[0]):
                self.invoker.retry()
                continue
            if upcoming is None:
                return
            at, index, number, alarm, transition = upcoming
            cursor = (at, index, number)
            self._alarm_transition(alarm, transition, number, at)

    def _alarm_transition(
        self, alarm: WatchedAlarm, transition: Transition, number: int, at: datetime
    ) -> None:
        world = self.world
        world.advance_to(at)
        transitions = self.replays[alarm.logical_id].transitions
        previous = transitions[number - 1] if number else None
        self.event(
            at,
            "alarm",
            f"{alarm.label} {transition.old_state} -> {transition.new_state}: {transition.reason}",
        )
        event = world_alarm_event(world, alarm, transition, previous=previous, at=at)
        delivered = world.put_event(event)
        if delivered is None:
            why = (
                "not a rollback alarm"
                if not alarm.rollback
                else f"state {transition.new_state}, the rule matches ALARM only"
            )
            if transition.new_state == ALARM and not alarm.rollback:
                why += "; its own alarm action notifies on-call"
            self.event(
                at, "no-match", f"EventBridge: rule {world.rule_name} does not match ({why})"
            )
            return
        self.event(
            at,
            "match",
            f"EventBridge: rule {world.rule_name} matched {alarm.label}'s event -> rollback "
            "function invoked (asynchronously)",
        )
        self.triggers[str(delivered.get("id"))] = (alarm.label, transition.timestamp)
        self.invoker.deliver(delivered, at)

    def _after_invocation(self, record: KitInvocation) -> None:
        if self.rollback is not None:
            return
        if record.rollback_started:
            self._rollback_started(record)
        elif decision_of(record) == "rollback":
            self.rollback = self._rollback_record(record, None, None)

    def _trigger(self, record: KitInvocation) -> tuple[str, datetime]:
        return self.triggers[str(record.event.get("id"))]

    def _rollback_record(
        self,
        record: KitInvocation,
        restore_end: datetime | None,
        rollback_id: str | None,
    ) -> Rollback:
        result = record.invocation.result or {}
        version = None
        if record.created:
            version = self.world.history.version_of(record.created[-1])
        elif record.refused:
            version = self.world.history.version_of(record.refused[-1])
        label, datapoint = self._trigger(record)
        return Rollback(
            started_at=record.at,
            action=record.action,
            bad_deployment_id=result.get("deploymentId") or self._bad_from_refusal(record),
            rollback_deployment_id=rollback_id,
            target_version=version,
            restore_end=restore_end,
            outcome=None,
            trigger_alarm=label,
            trigger_datapoint=datapoint,
        )

    def _bad_from_refusal(self, record: KitInvocation) -> str | None:
        for refused in record.refused:
            for deployment_id in self.world.history.deployment_ids.values():
                if deployment_id in str(refused.get("description")):
                    return deployment_id
        return None

    def _rollback_started(self, record: KitInvocation) -> None:
        created = record.created[-1]
        rollback_id = str(created["deploymentId"])
        restore_end = record.at + timedelta(seconds=self.restore.kit.total_s)
        result = record.invocation.result or {}
        bad = self.world.history.scenario_deployment(result.get("deploymentId"))
        fails = bool(bad and bad.rollback_fails)
        status = "Failed" if fails else "Succeeded"
        self.world.history.complete_rollback_at(rollback_id, restore_end, status)
        self.rollback = self._rollback_record(record, restore_end, rollback_id)
        version = self.rollback.target_version or "?"
        self.event(
            restore_end,
            "restore",
            f"rollback deployment {rollback_id} ({version}) {status} - restore "
            + ("complete (modelled)" if not fails else "FAILED: the errors go on"),
        )
        if fails:
            self.notes.append(
                f"rollback deployment {rollback_id} ends Failed (the scenario's rollback_fails); "
                "no new alarm transition follows, so the kit sends no further page"
            )
            return
        self.baseline_until = self.scenario.onset or self.rollback.trigger_datapoint
        new, first = recovered(
            self.scenario, restore_end=restore_end, baseline_until=self.baseline_until
        )
        if first is None:
            self.notes.append(
                "the restore ends after the scenario's last minute: no recovery shown"
            )
            return
        self.recovery_from = first
        self.scenario = new
        self.world.use_series(new)
        self.replays = self._replay(new)

    # --- Results -----------------------------------------------------------------------------

    def _outcome(self) -> Rollback | None:
        if self.rollback is None or self.rollback.rollback_deployment_id is None:
            return self.rollback
        info = self.world.history.deployment_info(self.rollback.rollback_deployment_id)
        status = str(info.get("status"))
        return replace(self.rollback, outcome=status if status in {"Succeeded", "Failed"} else None)


def _kit_for(scenario: Scenario, assembly: Assembly) -> Kit:
    expectations = [scenario.expect, *scenario.expect_by_m_of_n.values()]
    fragments = {fragment for e in expectations for fragment in (e.alarms or {})}
    return find_kit(assembly, alarm_fragments=tuple(sorted(fragments)))


def run(scenario: Scenario, assembly: Assembly, options: DrillOptions | None = None) -> DrillReport:
    """Replay ``scenario`` through the kit synthesized in ``assembly``, at one delay."""
    return _Run(_kit_for(scenario, assembly), scenario, options or DrillOptions()).run()


def delay_cases(delay_range_s: tuple[int, int]) -> tuple[tuple[str, int], ...]:
    """Best, typical (the middle of the range) and worst metric delay."""
    low, high = delay_range_s
    if not 0 <= low <= high:
        raise ValueError(f"delay range {low}-{high} s: need 0 <= low <= high")
    return (("best", low), ("typical", (low + high) // 2), ("worst", high))


@dataclass(frozen=True)
class DelaySweep:
    """One scenario replayed at the best, typical and worst delay, in that order."""

    runs: tuple[tuple[str, DrillReport], ...]

    @property
    def worst(self) -> DrillReport:
        return self.runs[-1][1]

    @property
    def passed(self) -> bool:
        return all(report.passed for _, report in self.runs)


def run_range(
    scenario: Scenario, assembly: Assembly, options: DrillOptions | None = None
) -> DelaySweep:
    """Replay ``scenario`` at every delay of ``delay_cases(options.delay_range_s)``."""
    options = options or DrillOptions()
    kit = _kit_for(scenario, assembly)
    return DelaySweep(
        tuple(
            (label, _Run(kit, scenario, replace(options, metric_delay_s=delay)).run())
            for label, delay in delay_cases(options.delay_range_s)
        )
    )
