"""Replays one incident scenario through the synthesized kit and reports what it did.

On the scenario's clock, ``drill.evaluator`` replays the kit's alarms; each state change is
an alarm event (``drill.alarm_event``) put through moto's EventBridge with the synthesized
rule, and what the rule's target receives goes to the rollback handler from the cdk.out
asset (``drill.world``). Lambda retries a failed asynchronous invocation up to
``MaximumRetryAttempts`` times, one and then two minutes later, then sends a record to the
on-failure destination (AWS Lambda Developer Guide, "How Lambda handles errors and retries
with asynchronous invocation", "Capturing records of Lambda asynchronous invocations").
Once a rollback starts, the restore model (``alarm_rollback_kit/timing.py``) says when the
fleet runs the old revision; from the first minute after that every series but
``RequestCount`` returns to its pre-onset median and the alarms are replayed again. AWS
publishes no ingestion delay for ALB datapoints, so each scenario runs at the best, typical
and worst delay of a stated range (docs/aws-behaviours.md) and its expectations must hold at
every one. EventBridge and the function take no time on the drill's clock (their wall time
is measured). Errors served counts the ELB 5xx from onset to the first recovered minute.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from drill import function as asset_function
from drill import narration, outcome
from drill.alarm_event import world_alarm_event
from drill.assembly import Assembly
from drill.evaluator import ALARM, OK, Replay, evaluation_range_for, replay
from drill.function import KitInvocation
from drill.outcome import DrillOptions, DrillReport, Event, Restore, Rollback
from drill.scenario import Scenario
from drill.template import Kit, find_kit
from drill.world import World
from tests.support import codedeploy_gaps

# Traffic is not what a bad release changes, so recovery leaves it as the scenario gives it,
# except where it had no datapoint: the ALB leaves requests it could not route to a target
# out of RequestCount (ELB User Guide, CloudWatch metrics), and the restore ends that.
UNCHANGED_BY_RECOVERY = ("RequestCount",)
RETRY_DELAYS_S = (60, 120)  # before Lambda's second and third attempt


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
        kept = values[first:] if name in UNCHANGED_BY_RECOVERY else (None,) * len(values[first:])
        series[key] = values[:first] + tuple(level if v is None else v for v in kept)
    return replace(scenario, series=series), times[first]


class _Run:
    def __init__(self, kit: Kit, scenario: Scenario, options: DrillOptions) -> None:
        self.kit, self.scenario, self.options = kit, scenario, options
        self.delay = timedelta(seconds=options.metric_delay_s)
        self.function = asset_function.load(kit.asset_dir, kit.handler)
        self.events: list[Event] = []
        self.invocations: list[KitInvocation] = []
        self.retries: list[tuple[datetime, int, dict[str, Any]]] = []  # Lambda's, by time
        self.triggers: dict[str, tuple[str, datetime]] = {}  # event id -> alarm, datapoint
        self.notes: list[str] = []
        self.rollback: Rollback | None = None
        self.recovery_from: datetime | None = None
        self.baseline_until: datetime | None = scenario.onset
        self.restore = Restore(kit.restore, options.lifecycle_s)
        self.replays = self._replay(scenario)

    def _replay(self, scenario: Scenario) -> dict[str, Replay]:
        longest = max(self.options.delay_range_s)
        return {
            alarm.logical_id: replay(
                alarm.spec,
                scenario.metric_source(),
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
            self.events.extend(narration.deployment_events(self.scenario))
            self._loop()
            restore_end = self.rollback and self.rollback.restore_end
            world.advance_to(max(self.scenario.end + self.delay, restore_end or self.scenario.end))
            self.events, stopped = narration.without_stopped_endings(
                self.kit, world, self.invocations, self.events
            )
            self.notes += stopped + narration.subject_notes(self.invocations) + world.notes
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
                invocations=self.invocations,
                restore=self.restore,
                rollback=self._outcome(),
                recovery_from=self.recovery_from,
                baseline_until=self.baseline_until,
                diagnosis=narration.diagnosis(self.invocations),
                checks=[],
                dead_letters=world.dead_letters(),
                notes=self.notes,
            )
        report.checks = outcome.expectations(report)
        return report

    def _loop(self) -> None:
        """Alarm transitions and Lambda's retries, in time order (a transition first on a
        tie); a restore replays the alarms, so the next transition is looked up each time."""
        cursor = (datetime.min.replace(tzinfo=self.scenario.start.tzinfo), -1, -1)
        while True:
            upcoming = min(
                (
                    key
                    for index, alarm in enumerate(self.kit.alarms)
                    for number, t in enumerate(self.replays[alarm.logical_id].transitions)
                    if (key := (t.at, index, number)) > cursor
                ),
                default=None,
            )
            if self.retries and (upcoming is None or self.retries[0][0] < upcoming[0]):
                at, attempt, event = self.retries.pop(0)
                self._deliver(event, at, attempt)
            elif upcoming is None:
                return
            else:
                cursor = upcoming
                self._alarm_transition(*upcoming)

    def _alarm_transition(self, at: datetime, index: int, number: int) -> None:
        world, alarm = self.world, self.kit.alarms[index]
        transitions = self.replays[alarm.logical_id].transitions
        transition = transitions[number]
        world.advance_to(at)
        change = f"{transition.old_state} -> {transition.new_state}: {transition.reason}"
        self.event(at, "alarm", f"{alarm.label} {change}")
        previous = transitions[number - 1] if number else None
        delivered = world.put_event(
            world_alarm_event(world, alarm, transition, previous=previous, at=at)
        )
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
        self._deliver(delivered, at)

    def _deliver(self, event: dict[str, Any], at: datetime, attempt: int = 1) -> None:
        record = self.world.invoke(event, at=at, attempt=attempt)
        self.invocations.append(record)
        self.events.extend(narration.invocation_events(record, self.world))
        if self.rollback is None and (
            record.rollback_started or outcome.decision_of(record) == "rollback"
        ):
            self._rollback_started(record)
        if record.invocation.error is not None:
            self._after_failure(record)

    def _after_failure(self, record: KitInvocation) -> None:
        retries = self.kit.retry_attempts
        if record.attempt <= retries:
            at = record.at + timedelta(seconds=RETRY_DELAYS_S[record.attempt - 1])
            bisect.insort(self.retries, (at, record.attempt + 1, record.event), key=lambda r: r[0])
            text = (
                f"Lambda retries the event (asynchronous invocation, attempt "
                f"{record.attempt + 1} of {retries + 1}) at {at:%H:%M:%S}"
            )
        else:
            self.world.send_to_dead_letter_queue(record)
            text = (
                f"retries exhausted: the event goes to the on-failure destination, dead-letter "
                f"queue {self.kit.on_failure_id} (its alarm pages on-call)"
            )
        self.event(record.at, "retry" if record.attempt <= retries else "dlq", text)

    def _rollback_started(self, record: KitInvocation) -> None:
        """The first rollback the function started or tried (CodeDeploy refused it); a
        started one is restored as the restore model says, and the series recover."""
        history = self.world.history
        bad = (record.invocation.result or {}).get("deploymentId")
        named = [d for r in record.refused for d in history.named_in(str(r.get("description")))]
        shown = record.created or record.refused
        label, datapoint = self.triggers[str(record.event.get("id"))]
        started = record.rollback_started
        rollback_id = str(record.created[-1]["deploymentId"]) if started else None
        end = record.at + timedelta(seconds=self.restore.kit.total_s) if started else None
        self.rollback = Rollback(
            started_at=record.at,
            action=record.action,
            bad_deployment_id=bad or next(iter(named), None),
            rollback_deployment_id=rollback_id,
            target_version=history.version_of(shown[-1]) if shown else None,
            restore_end=end,
            outcome=None,
            trigger_alarm=label,
            trigger_datapoint=datapoint,
        )
        if rollback_id is None or end is None:
            return
        fails = bool((found := history.scenario_deployment(bad)) and found.rollback_fails)
        status = "Failed" if fails else "Succeeded"
        history.complete_rollback_at(rollback_id, end, status)
        self.event(
            end,
            "restore",
            f"rollback deployment {rollback_id} ({self.rollback.target_version or '?'}) {status} - "
            + ("restore FAILED: the errors go on" if fails else "restore complete (modelled)"),
        )
        if fails:
            self.notes.append(
                f"rollback deployment {rollback_id} ends Failed (the scenario's rollback_fails); "
                "no new alarm transition follows, so the kit sends no further page"
            )
            return
        self.baseline_until = self.scenario.onset or datapoint
        new, first = recovered(self.scenario, restore_end=end, baseline_until=self.baseline_until)
        if first is None:
            self.notes.append(
                "the restore ends after the scenario's last minute: no recovery shown"
            )
            return
        self.recovery_from, self.scenario = first, new
        self.world.use_series(new)
        self.replays = self._replay(new)

    def _outcome(self) -> Rollback | None:
        if self.rollback is None or self.rollback.rollback_deployment_id is None:
            return self.rollback
        status = codedeploy_gaps.get(self.rollback.rollback_deployment_id).status
        return replace(self.rollback, outcome=status if status in {"Succeeded", "Failed"} else None)


def _kit_for(scenario: Scenario, assembly: Assembly) -> Kit:
    expected = [scenario.expect, *scenario.expect_by_m_of_n.values()]
    fragments = {fragment for e in expected for fragment in (e.alarms or {})}
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
