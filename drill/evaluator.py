"""Evaluate a CloudWatch metric alarm offline, period by period, as CloudWatch documents it.

moto stores alarms but never evaluates them, so the drill and the backtest replay the
kit's alarms here (read by ``drill.alarm_spec``) over per-period datapoints from a
``MetricSource``: the state after every evaluation, the transitions, and a reason text
shaped like CloudWatch's. Semantics (CloudWatch User Guide, "Using Amazon CloudWatch
alarms", sections Evaluating an alarm and How alarm state is evaluated when data is
missing, https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html):
an alarm of a minute or longer is evaluated every minute over an evaluation range of more
than N periods ending at that minute (the size is not published: N + 2 here, plus the
delay margin of ``evaluation_range_for``); with at least N real datapoints the most
recent N decide and ``TreatMissingData`` is unused, otherwise the shortfall is filled as
``TreatMissingData`` says and ``evaluate_window`` reproduces the guide's two outcome tables
row by row (including "X - - - -" under ``missing``). A datapoint counts once it has
landed, a stated delay after its period ends (AWS publishes none for ALB metrics), so the
newest minute of a range is empty and ``FILL(m, 0)`` judges a made-up value: the guide's
FILL caveat, reproduced in ``tests/drill/test_stuck_alarm.py``. Anomaly-detection alarms
and percentile low-sample handling are not modelled.
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
STATES = (OK, ALARM, INSUFFICIENT_DATA)


# A MetricSource answers a metric's datapoints: {period start (UTC): value}. A metric with no
# data answers an empty mapping.
MetricSource = Callable[[MetricRef], Mapping[datetime, float]]


# --- The state decision for one evaluation ---------------------------------------------------


@dataclass(frozen=True)
class WindowOutcome:
    """The state one evaluation sets, and which datapoints decided it.

    ``used`` are indexes (into the range, oldest first) of the real datapoints evaluated;
    ``filled`` is how many missing datapoints were filled in by TreatMissingData.
    """

    state: str
    used: tuple[int, ...]
    filled: int
    breaching: int
    retained: bool = False


def evaluate_window(
    points: Sequence[bool | None],
    *,
    evaluation_periods: int,
    datapoints_to_alarm: int,
    treat_missing_data: str,
    current_state: str,
) -> WindowOutcome:
    """Decide the alarm state from one evaluation range, oldest datapoint first.

    Each point is True (breaching), False (not breaching) or None (missing). This is the
    decision the CloudWatch User Guide's missing-data tables describe (module docstring).
    """
    n, m = evaluation_periods, datapoints_to_alarm
    real = [i for i, p in enumerate(points) if p is not None]
    if len(real) >= n:
        used = tuple(real[-n:])
        breaching = sum(1 for i in used if points[i])
        return WindowOutcome(ALARM if breaching >= m else OK, used, 0, breaching)
    used = tuple(real)
    breaching = sum(1 for i in used if points[i])
    shortfall = n - len(used)
    if treat_missing_data == "breaching":
        total = breaching + shortfall
        return WindowOutcome(ALARM if total >= m else OK, used, shortfall, total)
    if treat_missing_data == "notBreaching":
        return WindowOutcome(ALARM if breaching >= m else OK, used, shortfall, breaching)
    # missing / ignore: never invent a breach.
    if breaching >= m:
        return WindowOutcome(ALARM, used, 0, breaching)
    if any(points[i] is False for i in used):
        return WindowOutcome(OK, used, 0, breaching)
    if treat_missing_data == "ignore":
        return WindowOutcome(current_state, used, 0, breaching, retained=True)
    if used and points[0] is True:
        return WindowOutcome(ALARM, used, 0, breaching)
    return WindowOutcome(INSUFFICIENT_DATA, used, 0, breaching)


# --- Replay over time ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """The alarm after one evaluation.

    ``timestamp`` is the start of the newest period in the range and ``evaluated_at`` the
    wall-clock time of the evaluation (when that period ends, or later for a longer
    period); ``window`` holds the range's (period start, value or None), oldest first, as
    far as the datapoints had landed by then.
    """

    timestamp: datetime
    evaluated_at: datetime
    state: str
    window: tuple[tuple[datetime, float | None], ...]
    outcome: WindowOutcome
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
        state = None
        for step in self.steps:
            if step.evaluated_at > when:
                break
            state = step.state
        return state


def align(when: datetime, period: int) -> datetime:
    """The start of the period containing ``when`` (periods are aligned to the epoch)."""
    if when.tzinfo is None:
        raise ValueError(f"{when} has no time zone; use UTC")
    epoch = int(when.timestamp())
    return datetime.fromtimestamp(epoch - epoch % period, tz=UTC)


# When a datapoint becomes visible to alarm evaluation: seconds after its period ends, for
# one metric's datapoint of the period starting at the given time.
Delay = Callable[[MetricRef, datetime], float]

# CloudWatch evaluates an alarm whose period is a minute or longer every minute (CloudWatch
# User Guide, "Evaluating an alarm").
EVALUATION_INTERVAL = timedelta(minutes=1)


# How a period longer than the data's resolution is aggregated from it, per statistic.
_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "Sum": lambda values: float(sum(values)),
    "SampleCount": lambda values: float(sum(values)),
    "Minimum": min,
    "Maximum": max,
}


def evaluation_range_for(evaluation_periods: int, period: int, max_delay_s: float) -> int:
    """The evaluation range the drill assumes: N + 2, plus one period per period of delay.

    CloudWatch retrieves more datapoints than N but does not publish how many for a given
    period (the guide's example: 5 for N = 3). N + 2 is that example's margin; the extra
    periods let a datapoint that lands ``max_delay_s`` after its period still fall inside the
    range, without which a delayed metric could never be seen at all. A longer range keeps
    an alarm on a sparse count in ALARM longer after the errors stop (the guide's note on
    re-evaluating the last datapoints), which is the worse outcome for the OK transition.
    """
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
    """Evaluate ``alarm`` every wall-clock minute from ``start`` until ``end``, as CloudWatch does.

    At each evaluation time W the query range is the ``evaluation_range`` periods (default
    N + 2) whose newest period ends at W, so it reaches the current minute; a datapoint is
    in it only once it has landed: ``delay_s`` after its period ends (a number for every
    datapoint, or a ``Delay`` per metric and period). With any delay the newest minute of
    the range has no data yet, which is what the guide's FILL caveat is about. Datapoints
    before ``start`` count too if the source has them. The alarm starts in
    ``initial_state`` (a new alarm is INSUFFICIENT_DATA).

    ``source_period`` (default: the alarm's period) is the resolution of the source's
    datapoints. An alarm with a longer period reads them aggregated into periods that end
    at the evaluation minute ("at the end of minute 6, the alarm is evaluated based on
    the data from minutes 2 to 6", "Evaluating an alarm"), from the landed ones only.
    """
    if initial_state not in STATES:
        raise ValueError(f"initial_state={initial_state!r} is not one of {STATES}")
    n = alarm.evaluation_periods
    width = evaluation_range if evaluation_range is not None else n + 2
    if width < n:
        raise ValueError(f"evaluation_range={width} is shorter than EvaluationPeriods={n}")
    period = timedelta(seconds=alarm.period)
    refs = (
        {"m": alarm.metric}
        if alarm.metric is not None
        else {q.id: q.metric for q in alarm.queries if q.metric is not None}
    )
    data = {id_: source(ref) for id_, ref in refs.items()}

    resolution = timedelta(seconds=source_period or alarm.period)
    if period % resolution:
        raise AlarmDefinitionError(
            f"alarm {alarm.name}: Period {alarm.period} s is not a multiple of the data's "
            f"{resolution.total_seconds():.0f} s"
        )
    slots = period // resolution
    if slots > 1:
        for ref in refs.values():
            if ref.stat not in _AGGREGATES:
                raise AlarmDefinitionError(
                    f"alarm {alarm.name}: {ref} over {alarm.period} s from per-"
                    f"{resolution.total_seconds():.0f} s data needs one of "
                    f"{', '.join(_AGGREGATES)}"
                )

    def delay_of(ref: MetricRef, t: datetime) -> timedelta:
        return timedelta(seconds=delay_s(ref, t) if callable(delay_s) else delay_s)

    def landed(id_: str, grid: Sequence[datetime], at: datetime) -> dict[datetime, float]:
        points, ref = data[id_], refs[id_]
        out: dict[datetime, float] = {}
        for t in grid:
            parts = [
                points[s]
                for s in (t + resolution * k for k in range(slots))
                if s in points and s + resolution + delay_of(ref, s) <= at
            ]
            if parts:
                out[t] = parts[0] if slots == 1 else _AGGREGATES[ref.stat](parts)
        return out

    state = initial_state
    steps: list[Step] = []
    transitions: list[Transition] = []
    evaluated_at = align(start, int(resolution.total_seconds())) + period
    while evaluated_at - period < end:
        # Periods end at the evaluation minute; with data at the alarm's own period they
        # are the aligned periods the source holds.
        newest = evaluated_at - period if slots > 1 else align(evaluated_at - period, alarm.period)
        grid = [newest - period * (width - 1 - i) for i in range(width)]
        values = alarm.values(grid, {id_: landed(id_, grid, evaluated_at) for id_ in data})
        flags = [None if v is None else alarm.breaches(v) for v in values]
        outcome = evaluate_window(
            flags,
            evaluation_periods=n,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            treat_missing_data=alarm.treat_missing_data,
            current_state=state,
        )
        window = tuple(zip(grid, values, strict=True))
        reason = _reason(alarm, window, flags, outcome, state)
        step = Step(newest, evaluated_at, outcome.state, window, outcome, reason)
        steps.append(step)
        if outcome.state != state:
            transitions.append(
                Transition(
                    at=evaluated_at,
                    timestamp=newest,
                    old_state=state,
                    new_state=outcome.state,
                    reason=reason,
                    reason_data=_reason_data(alarm, step),
                )
            )
            state = outcome.state
        evaluated_at += EVALUATION_INTERVAL
    return Replay(alarm, tuple(steps), tuple(transitions))


# --- Reason texts ----------------------------------------------------------------------------


def _cw_time(when: datetime) -> str:
    return when.strftime("%d/%m/%y %H:%M:%S")


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
    _, words = COMPARISONS[alarm.comparison_operator]
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
    if not outcome.used:
        verb = "was" if outcome.filled == 1 else "were"
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} and "
            f"{_plural(outcome.filled, 'missing datapoint')} {verb} treated as [{kind}]."
        )
    alarming = outcome.state == ALARM
    wanted = [i for i in reversed(outcome.used) if flags[i] is alarming]
    shown = ", ".join(f"{window[i][1]!r} ({_cw_time(window[i][0])})" for i in wanted)
    count = outcome.breaching if alarming else n - outcome.breaching
    verb = "was" if count == 1 else "were"
    negation = "" if alarming else "not "
    minimum = m if alarming else n - m + 1
    old = current if current != outcome.state else ("OK" if alarming else "ALARM")
    text = (
        f"Threshold Crossed: {count} out of the last {n} datapoints [{shown}] {verb} "
        f"{negation}{words} the threshold ({alarm.threshold!r}) "
        f"(minimum {_plural(minimum, 'datapoint')} for {old} -> {outcome.state} transition)."
    )
    if outcome.filled:
        text += f" {_plural(outcome.filled, 'missing datapoint')} treated as [{kind}]."
    return text


def _reason_data(alarm: AlarmSpec, step: Step) -> dict[str, Any]:
    used = [step.window[i] for i in step.outcome.used]
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": event_timestamp(step.evaluated_at),
        "startDate": event_timestamp(step.window[0][0]),
        "period": alarm.period,
        "recentDatapoints": [v for _, v in used],
        "threshold": alarm.threshold,
        "evaluatedDatapoints": [
            {"timestamp": event_timestamp(t), "value": v} for t, v in reversed(used)
        ],
    }
    if alarm.statistic is not None:
        data["statistic"] = alarm.statistic
    return data
