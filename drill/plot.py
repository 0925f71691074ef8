"""Draws a drill's timeline as a PNG: traffic, ELB vs target 5xx, alarm states, markers.

Three panels share the time axis (UTC, one bar per minute): requests per minute; ELB 5xx
and target 5xx per minute, with modelled-recovery minutes hatched; and one band per
replayed alarm coloured by state. Vertical lines mark the deployments, the onset, the
rollback start and the modelled end of the restore. matplotlib runs on the Agg backend
(no display needed) and is imported only when a PNG is asked for.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from drill.evaluator import ALARM, INSUFFICIENT_DATA, OK
from drill.outcome import DrillReport

STATE_COLOURS = {OK: "#4caf50", ALARM: "#d32f2f", INSUFFICIENT_DATA: "#9e9e9e"}
ELB_COLOUR = "#d32f2f"
TARGET_COLOUR = "#ff9800"


def _values(values: list[float | None]) -> list[float]:
    return [v if v is not None else 0.0 for v in values]


def write_png(report: DrillReport, path: Path) -> Path:
    """Draw ``report`` to ``path`` (parent directories are created)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = report.rows
    minutes = [r.minute for r in rows]
    width = 1 / 24 / 60  # one minute, in matplotlib's day units
    figure, (traffic, errors, states) = plt.subplots(
        3,
        1,
        figsize=(12, 7.5),
        sharex=True,
        gridspec_kw={"height_ratios": [2, 3, 0.5 + 0.45 * len(report.alarms)]},
    )
    elapsed = report.onset_to_rollback
    title = f"Drill: {report.scenario.name}"
    if elapsed is not None:
        title += f" - onset to rollback start {elapsed.total_seconds():.0f} s"
    title += "  (expectations met)" if report.passed else "  (expectations NOT met)"
    figure.suptitle(title, fontsize=13, fontweight="bold")

    traffic.plot(
        [m + timedelta(seconds=30) for m in minutes],
        _values([r.requests for r in rows]),
        color="#1565c0",
        marker=".",
        linewidth=1.5,
    )
    traffic.set_ylabel("requests / min")
    traffic.set_ylim(bottom=0)
    traffic.grid(alpha=0.3)
    healthy = [r.healthy for r in rows]
    if any(h is not None for h in healthy):
        hosts = traffic.twinx()
        hosts.step(
            [m + timedelta(seconds=30) for m in minutes],
            _values(healthy),
            where="mid",
            color="#6d4c41",
            linewidth=1.2,
            alpha=0.8,
        )
        hosts.set_ylabel("healthy hosts", color="#6d4c41")
        hosts.set_ylim(0, max(_values(healthy)) * 1.25 + 1)
        hosts.tick_params(axis="y", colors="#6d4c41")

    elb = _values([r.elb_5xx for r in rows])
    target = _values([r.target_5xx for r in rows])
    errors.bar(minutes, elb, width=width * 0.9, align="edge", color=ELB_COLOUR, label="ELB 5xx")
    # A line, not bars, so that the 502 signature "target 5xx = 0" stays visible.
    errors.plot(
        [m + timedelta(seconds=30) for m in minutes],
        target,
        color=TARGET_COLOUR,
        marker="o",
        markersize=3,
        linewidth=1.5,
        label="target 5xx",
    )
    for row in rows:
        if row.modelled:
            errors.axvspan(
                row.minute, row.minute + timedelta(minutes=1), color="#c8e6c9", alpha=0.5, lw=0
            )
    errors.set_ylabel("5xx / min")
    errors.set_ylim(bottom=0)
    errors.grid(alpha=0.3)

    _alarm_bands(report, states)
    _markers(report, (traffic, errors, states))

    handles, labels = errors.get_legend_handles_labels()
    if report.recovery_from is not None:
        handles.append(Patch(color="#c8e6c9", label="modelled recovery (baseline)"))
        labels.append("modelled recovery (baseline)")
    errors.legend(handles, labels, loc="upper left", fontsize=8, ncol=2)
    marker_handles, marker_labels = traffic.get_legend_handles_labels()
    if marker_handles:
        figure.legend(
            marker_handles,
            marker_labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.95),
            ncol=min(len(marker_handles), 6),
            fontsize=8,
            frameon=False,
        )

    # matplotlib.dates ships without type hints.
    states.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))  # type: ignore[no-untyped-call]
    states.xaxis.set_major_locator(
        mdates.MinuteLocator(byminute=range(0, 60, 5))  # type: ignore[no-untyped-call]
    )
    states.xaxis.set_minor_locator(mdates.MinuteLocator())  # type: ignore[no-untyped-call]
    states.set_xlabel(
        f"UTC (alarm states on the wall clock; metric delay {report.options.metric_delay_s} s)"
    )
    if minutes:
        states.set_xlim(minutes[0], minutes[-1] + timedelta(minutes=1))
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _alarm_bands(report: DrillReport, axis: Any) -> None:
    end = report.rows[-1].minute + timedelta(minutes=1) if report.rows else None
    start = report.rows[0].minute if report.rows else None
    labels = []
    for lane, alarm in enumerate(report.alarms):
        labels.append(f"{alarm.label}{'' if alarm.rollback else ' (notify)'}")
        spans = _spans(report, alarm.logical_id, start, end)
        for begin, finish, state in spans:
            axis.broken_barh(
                [(begin, finish - begin)],
                (lane - 0.35, 0.7),
                facecolors=STATE_COLOURS.get(state, "#9e9e9e"),
            )
    axis.set_yticks(range(len(labels)), labels, fontsize=8)
    axis.set_ylim(-0.6, len(labels) - 0.4)
    axis.invert_yaxis()
    axis.set_ylabel("alarms")


def _spans(
    report: DrillReport, logical_id: str, start: datetime | None, end: datetime | None
) -> list[tuple[datetime, datetime, str]]:
    if start is None or end is None:
        return []
    spans: list[tuple[datetime, datetime, str]] = []
    state, since = OK, start
    for transition in report.replays[logical_id].transitions:
        moment = transition.at
        if moment >= end:
            break
        if moment > since:
            spans.append((since, moment, state))
        state, since = transition.new_state, max(moment, start)
    spans.append((since, end, state))
    return spans


def _markers(report: DrillReport, axes: tuple[Any, ...]) -> None:
    first = report.rows[0].minute if report.rows else None
    last = report.rows[-1].minute + timedelta(minutes=1) if report.rows else None

    def visible(moment: datetime | None) -> bool:
        return bool(moment and first and last and first <= moment <= last)

    marks: list[tuple[datetime, str, str, str]] = []
    for event in report.events:
        if event.kind != "deployment":
            continue
        version = event.data["version"]
        if "status" in event.data:
            marks.append((event.at, "#1565c0", "--", f"{version} {event.data['status']}"))
        else:
            marks.append((event.at, "#90caf9", "--", f"{version} deployment starts"))
    if report.scenario.onset is not None:
        marks.append((report.scenario.onset, "black", ":", "onset"))
    rollback = report.rollback
    if rollback is not None:
        if rollback.action == "failed":
            marks.append((rollback.started_at, "#b71c1c", "-", "rollback attempt (refused)"))
        else:
            marks.append((rollback.started_at, "#2e7d32", "-", "rollback start"))
        if rollback.restore_end is not None and rollback.outcome != "Failed":
            marks.append((rollback.restore_end, "#2e7d32", "--", "restore end (modelled)"))
    dead = [e.at for e in report.events if e.kind == "dlq"]
    if dead:
        marks.append((dead[0], "#b71c1c", "-.", "retries exhausted: event to the DLQ"))
    for moment, colour, style, label in marks:
        if not visible(moment):
            continue
        for index, axis in enumerate(axes):
            axis.axvline(
                moment,
                color=colour,
                linestyle=style,
                linewidth=1.4,
                label=label if index == 0 else None,
            )
