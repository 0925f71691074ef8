"""Draws a drill's timeline as a PNG: traffic, ELB vs target 5xx, alarm states, markers.

Three panels share the time axis (UTC, one bar per minute): requests per minute; ELB 5xx
and target 5xx per minute, with modelled-recovery minutes hatched; and one band per
replayed alarm coloured by state. Vertical lines mark the deployments, the onset, the
rollback start and the modelled end of the restore. matplotlib runs on the Agg backend
(no display needed) and is imported only when a PNG is asked for.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from drill.evaluator import ALARM, INSUFFICIENT_DATA, OK
from drill.outcome import DrillReport

STATE_COLOURS = {OK: "#4caf50", ALARM: "#d32f2f", INSUFFICIENT_DATA: "#9e9e9e"}
RECOVERY_COLOUR = "#c8e6c9"
MINUTE = timedelta(minutes=1)
DAY_MINUTE = 1 / 24 / 60  # one minute, in matplotlib's day units


def write_png(report: DrillReport, path: Path) -> Path:
    """Draw ``report`` to ``path`` (parent directories are created)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = report.rows
    minutes = [r.minute for r in rows]
    middles = [m + timedelta(seconds=30) for m in minutes]
    figure, (traffic, errors, states) = plt.subplots(
        3,
        1,
        figsize=(12, 7.5),
        sharex=True,
        gridspec_kw={"height_ratios": [2, 3, 0.5 + 0.45 * len(report.alarms)]},
    )
    elapsed = report.onset_to_rollback
    took = "" if elapsed is None else f" - onset to rollback start {elapsed.total_seconds():.0f} s"
    met = "met" if report.passed else "NOT met"
    title = f"Drill: {report.scenario.name}{took}  (expectations {met})"
    figure.suptitle(title, fontsize=13, fontweight="bold")

    requests = [r.requests or 0.0 for r in rows]
    traffic.plot(middles, requests, color="#1565c0", marker=".", linewidth=1.5)
    traffic.set_ylabel("requests / min")
    traffic.set_ylim(bottom=0)
    traffic.grid(alpha=0.3)
    if any(r.healthy is not None for r in rows):
        healthy, hosts = [r.healthy or 0.0 for r in rows], traffic.twinx()
        hosts.step(middles, healthy, where="mid", color="#6d4c41", linewidth=1.2, alpha=0.8)
        hosts.set_ylabel("healthy hosts", color="#6d4c41")
        hosts.set_ylim(0, max(healthy) * 1.25 + 1)
        hosts.tick_params(axis="y", colors="#6d4c41")

    elb = [r.elb_5xx or 0.0 for r in rows]
    errors.bar(minutes, elb, width=DAY_MINUTE * 0.9, align="edge", color="#d32f2f", label="ELB 5xx")
    # A line, not bars, so that the 502 signature "target 5xx = 0" stays visible.
    target = [r.target_5xx or 0.0 for r in rows]
    errors.plot(middles, target, "o-", color="#ff9800", markersize=3, lw=1.5, label="target 5xx")
    for row in rows:
        if row.modelled:
            errors.axvspan(row.minute, row.minute + MINUTE, color=RECOVERY_COLOUR, alpha=0.5, lw=0)
    errors.set_ylabel("5xx / min")
    errors.set_ylim(bottom=0)
    errors.grid(alpha=0.3)

    _alarm_bands(report, states)
    _markers(report, (traffic, errors, states))

    handles = errors.get_legend_handles_labels()[0]
    if report.recovery_from is not None:
        handles.append(Patch(color=RECOVERY_COLOUR, label="modelled recovery (baseline)"))
    errors.legend(handles=handles, loc="upper left", fontsize=8, ncol=2)
    if marks := traffic.get_legend_handles_labels()[0]:
        figure.legend(
            handles=marks,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.95),
            ncol=min(len(marks), 6),
            fontsize=8,
            frameon=False,
        )

    # matplotlib.dates ships without type hints.
    states.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))  # type: ignore[no-untyped-call]
    states.xaxis.set_major_locator(
        mdates.MinuteLocator(byminute=range(0, 60, 5))  # type: ignore[no-untyped-call]
    )
    states.xaxis.set_minor_locator(mdates.MinuteLocator())  # type: ignore[no-untyped-call]
    delay = report.options.metric_delay_s
    states.set_xlabel(f"UTC (alarm states on the wall clock; metric delay {delay} s)")
    states.set_xlim(minutes[0], minutes[-1] + MINUTE)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _alarm_bands(report: DrillReport, axis: Any) -> None:
    """One lane per alarm, coloured by its state over the rows' minutes."""
    start, end = report.rows[0].minute, report.rows[-1].minute + MINUTE
    for lane, alarm in enumerate(report.alarms):
        transitions = report.replays[alarm.logical_id].transitions
        changes = [(max(t.at, start), t.new_state) for t in transitions if t.at < end]
        for (begin, state), (until, _) in pairwise([(start, OK), *changes, (end, OK)]):
            if until > begin:
                colour = STATE_COLOURS[state]
                axis.broken_barh([(begin, until - begin)], (lane - 0.35, 0.7), facecolors=colour)
    labels = [f"{a.label}{'' if a.rollback else ' (notify)'}" for a in report.alarms]
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set_ylim(-0.6, len(labels) - 0.4)
    axis.invert_yaxis()
    axis.set_ylabel("alarms")


def _markers(report: DrillReport, axes: tuple[Any, ...]) -> None:
    marks: list[tuple[datetime, str, str, str]] = [
        (e.at, "#1565c0", "--", f"{e.data['version']} {e.data['status']}")
        if "status" in e.data
        else (e.at, "#90caf9", "--", f"{e.data['version']} deployment starts")
        for e in report.events
        if e.kind == "deployment"
    ]
    if report.scenario.onset is not None:
        marks.append((report.scenario.onset, "black", ":", "onset"))
    if (rollback := report.rollback) is not None:
        if rollback.action == "failed":
            marks.append((rollback.started_at, "#b71c1c", "-", "rollback attempt (refused)"))
        else:
            marks.append((rollback.started_at, "#2e7d32", "-", "rollback start"))
        if rollback.restore_end is not None and rollback.outcome != "Failed":
            marks.append((rollback.restore_end, "#2e7d32", "--", "restore end (modelled)"))
    if dead := next((e.at for e in report.events if e.kind == "dlq"), None):
        marks.append((dead, "#b71c1c", "-.", "retries exhausted: event to the DLQ"))
    first, last = report.rows[0].minute, report.rows[-1].minute + MINUTE
    for moment, colour, style, label in marks:
        if first <= moment <= last:
            for axis, shown in zip(axes, (label, None, None), strict=True):
                axis.axvline(moment, color=colour, linestyle=style, linewidth=1.4, label=shown)
