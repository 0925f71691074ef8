"""Evaluate a CloudWatch metric alarm offline, minute by minute, as CloudWatch documents it.

moto stores alarms but never evaluates them, so the drill and the backtest replay the kit's
alarms (``drill.alarm_spec``) here: the state after every evaluation, the transitions and
CloudWatch-like reason texts. Every minute, over an evaluation range of more than N periods,
M of the N most recent real datapoints breaching is ALARM and a shortfall is treated as
``TreatMissingData`` says; a datapoint counts once it has landed, a stated delay after its
period (CloudWatch User Guide, "Using Amazon CloudWatch alarms", each rule cited in
docs/aws-behaviours.md). Anomaly detection and percentile low-sample handling are not modelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from drill.alarm_spec import COMPARISONS, AlarmDefinitionError, AlarmSpec, MetricRef

OK = "OK"
ALARM = "ALARM"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

# A metric's datapoints, {period start (UTC): value}; empty for a metric with no data.
MetricSource = Callable[[MetricRef], Mapping[datetime, float]]
# Seconds after its period ends that one metric's datapoint becomes visible to alarms.
Delay = Callable[[MetricRef, datetime], float]
# "For any period of one minute or longer, an alarm is evaluated every minute".
EVALUATION_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class WindowOutcome:
    """The state one evaluation sets: ``used`` indexes the real datapoints judged (oldest
    first), ``filled`` counts the missing ones TreatMissingData filled in."""

    state: str
    used: tuple[int, ...]
    filled: int
    breaching: int
    retained: bool = False


def evaluate_window(
    points: Sequence[bool | None],
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing_data: str,
    current_state: str,
) -> WindowOutcome:
    """The state from one evaluation range, oldest first: True breaching, None missing."""
    n, m = evaluation_periods, datapoints_to_alarm
    used = tuple([i for i, p in enumerate(points) if p is not None][-n:])
    breaching = sum(1 for i in used if points[i])
    shortfall = n - len(used)
    if treat_missing_data == "breaching":
        breaching += shortfall
    if not shortfall or treat_missing_data in ("breaching", "notBreaching"):
        return WindowOutcome(ALARM if breaching >= m else OK, used, shortfall, breaching)
    # missing / ignore: never invent a breach.
    if breaching >= m:
        state = ALARM
    elif any(points[i] is False for i in used):
        state = OK
    elif treat_missing_data == "ignore":
        return WindowOutcome(current_state, used, 0, breaching, retained=True)
    else:  # row "X - - - -": the oldest datapoint of the range breaches
        state = ALARM if points[0] else INSUFFICIENT_DATA
    return WindowOutcome(state, used, 0, breaching)


@dataclass(frozen=True)
class Step:
    """The alarm after one evaluation at ``evaluated_at``: ``timestamp`` starts the range's
    newest period, ``window`` holds its (period start, value or None) as landed by then."""

    timestamp: datetime
    evaluated_at: datetime
    state: str
    window: tuple[tuple[datetime, float | None], ...]
    reason: str

    @property
    def value(self) -> float | None:
        """The newest datapoint of the range (None if missing)."""
        return self.window[-1][1]


@dataclass(frozen=True)
class Transition:
    """A state change, with CloudWatch-style ``reason`` and ``reason_data``."""

    at: datetime
    timestamp: datetime
    old_state: str
    new_state: str
    reason: str
    reason_data: dict[str, Any]


@dataclass(frozen=True)
class Replay:
    alarm: AlarmSpec
    steps: tuple[Step, ...]
    transitions: tuple[Transition, ...]

    @property
    def alarms(self) -> list[Transition]:
        """Transitions into ALARM: each one is an EventBridge event, a page, a rollback."""
        return [t for t in self.transitions if t.new_state == ALARM]

    @property
    def first_alarm(self) -> Transition | None:
        return next(iter(self.alarms), None)

    def state_at(self, when: datetime) -> str | None:
        """The state in force at ``when`` (None before the first evaluation)."""
        states = [step.state for step in self.steps if step.evaluated_at <= when]
        return states[-1] if states else None


def align(when: datetime, period: int) -> datetime:
    """The start of the period containing ``when`` (periods are aligned to the epoch)."""
    epoch = int(when.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)


def evaluation_range_for(evaluation_periods: int, period: int, max_delay_s: float) -> int:
    """N + 2 (the guide's example: 5 datapoints for N = 3), plus a period per period of delay
    so a late datapoint stays in range; the longer range is the worse case for leaving ALARM."""
    return evaluation_periods + 2 + math.ceil(max_delay_s / period)


def replay(
    alarm: AlarmSpec,
    source: MetricSource,
    *,
    start: datetime,
    end: datetime,
    initial_state: str = INSUFFICIENT_DATA,
    evaluation_range: int | None = None,
    delay_s: float | Delay = 0.0,
    source_period: int | None = None,
) -> Replay:
    """Evaluate ``alarm`` every minute from ``start`` until ``end`` over ``evaluation_range``
    periods (default N + 2), a datapoint once landed ``delay_s`` after its period.

    A longer alarm period than ``source_period`` sums the data landed in the period ending at
    the minute ("at the end of minute 6, ... the data from minutes 2 to 6").
    """
    resolution = source_period or alarm.period
    landed = _landed(alarm, source, resolution, delay_s)
    period = timedelta(seconds=alarm.period)
    width = evaluation_range or alarm.evaluation_periods + 2
    n, m, treat = alarm.evaluation_periods, alarm.datapoints_to_alarm, alarm.treat_missing_data
    state = initial_state
    steps: list[Step] = []
    transitions: list[Transition] = []
    evaluated_at = align(start, resolution) + period
    while evaluated_at - period < end:
        newest = align(evaluated_at - period, resolution)
        grid = [newest - period * i for i in reversed(range(width))]
        values = alarm.values(grid, landed(grid, evaluated_at))
        flags = [None if v is None else alarm.breaches(v) for v in values]
        outcome = evaluate_window(flags, n, m, treat, state)
        window = tuple(zip(grid, values, strict=True))
        reason = _reason(alarm, window, flags, outcome, state)
        steps.append(Step(newest, evaluated_at, outcome.state, window, reason))
        if outcome.state != state:
            data = _reason_data(alarm, steps[-1], outcome.used)
            transitions.append(Transition(evaluated_at, newest, state, outcome.state, reason, data))
            state = outcome.state
        evaluated_at += EVALUATION_INTERVAL
    return Replay(alarm, tuple(steps), tuple(transitions))


def _landed(
    alarm: AlarmSpec, source: MetricSource, resolution: int, delay_s: float | Delay
) -> Callable[[Sequence[datetime], datetime], dict[str, dict[datetime, float]]]:
    """Each query's datapoints on a grid of alarm periods as landed by a given time."""
    slots, uneven = divmod(alarm.period, resolution)
    refs = {q.id: q.metric for q in alarm.queries if q.metric is not None}
    refs = refs or {"m": alarm.metric_refs()[0]}
    # A longer period is summed from its data: the kit's one (5 minutes) reads only Sums.
    unsummed = [ref for ref in refs.values() if slots > 1 and ref.stat != "Sum"]
    if uneven or unsummed:
        raise AlarmDefinitionError(
            f"alarm period {alarm.period} s is not a multiple of the metrics file's {resolution} s"
            if uneven
            else f"alarm {alarm.name}: {unsummed[0]} over {alarm.period} s from per-"
            f"{resolution} s data needs Sum"
        )
    data = {id_: (ref, source(ref)) for id_, ref in refs.items()}
    delay = delay_s if callable(delay_s) else lambda _ref, _t: delay_s
    step = timedelta(seconds=resolution)

    def value(
        ref: MetricRef, points: Mapping[datetime, float], t: datetime, at: datetime
    ) -> float | None:
        parts = [
            points[s]
            for s in (t + step * k for k in range(slots))
            if s in points and s + step + timedelta(seconds=delay(ref, s)) <= at
        ]
        return sum(parts) if parts else None

    return lambda grid, at: {
        id_: {t: v for t in grid if (v := value(ref, points, t, at)) is not None}
        for id_, (ref, points) in data.items()
    }


def event_timestamp(when: datetime) -> str:
    """A time as CloudWatch writes it in alarm events and their reason data."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _reason(
    alarm: AlarmSpec,
    window: Sequence[tuple[datetime, float | None]],
    flags: Sequence[bool | None],
    outcome: WindowOutcome,
    current: str,
) -> str:
    n, m = alarm.evaluation_periods, alarm.datapoints_to_alarm
    real = len(outcome.used)
    if outcome.state == INSUFFICIENT_DATA:
        return (
            f"Insufficient Data: {real} out of the last {n} datapoints were received "
            f"(TreatMissingData {alarm.treat_missing_data})."
        )
    if outcome.retained:
        return (
            f"Unchanged: only {real} out of the last {n} datapoints were received and "
            "TreatMissingData ignore keeps the current state."
        )
    kind = "Breaching" if alarm.treat_missing_data == "breaching" else "NonBreaching"
    missing = _plural(outcome.filled, "missing datapoint")
    if not real:
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{missing} {'was' if outcome.filled == 1 else 'were'} treated as [{kind}]."
        )
    alarming = outcome.state == ALARM
    shown = ", ".join(
        f"{window[i][1]!r} ({window[i][0]:%d/%m/%y %H:%M:%S})"
        for i in reversed(outcome.used)
        if flags[i] is alarming
    )
    count = outcome.breaching if alarming else n - outcome.breaching
    old = current if current != outcome.state else ("OK" if alarming else "ALARM")
    text = (
        f"Threshold Crossed: {count} out of the last {n} datapoints [{shown}] "
        f"{'was' if count == 1 else 'were'} {'' if alarming else 'not '}"
        f"{COMPARISONS[alarm.comparison_operator][1]} the threshold ({alarm.threshold!r}) "
        f"(minimum {_plural(m if alarming else n - m + 1, 'datapoint')} for {old} -> "
        f"{outcome.state} transition)."
    )
    return f"{text} {missing} treated as [{kind}]." if outcome.filled else text


def _reason_data(alarm: AlarmSpec, step: Step, indexes: Sequence[int]) -> dict[str, Any]:
    used = [step.window[i] for i in indexes]
    return {
        "version": "1.0",
        "queryDate": event_timestamp(step.evaluated_at),
        "startDate": event_timestamp(step.window[0][0]),
        "period": alarm.period,
        "recentDatapoints": [v for _, v in used],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": [
            {"timestamp": event_timestamp(t), "value": v} for t, v in reversed(used)
        ],
        **({"statistic": alarm.statistic} if alarm.statistic is not None else {}),
    }
