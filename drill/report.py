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
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from drill.outcome import DrillReport, decision_of
from drill.runner import DelaySweep

WIDTH = 100
FORMULA = (
    "restore = batches x (deregistration delay + lifecycle + health-check interval x "
    "healthy threshold); batches = 1 (AllAtOnce) | ceil(n / floor(n/2)) (HalfAtATime) | "
    "n (OneAtATime)"
)


def _hms(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "-"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "    ") or [
        indent
    ]


def _para(indent: str, *texts: str) -> list[str]:
    """Each text wrapped as its own paragraph at ``indent``."""
    return [line for text in texts for line in _wrap(text, indent)]


def _seconds(delta: timedelta) -> str:
    total = delta.total_seconds()
    return f"{total:.0f} s" if total == int(total) else f"{total:.1f} s"


def render(report: DrillReport, *, png: str | None = None) -> str:
    """The whole report as plain text."""
    lines: list[str] = []
    lines += _header(report)
    lines += _timeline(report)
    lines += _onset_to_rollback(report)
    lines += _decision(report)
    lines += _restore(report)
    if report.notes:
        lines.append("")
        lines.append("Notes")
        for note in report.notes:
            lines += _wrap(f"- {note}", "  ")
    lines += _expectations(report)
    if png:
        lines.append(f"PNG timeline: {png}")
    return "\n".join(lines)


def _header(report: DrillReport) -> list[str]:
    scenario, kit = report.scenario, report.kit
    cdk_out = kit.assembly.cdk_out
    lines = [f"Drill: {scenario.name}"]
    lines += _wrap(scenario.description, "  ")
    lines += ["", "Read from cdk.out (nothing about the alarms, rule or function restated by hand)"]
    templates = ", ".join(str(p.relative_to(cdk_out.parent)) for p in kit.templates_read)
    width = max(len(a.label) for a in report.alarms)
    lines += _para(
        "  ",
        f"templates: {templates}",
        f"function:  {kit.function_id}, handler {kit.handler}, code imported from "
        f"{report.source_file}",
        f"rule:      {kit.rule_id} -> EventBridge rule {report.rule_name}; pattern "
        + json.dumps(report.pattern, sort_keys=True),
        *(
            f"alarm:     {a.label:<{width}} [{'rollback' if a.rollback else 'notify  '}] "
            f"{a.describe()}"
            for a in report.alarms
        ),
    )
    lines.append("  environment (resolved):")
    for name, value in sorted(report.environment.items()):
        lines.append(f"    {name}={value}")
    delay = report.options.metric_delay_s
    low, high = report.options.delay_range_s
    lines.append("")
    lines += _wrap(
        f"Clock (stated model): ALB publishes each minute's datapoints when the minute ends; "
        f"in this run they land in CloudWatch {delay} s later (the modelled range is "
        f"{low}-{high} s: AWS publishes no figure). Every alarm is evaluated every wall-clock "
        "minute over the datapoints landed by then, the newest minute of its range still "
        "empty. EventBridge delivery and the function's run take no time on this clock "
        "(their measured wall time is shown per invocation).",
        "",
    )
    return lines


def _timeline(report: DrillReport) -> list[str]:
    widths = [(a.label, max(len(a.label), 5)) for a in report.alarms]
    lines = [
        "",
        "Timeline (UTC). '-' no datapoint; '*' modelled recovery; alarm states as of the "
        "end of each minute",
        f"{'minute':>6} {'requests':>10} {'ELB 5xx':>8} {'tgt 5xx':>8} {'healthy':>7}  "
        + "  ".join(f"{label:<{width}}" for label, width in widths),
    ]
    if not report.rows:
        return lines

    def happened(
        start: datetime | None, end: datetime | None, stamp: str = "%H:%M:%S"
    ) -> list[str]:
        return _para(
            "       ",
            *(
                f"{e.at.strftime(stamp)}  {e.text}"
                for e in report.events
                if (start is None or start <= e.at) and (end is None or e.at < end)
            ),
        )

    lines += happened(None, report.rows[0].minute)
    for row in report.rows:
        states = "  ".join(
            f"{state:<{width}}" for state, (_, width) in zip(row.states, widths, strict=True)
        )
        lines.append(
            f"{row.minute:%H:%M}{'*' if row.modelled else ' '} {_number(row.requests):>10} "
            f"{_number(row.elb_5xx):>8} {_number(row.target_5xx):>8} {_number(row.healthy):>7}  "
            f"{states}".rstrip()
        )
        lines += happened(row.minute, row.minute + timedelta(minutes=1))
    after = happened(report.rows[-1].minute + timedelta(minutes=1), None, "%Y-%m-%d %H:%M:%S")
    return lines + (["  after the last minute:", *after] if after else [])


def _onset_to_rollback(report: DrillReport) -> list[str]:
    lines = ["", "Onset -> rollback start"]
    rollback = report.rollback
    scenario = report.scenario
    if rollback is None:
        lines.append("  no rollback was started")
        return lines
    period = timedelta(seconds=scenario.period)
    closes = rollback.trigger_datapoint + period
    lands = closes + report.metric_delay
    first = next(
        (i for i in report.invocations if i.at == rollback.started_at and i.attempt == 1), None
    )
    wall = f"{first.invocation.wall_seconds * 1000:.0f} ms" if first else "?"
    verb = {
        "redeployed": "CreateDeployment",
        "stopped": "StopDeployment",
        "failed": "CreateDeployment attempted (refused)",
    }.get(rollback.action, rollback.action)
    parts = [
        f"{rollback.trigger_alarm}'s first breaching datapoint is the {rollback.trigger_datapoint:%H:%M} "
        f"minute; it closes {_hms(closes)}, lands {_hms(lands)} (metric delay "
        f"{report.options.metric_delay_s} s, stated); the next minute's evaluation, "
        f"EventBridge and the function at {_hms(rollback.started_at)} (0 s on the drill's "
        "clock from evaluation to the call; the function itself ran "
        f"{wall}); {verb} at {_hms(rollback.started_at)}."
    ]
    elapsed = report.onset_to_rollback
    if elapsed is not None and scenario.onset is not None:
        periods = elapsed / period
        parts.append(
            f"onset {_hms(scenario.onset)} -> rollback start {_hms(rollback.started_at)} = "
            f"{_seconds(elapsed)} ({periods:.1f} alarm periods of {scenario.period} s)."
        )
    return lines + _para("  ", *parts, _served(report))


def _served(report: DrillReport) -> str:
    restored = report.onset_to_restored
    errors = report.errors_served
    if errors is None:
        return "errors served: - (the scenario has no onset)"
    if report.errors_until_end:
        until = "until the scenario's last minute (not recovered; more follow)"
    elif report.recovery_from is not None:
        until = f"until recovery {report.recovery_from:%H:%M}"
    else:
        until = "until they stopped by themselves"
    text = f"errors served (ELB 5xx from onset {until}): {errors:,.0f}"
    if restored is not None:
        text = f"onset -> restored = {_seconds(restored)}; " + text
    return text + "."


def _minutes(delta: timedelta | None) -> str:
    return "-" if delta is None else f"{delta.total_seconds() / 60:.1f} min"


def render_sweep(
    sweep: DelaySweep,
    title: str = "Over the metric-delay range (expectations must hold at every delay)",
) -> str:
    """One line per delay: onset -> rollback, onset -> restored, errors served, verdict."""
    rows = [(f"{label} {r.options.metric_delay_s} s", r) for label, r in sweep.runs]
    return "\n".join(["", *sweep_lines(title, rows)])


def sweep_lines(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    """The sweep table of (case, run) rows, a run having ``onset_to_rollback``,
    ``onset_to_restored``, ``errors_served``, ``errors_until_end`` and ``passed`` (and, for a
    range, ``restored_short`` and ``errors_short``): the EC2 and the API drill print it."""
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
            f"{restored:>16} {served:>14}  {'PASS' if run.passed else 'FAIL'}"
        )
    lines.append("  ('+': still failing at the scenario's last minute, so more errors follow)")
    return lines


def sweep_json(sweep: DelaySweep) -> list[dict[str, Any]]:
    return [
        {
            "case": label,
            "metricDelaySeconds": report.options.metric_delay_s,
            "onsetToRollbackSeconds": _total(report.onset_to_rollback),
            "onsetToRestoredSeconds": _total(report.onset_to_restored),
            "errorsServed": report.errors_served,
            "errorsUntilEnd": report.errors_until_end,
            "passed": report.passed,
        }
        for label, report in sweep.runs
    ]


def _total(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _decision(report: DrillReport) -> list[str]:
    lines = ["", "Decision on the first ALARM event"]
    first = report.first_invocation
    if first is None:
        lines.append("  the rollback function was not invoked (no rollback alarm entered ALARM)")
        return lines
    error, result = first.invocation.error, first.invocation.result or {}
    texts = [
        f"{decision_of(first)}: "
        + (
            f"the function raised {type(error).__name__}: {error}"
            if error is not None
            else f"{result.get('action')} - {result.get('reason')}"
        )
    ]
    rollback = report.rollback
    if rollback is not None and rollback.rollback_deployment_id is not None:
        texts.append(
            f"deployment {rollback.bad_deployment_id} rolled back to "
            f"{rollback.target_version or '?'} by deployment {rollback.rollback_deployment_id}; "
            f"outcome: {rollback.outcome or 'still running at the end of the drill'}"
        )
    elif rollback is not None:
        texts.append(
            f"deployment {rollback.bad_deployment_id}: a rollback to "
            f"{rollback.target_version or '?'} was decided but no rollback deployment exists "
            f"({rollback.action})"
        )
    failures = sum(
        len(r.notifications) for r in report.invocations if r.invocation.error is not None
    )
    if failures:
        texts.append(
            f"{failures} failure notification(s) published: one per attempt of each "
            "rollback alarm's event (Lambda retries each failed event)"
        )
    texts.append(
        "Diagnosis (from the SNS notification): "
        + (report.diagnosis or "none in the notifications")
    )
    if report.dead_letters:
        texts.append(
            f"{report.dead_letters} event(s) in the dead-letter queue after Lambda's retries; "
            "its alarm pages on-call"
        )
    return lines + _para("  ", *texts)


def _restore(report: DrillReport) -> list[str]:
    restore = report.restore
    lines = ["", "Restore (modelled, alarm_rollback_kit/timing.py)"]
    sources = "; ".join(f"{k}: {v}" for k, v in restore.inputs.sources.items())
    lines += _para(
        "  ",
        FORMULA,
        f"kit (from the template): {restore.inputs.instances} instances, "
        f"{restore.inputs.deployment_config_name}: {restore.kit.formula}",
    )
    lines += _wrap(f"read from: {sources}", "    ")
    lines += _para(
        "  ",
        f"AWS defaults (300 s draining, 30 s x 5 health checks, OneAtATime): "
        f"{restore.aws_defaults.formula} ({restore.ratio:.1f}x the kit)",
        f"lifecycle {restore.lifecycle_s} s per batch is a stated assumption (ApplicationStop "
        "to ValidateService for the sample app), not a measurement",
    )
    rollback = report.rollback
    if rollback is None or rollback.restore_end is None:
        return lines
    if report.recovery_from is not None:
        ends = (
            f"from {report.recovery_from:%H:%M} every series except RequestCount drops to its "
            f"pre-onset baseline (median of the minutes before {_hms(report.baseline_until)}); "
            "the minute in which the restore ends keeps its errors"
        )
    elif rollback.outcome == "Failed":
        ends = "the rollback fails, so the errors go on"
    else:
        ends = "after the scenario's last minute"
    return lines + _wrap(f"restore ends {_hms(rollback.restore_end)}; {ends}", "  ")


def _expectations(report: DrillReport) -> list[str]:
    lines = ["", "Expectations (the scenario's expect block)"]
    for check in report.checks:
        verdict = "PASS" if check.passed else "FAIL"
        note = f"  ({check.note})" if check.note else ""
        lines.append(
            f"  {verdict}  {check.name:<32} expected {json.dumps(check.expected):<10} "
            f"got {json.dumps(check.actual)}{note}"
        )
    met = sum(c.passed for c in report.checks)
    verdict = "PASS" if report.passed else "FAIL"
    lines.append(f"Result: {verdict} ({met} of {len(report.checks)} expectations met)")
    return lines


def as_json(report: DrillReport, *, png: str | None = None) -> dict[str, Any]:
    """The machine-readable report."""
    first = report.first_invocation
    result = (first.invocation.result or {}) if first else {}
    rollback = report.rollback
    elapsed = report.onset_to_rollback
    restore = report.restore
    return {
        "scenario": report.scenario.name,
        "passed": report.passed,
        "onset": _iso(report.scenario.onset),
        "alarmTime": _iso(report.alarm_time),
        "metricDelaySeconds": report.options.metric_delay_s,
        "metricDelayRangeSeconds": list(report.options.delay_range_s),
        "rollbackStart": _iso(rollback.started_at if rollback else None),
        "onsetToRollbackSeconds": _total(elapsed),
        "onsetToRestoredSeconds": _total(report.onset_to_restored),
        "errorsServed": report.errors_served,
        "errorsUntilEnd": report.errors_until_end,
        "decision": report.decision,
        "action": first.action if first else None,
        "reason": result.get("reason"),
        "ids": {
            "applicationName": report.environment.get("APPLICATION_NAME"),
            "deploymentGroupName": report.environment.get("DEPLOYMENT_GROUP_NAME"),
            "deploymentId": rollback.bad_deployment_id if rollback else result.get("deploymentId"),
            "rollbackDeploymentId": rollback.rollback_deployment_id if rollback else None,
            "invalidationId": result.get("invalidationId"),
            "distributionId": report.environment.get("DISTRIBUTION_ID") or None,
        },
        "rollback": None
        if rollback is None
        else {
            "targetVersion": rollback.target_version,
            "outcome": rollback.outcome,
            "restoreEnd": _iso(rollback.restore_end),
            "triggerAlarm": rollback.trigger_alarm,
            "triggerDatapoint": _iso(rollback.trigger_datapoint),
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
            "sources": dict(restore.inputs.sources),
        },
        "recoveryFrom": _iso(report.recovery_from),
        "diagnosis": report.diagnosis,
        "expectations": [{**asdict(c), "note": c.note or None} for c in report.checks],
        "invocations": [
            {
                "at": _iso(i.at),
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
                    {
                        "at": _iso(t.at),
                        "from": t.old_state,
                        "to": t.new_state,
                        "datapoint": _iso(t.timestamp),
                    }
                    for t in report.replays[a.logical_id].transitions
                ],
            }
            for a in report.alarms
        ],
        "timeline": [
            {
                "minute": _iso(r.minute),
                "requests": r.requests,
                "elb5xx": r.elb_5xx,
                "target5xx": r.target_5xx,
                "healthyHosts": r.healthy,
                "states": dict(zip((a.label for a in report.alarms), r.states, strict=True)),
                "modelled": r.modelled,
            }
            for r in report.rows
        ],
        "events": [{"at": _iso(e.at), "kind": e.kind, "text": e.text} for e in report.events],
        "deadLetters": report.dead_letters,
        "environment": dict(report.environment),
        "notes": list(report.notes),
        "png": png,
    }
