"""What one drill run produced: its options, the report, and the checks against the scenario.

``DrillReport`` holds everything ``drill.report`` prints and ``drill.plot`` draws;
``expectations`` compares it with the scenario's ``expect`` block (or the ``expect_by_m_of_n``
block matching the synthesized rollback alarms).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, NamedTuple

from alarm_rollback_kit import timing
from drill.evaluator import Replay
from drill.function import KitInvocation
from drill.scenario import Scenario
from drill.template import Kit, RestoreInputs, WatchedAlarm

# Seconds from the end of a minute until its ALB datapoints can be seen by an alarm
# evaluation (alarm_rollback_kit/timing.py says why it is a range).
DEFAULT_DELAY_RANGE_S = timing.METRIC_DELAY_RANGE_S
# The function's action -> the decision class the scenario format speaks of.
DECISIONS = dict.fromkeys(("redeployed", "stopped", "would-redeploy", "would-stop"), "rollback")
DECISIONS["skipped"] = "skip"


@dataclass(frozen=True, kw_only=True)
class DrillOptions:
    # The delay of this run, and the range it belongs to: CloudWatch's evaluation range is
    # not tied to one run's delay, so the drill sizes it for the longest delay it models.
    metric_delay_s: int = DEFAULT_DELAY_RANGE_S[1]
    delay_range_s: tuple[int, int] = DEFAULT_DELAY_RANGE_S
    lifecycle_s: int = timing.DEFAULT_LIFECYCLE_SECONDS
    # Extra environment for the function (e.g. DRY_RUN=true); the template's otherwise.
    environment: Mapping[str, str] = field(default_factory=dict)


class Event(NamedTuple):
    """Something that happened at ``at`` (the scenario's clock); ``data`` is what the plot
    marks (a deployment's version and status)."""

    at: datetime
    kind: str
    text: str
    data: Mapping[str, Any] = {}


# A timeline row's series, in Row's order: CloudWatch metric, table heading, column width.
SERIES = (
    ("RequestCount", "requests", 10),
    ("HTTPCode_ELB_5XX_Count", "ELB 5xx", 8),
    ("HTTPCode_Target_5XX_Count", "tgt 5xx", 8),
    ("HealthyHostCount", "healthy", 7),
)


class Row(NamedTuple):
    minute: datetime
    requests: float | None
    elb_5xx: float | None
    target_5xx: float | None
    healthy: float | None
    states: tuple[str, ...]
    modelled: bool

    @property
    def series(self) -> tuple[float | None, ...]:
        return self[1:5]


@dataclass(frozen=True)
class Check:
    name: str
    expected: Any
    actual: Any
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class Restore:
    """The modelled restore for the kit's template (``inputs``, read from it) and the same
    model at AWS defaults, with ``lifecycle_s`` of lifecycle hooks per batch."""

    inputs: RestoreInputs
    lifecycle_s: int

    @cached_property
    def kit(self) -> timing.RestoreEstimate:
        return self.inputs.estimate(self.lifecycle_s)

    @cached_property
    def aws_defaults(self) -> timing.RestoreEstimate:
        return self.inputs.aws_default_estimate(self.lifecycle_s)

    @property
    def ratio(self) -> float:
        return self.aws_defaults.total_s / self.kit.total_s


@dataclass(frozen=True)
class Rollback:
    """The first rollback the function started (or tried to start)."""

    started_at: datetime
    action: str
    bad_deployment_id: str | None
    rollback_deployment_id: str | None
    target_version: str | None
    restore_end: datetime | None
    outcome: str | None  # Succeeded / Failed / None while running or never created
    trigger_alarm: str
    trigger_datapoint: datetime


@dataclass
class DrillReport:
    scenario: Scenario
    kit: Kit
    options: DrillOptions
    environment: Mapping[str, str]
    pattern: Mapping[str, Any]
    rule_name: str
    source_file: str
    alarm_names: Mapping[str, str]
    replays: Mapping[str, Replay]
    rows: list[Row]
    events: list[Event]
    invocations: list[KitInvocation]
    restore: Restore
    rollback: Rollback | None
    recovery_from: datetime | None
    baseline_until: datetime | None
    diagnosis: str | None
    checks: list[Check]
    dead_letters: int
    notes: list[str]

    @property
    def alarms(self) -> tuple[WatchedAlarm, ...]:
        return self.kit.alarms

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def first_invocation(self) -> KitInvocation | None:
        return next((i for i in self.invocations if i.attempt == 1), None)

    @property
    def decision(self) -> str | None:
        return decision_of(first) if (first := self.first_invocation) else None

    @property
    def alarm_time(self) -> datetime | None:
        """When the first rollback alarm entered ALARM (wall clock)."""
        times = [t.at for a in self.kit.rollback_alarms for t in self.replays[a.logical_id].alarms]
        return min(times, default=None)

    @property
    def onset_to_rollback(self) -> timedelta | None:
        onset = self.scenario.onset
        return None if self.rollback is None or onset is None else self.rollback.started_at - onset

    @property
    def onset_to_restored(self) -> timedelta | None:
        """Onset until the modelled restore ends (None without a successful rollback)."""
        if self.recovery_from is None or self.rollback is None or self.scenario.onset is None:
            return None
        assert self.rollback.restore_end is not None
        return self.rollback.restore_end - self.scenario.onset

    @property
    def errors_served(self) -> float | None:
        """ELB 5xx users received from onset until the first recovered minute, or else to the
        scenario's last minute (``errors_until_end`` says so); None without an onset."""
        onset = self.scenario.onset
        if onset is None:
            return None
        stop = self.recovery_from or self.scenario.end
        return float(sum(row.elb_5xx or 0.0 for row in self.rows if onset <= row.minute < stop))

    @property
    def errors_until_end(self) -> bool:
        """The last minute still serves errors and no recovery ended them: the true count is
        higher than ``errors_served``."""
        return self.recovery_from is None and bool(self.rows[-1].elb_5xx)


def decision_of(invocation: KitInvocation) -> str:
    """The decision class the scenario format speaks of: rollback, skip or failed."""
    return DECISIONS.get(invocation.action, "rollback" if invocation.refused else "failed")


def expectations(report: DrillReport) -> list[Check]:
    """Compare the run with the scenario's ``expect`` block, one check per field it sets."""
    spec = report.kit.rollback_alarms[0].spec
    expect = report.scenario.expectation_for(spec.datapoints_to_alarm, spec.evaluation_periods)
    fired = {a.logical_id: bool(report.replays[a.logical_id].alarms) for a in report.alarms}
    rollback, checks = report.rollback, []

    def check(name: str, wanted: Any, actual: Any, note: str = "", passed: Any = None) -> None:
        checks.append(
            Check(name, wanted, actual, actual == wanted if passed is None else passed, note)
        )

    fires = any(fired[a.logical_id] for a in report.kit.rollback_alarms)
    check("alarm_fires", expect.alarm_fires, fires)
    check("decision", expect.decision, report.decision)
    if expect.rollback_target is not None:
        check("rollback_target", expect.rollback_target, rollback and rollback.target_version)
    if expect.rollback_succeeds is not None:
        note = "" if rollback is None else f"rollback outcome: {rollback.outcome or 'not created'}"
        succeeded = rollback is not None and rollback.outcome == "Succeeded"
        check("rollback_succeeds", expect.rollback_succeeds, succeeded, note)
    if (limit := expect.max_minutes_onset_to_rollback) is not None:
        elapsed = report.onset_to_rollback
        minutes = None if elapsed is None else elapsed.total_seconds() / 60
        passed = minutes is not None and minutes <= limit
        check("max_minutes_onset_to_rollback", limit, minutes and round(minutes, 2), passed=passed)
    for fragment, wanted in (expect.alarms or {}).items():
        matching = [fired[lid] for lid in fired if fragment in lid]
        actual, note = (any(matching), "") if matching else (None, "no alarm matches")
        check(f"alarms.{fragment}", wanted, actual, note, passed=None if matching else False)
    return checks
