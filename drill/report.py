"""Turns a ``DrillReport`` into the text on-call reads and the JSON tools read.

The text is a minute-by-minute table (requests, ELB 5xx, target 5xx, healthy hosts, each
replayed alarm's state) with what happened in each minute under it, then the decision and
diagnosis, onset to rollback in its parts with onset to restored and errors served, the
restore model beside AWS defaults, and the expectations; ``render_sweep`` adds one line per
metric delay of the modelled range.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from drill.outcome import SERIES, DrillReport
from drill.runner import DelaySweep

WIDTH = 100
FORMULA = (
    "restore = batches x (deregistration delay + lifecycle + health-check interval x "
    "healthy threshold); batches = 1 (AllAtOnce) | ceil(n / floor(n/2)) (HalfAtATime) | "
    "n (OneAtATime)"
)
CLOCK = (
    "Clock (stated model): ALB publishes each minute's datapoints when the minute ends; in "
    "this run they land in CloudWatch {} s later (the modelled range is {}-{} s: AWS "
    "publishes no figure). Every alarm is evaluated every wall-clock minute over the "
    "datapoints landed by then, the newest minute of its range still empty. EventBridge "
    "delivery and the function's run take no time on this clock (their measured wall time is "
    "shown per invocation)."
)
VERDICT = {True: "PASS", False: "FAIL"}
VERBS = {
    "redeployed": "CreateDeployment",
    "stopped": "StopDeployment",
    "failed": "CreateDeployment attempted (refused)",
}
# JSON key -> the DrillReport figure, in the report and in each delay's row alike.
FIGURES = {
    "onsetToRollbackSeconds": "onset_to_rollback",
    "onsetToRestoredSeconds": "onset_to_restored",
    "errorsServed": "errors_served",
    "errorsUntilEnd": "errors_until_end",
}


def _hms(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "-"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _seconds(delta: timedelta) -> str:
    total = delta.total_seconds()
    return f"{total:.0f} s" if total == int(total) else f"{total:.1f} s"


def _minutes(delta: timedelta | None) -> str:
    return "-" if delta is None else f"{delta.total_seconds() / 60:.1f} min"


def _para(indent: str, *texts: str) -> list[str]:
    """Each text wrapped as its own paragraph at ``indent``; an empty text adds nothing."""
    more = indent + "    "
    return [
        line
        for text in texts
        for line in textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=more)
    ]


def _section(title: str, *texts: str) -> list[str]:
    return ["", title, *_para("  ", *texts)]


def render(report: DrillReport, *, png: str | None = None) -> str:
    """The whole report as plain text."""
    return "\n".join(
        [
            *_header(report),
            *_timeline(report),
            *_section("Onset -> rollback start", *_onset_to_rollback(report)),
            *_section("Decision on the first ALARM event", *_decision(report)),
            *_restore(report),
            *(_section("Notes", *(f"- {n}" for n in report.notes)) if report.notes else []),
            *_expectations(report),
            *([f"PNG timeline: {png}"] if png else []),
        ]
    )


def _header(report: DrillReport) -> list[str]:
    kit, options = report.kit, report.options
    templates = (str(p.relative_to(kit.assembly.cdk_out.parent)) for p in kit.templates_read)
    width = max(len(a.label) for a in report.alarms)
    return [
        f"Drill: {report.scenario.name}",
        *_para("  ", report.scenario.description),
        *_section(
            "Read from cdk.out (nothing about the alarms, rule or function restated by hand)",
            f"templates: {', '.join(templates)}",
            f"function:  {kit.function_id}, handler {kit.handler}, code imported from "
            f"{report.source_file}",
            f"rule:      {kit.rule_id} -> EventBridge rule {report.rule_name}; pattern "
            + json.dumps(report.pattern, sort_keys=True),
            *(
                f"alarm:     {a.label:<{width}} [{'rollback' if a.rollback else 'notify  '}] "
                f"{a.describe()}"
                for a in report.alarms
            ),
        ),
        "  environment (resolved):",
        *(f"    {name}={value}" for name, value in sorted(report.environment.items())),
        "",
        *_para("", CLOCK.format(options.metric_delay_s, *options.delay_range_s)),
    ]


def _timeline(report: DrillReport) -> list[str]:
    widths = [max(len(a.label), 5) for a in report.alarms]
    lines = [
        "",
        "Timeline (UTC). '-' no datapoint; '*' modelled recovery; alarm states as of the "
        "end of each minute",
        f"{'minute':>6} "
        + " ".join(f"{heading:>{width}}" for _, heading, width in SERIES)
        + "  "
        + "  ".join(f"{a.label:<{w}}" for a, w in zip(report.alarms, widths, strict=True)),
    ]
    # What happened before the first minute, in each minute, and after the last one.
    first, count = report.rows[0].minute, len(report.rows)
    happened: list[list[str]] = [[] for _ in range(count + 2)]
    for event in report.events:
        slot = min(max((event.at - first) // timedelta(minutes=1) + 1, 0), count + 1)
        stamp = "%Y-%m-%d %H:%M:%S" if slot > count else "%H:%M:%S"
        happened[slot].append(f"{event.at.strftime(stamp)}  {event.text}")
    indent = " " * 7
    lines += _para(indent, *happened[0])
    for row, texts in zip(report.rows, happened[1:], strict=False):
        states = "  ".join(f"{s:<{w}}" for s, w in zip(row.states, widths, strict=True))
        values = (f"{_number(v):>{w}}" for v, (*_, w) in zip(row.series, SERIES, strict=True))
        lines.append(
            f"{row.minute:%H:%M}{'*' if row.modelled else ' '} {' '.join(values)}  {states}".rstrip()
        )
        lines += _para(indent, *texts)
    after = _para(indent, *happened[-1])
    return lines + (["  after the last minute:", *after] if after else [])


def _onset_to_rollback(report: DrillReport) -> list[str]:
    rollback, scenario, delay = report.rollback, report.scenario, report.options.metric_delay_s
    if rollback is None:
        return ["no rollback was started"]
    start, elapsed, period = _hms(rollback.started_at), report.onset_to_rollback, scenario.period
    closes = rollback.trigger_datapoint + timedelta(seconds=period)
    first = next(
        (i for i in report.invocations if i.at == rollback.started_at and i.attempt == 1), None
    )
    wall = f"{first.invocation.wall_seconds * 1000:.0f} ms" if first else "?"
    return [
        f"{rollback.trigger_alarm}'s first breaching datapoint is the "
        f"{rollback.trigger_datapoint:%H:%M} minute; it closes {_hms(closes)}, lands "
        f"{_hms(closes + timedelta(seconds=delay))} (metric delay {delay} s, stated); the next "
        f"minute's evaluation, EventBridge and the function at {start} (0 s on the drill's "
        f"clock from evaluation to the call; the function itself ran {wall}); "
        f"{VERBS.get(rollback.action, rollback.action)} at {start}.",
        f"onset {_hms(scenario.onset)} -> rollback start {start} = {_seconds(elapsed)} "
        f"({elapsed / timedelta(seconds=period):.1f} alarm periods of {period} s)."
        if elapsed is not None
        else "",
        _served(report),
    ]


def _served(report: DrillReport) -> str:
    errors, restored = report.errors_served, report.onset_to_restored
    if errors is None:
        return "errors served: - (the scenario has no onset)"
    until = "until they stopped by themselves"
    if report.errors_until_end:
        until = "until the scenario's last minute (not recovered; more follow)"
    elif report.recovery_from is not None:
        until = f"until recovery {report.recovery_from:%H:%M}"
    text = f"errors served (ELB 5xx from onset {until}): {errors:,.0f}."
    return text if restored is None else f"onset -> restored = {_seconds(restored)}; {text}"


def _decision(report: DrillReport) -> list[str]:
    first, rollback = report.first_invocation, report.rollback
    if first is None:
        return ["the rollback function was not invoked (no rollback alarm entered ALARM)"]
    error, result = first.invocation.error, first.invocation.result or {}
    said = f"{result.get('action')} - {result.get('reason')}"
    if error is not None:
        said = f"the function raised {type(error).__name__}: {error}"
    rolled = ""
    if rollback is not None:
        bad, target = rollback.bad_deployment_id, rollback.target_version or "?"
        rolled = (
            f"deployment {bad}: a rollback to {target} was decided but no rollback deployment "
            f"exists ({rollback.action})"
            if rollback.rollback_deployment_id is None
            else f"deployment {bad} rolled back to {target} by deployment "
            f"{rollback.rollback_deployment_id}; outcome: "
            f"{rollback.outcome or 'still running at the end of the drill'}"
        )
    failed = [i for i in report.invocations if i.invocation.error is not None]
    failures = sum(len(i.notifications) for i in failed)
    return [
        f"{report.decision}: {said}",
        rolled,
        f"{failures} failure notification(s) published: one per attempt of each rollback "
        "alarm's event (Lambda retries each failed event)"
        if failures
        else "",
        f"Diagnosis (from the SNS notification): {report.diagnosis or 'none in the notifications'}",
        f"{report.dead_letters} event(s) in the dead-letter queue after Lambda's retries; its "
        "alarm pages on-call"
        if report.dead_letters
        else "",
    ]


def _restore(report: DrillReport) -> list[str]:
    restore, rollback, recovery = report.restore, report.rollback, report.recovery_from
    inputs = restore.inputs
    lines = [
        *_section(
            "Restore (modelled, alarm_rollback_kit/timing.py)",
            FORMULA,
            f"kit (from the template): {inputs.instances} instances, "
            f"{inputs.deployment_config_name}: {restore.kit.formula}",
        ),
        *_para("    ", "read from: " + "; ".join(f"{k}: {v}" for k, v in inputs.sources.items())),
        *_para(
            "  ",
            f"AWS defaults (300 s draining, 30 s x 5 health checks, OneAtATime): "
            f"{restore.aws_defaults.formula} ({restore.ratio:.1f}x the kit)",
            f"lifecycle {restore.lifecycle_s} s per batch is a stated assumption (ApplicationStop "
            "to ValidateService for the sample app), not a measurement",
        ),
    ]
    if rollback is None or rollback.restore_end is None:
        return lines
    ends = "after the scenario's last minute"
    if recovery is not None:
        ends = (
            f"from {recovery:%H:%M} every series except RequestCount drops to its pre-onset "
            f"baseline (median of the minutes before {_hms(report.baseline_until)}); the minute "
            "in which the restore ends keeps its errors"
        )
    elif rollback.outcome == "Failed":
        ends = "the rollback fails, so the errors go on"
    return lines + _para("  ", f"restore ends {_hms(rollback.restore_end)}; {ends}")


def _expectations(report: DrillReport) -> list[str]:
    met = sum(c.passed for c in report.checks)
    return [
        "",
        "Expectations (the scenario's expect block)",
        *(
            f"  {VERDICT[c.passed]}  {c.name:<32} expected {json.dumps(c.expected):<10} got "
            f"{json.dumps(c.actual)}" + (f"  ({c.note})" if c.note else "")
            for c in report.checks
        ),
        f"Result: {VERDICT[report.passed]} ({met} of {len(report.checks)} expectations met)",
    ]


def render_sweep(
    sweep: DelaySweep,
    title: str = "Over the metric-delay range (expectations must hold at every delay)",
) -> str:
    """One line per delay: onset -> rollback, onset -> restored, errors served, verdict."""
    rows = [(f"{label} {r.options.metric_delay_s} s", r) for label, r in sweep.runs]
    return "\n".join(["", *sweep_lines(title, rows)])


def sweep_lines(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    """The sweep table of (case, run) rows for the EC2 and the API drill: a run has the
    ``FIGURES`` and ``passed`` (and, for a range, ``restored_short`` and ``errors_short``)."""
    width = max(16, *(len(case) for case, _ in rows))
    lines = [
        title,
        f"  {'case':<{width}} {'onset->rollback':>16} {'onset->restored':>16} "
        f"{'errors served':>14}  result",
    ]
    for case, run in rows:
        errors, low = run.errors_served, getattr(run, "errors_short", None)
        served = "-" if errors is None else f"{errors:,.0f}" + ("+" if run.errors_until_end else "")
        served = served if low in (None, errors) else f"{low:,.0f}-{served}"
        restored, short = _minutes(run.onset_to_restored), getattr(run, "restored_short", None)
        restored = restored if short is None else f"{short.total_seconds() / 60:.1f}-{restored}"
        lines.append(
            f"  {case:<{width}} {_minutes(run.onset_to_rollback):>16} "
            f"{restored:>16} {served:>14}  {VERDICT[run.passed]}"
        )
    lines.append("  ('+': still failing at the scenario's last minute, so more errors follow)")
    return lines


def _json(value: Any) -> Any:
    """``value`` as JSON data: datetimes in ISO 8601, durations in seconds, copied containers."""
    if isinstance(value, Mapping):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value.total_seconds() if isinstance(value, timedelta) else value


def _figures(report: DrillReport) -> dict[str, Any]:
    return {key: getattr(report, name) for key, name in FIGURES.items()}


def sweep_json(sweep: DelaySweep) -> list[dict[str, Any]]:
    delay = "metricDelaySeconds"
    return [
        _json({"case": label, delay: r.options.metric_delay_s, **_figures(r), "passed": r.passed})
        for label, r in sweep.runs
    ]


def as_json(report: DrillReport, *, png: str | None = None) -> dict[str, Any]:
    """The machine-readable report."""
    first, rollback, restore = report.first_invocation, report.rollback, report.restore
    result = (first.invocation.result or {}) if first else {}
    environment, labels = report.environment, [a.label for a in report.alarms]
    document = {
        "scenario": report.scenario.name,
        "passed": report.passed,
        "onset": report.scenario.onset,
        "alarmTime": report.alarm_time,
        "metricDelaySeconds": report.options.metric_delay_s,
        "metricDelayRangeSeconds": report.options.delay_range_s,
        "rollbackStart": rollback and rollback.started_at,
        **_figures(report),
        "decision": report.decision,
        "action": first and first.action,
        "reason": result.get("reason"),
        "ids": {
            "applicationName": environment.get("APPLICATION_NAME"),
            "deploymentGroupName": environment.get("DEPLOYMENT_GROUP_NAME"),
            "deploymentId": rollback.bad_deployment_id if rollback else result.get("deploymentId"),
            "rollbackDeploymentId": rollback and rollback.rollback_deployment_id,
            "invalidationId": result.get("invalidationId"),
            "distributionId": environment.get("DISTRIBUTION_ID") or None,
        },
        "rollback": rollback
        and {
            "targetVersion": rollback.target_version,
            "outcome": rollback.outcome,
            "restoreEnd": rollback.restore_end,
            "triggerAlarm": rollback.trigger_alarm,
            "triggerDatapoint": rollback.trigger_datapoint,
        },
        "restore": {
            "formula": FORMULA,
            "kitSeconds": restore.kit.total_s,
            "kitFormula": restore.kit.formula,
            "awsDefaultSeconds": restore.aws_defaults.total_s,
            "awsDefaultFormula": restore.aws_defaults.formula,
            "ratio": round(restore.ratio, 2),
            "instances": restore.inputs.instances,
            "deploymentConfigName": restore.inputs.deployment_config_name,
            "lifecycleSeconds": restore.lifecycle_s,
            "sources": restore.inputs.sources,
        },
        "recoveryFrom": report.recovery_from,
        "diagnosis": report.diagnosis,
        "expectations": [{**asdict(c), "note": c.note or None} for c in report.checks],
        "invocations": [
            {
                "at": i.at,
                "attempt": i.attempt,
                "alarmName": i.event.get("detail", {}).get("alarmName"),
                "action": i.action,
                "reason": (i.invocation.result or {}).get("reason"),
                "error": None if i.invocation.error is None else str(i.invocation.error),
                "awsCalls": i.invocation.aws_calls,
                "wallMilliseconds": round(i.invocation.wall_seconds * 1000, 1),
                "notifications": [n["Subject"] for n in i.notifications],
            }
            for i in report.invocations
        ],
        "alarms": [
            {
                "logicalId": a.logical_id,
                "label": a.label,
                "name": report.alarm_names[a.logical_id],
                "rollback": a.rollback,
                "definition": a.describe(),
                "transitions": [
                    {"at": t.at, "from": t.old_state, "to": t.new_state, "datapoint": t.timestamp}
                    for t in report.replays[a.logical_id].transitions
                ],
            }
            for a in report.alarms
        ],
        "timeline": [
            {
                "minute": r.minute,
                "requests": r.requests,
                "elb5xx": r.elb_5xx,
                "target5xx": r.target_5xx,
                "healthyHosts": r.healthy,
                "states": dict(zip(labels, r.states, strict=True)),
                "modelled": r.modelled,
            }
            for r in report.rows
        ],
        "events": [{"at": e.at, "kind": e.kind, "text": e.text} for e in report.events],
        "deadLetters": report.dead_letters,
        "environment": environment,
        "notes": report.notes,
        "png": png,
    }
    return dict(_json(document))
