"""Backtest the synthesized rollback alarms against real metric history: count the pages.

Before trusting an alarm to roll production back, replay it over the service's own recent
metrics and see when it would have fired. The alarms are those the rollback rule listens to
(``drill.template``), replayed with ``drill.evaluator`` over a CloudWatch ``GetMetricData``
result (``drill.metric_data``)::

    python -m drill.backtest --metrics drill/samples/getmetricdata-sample.json
    python -m drill.backtest --fetch --load-balancer app/order-api/5f0c6b2e1a9d4c3b --days 7 \\
        --save history.json          # needs AWS credentials; GetMetricData only
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from drill.alarm_spec import AlarmDefinitionError, AlarmSpec
from drill.assembly import DrillTemplateError, load_assembly
from drill.evaluator import ALARM, Replay, replay
from drill.metric_data import (
    MetricData,
    MetricsFileError,
    fetch,
    fetch_queries,
    load_metric_data,
    parse_metric_data,
)
from drill.metric_math import MathEvaluationError
from drill.template import all_alarms, rollback_alarms

# --- Replaying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """One stretch in ALARM: when it started (the page) and when the alarm left ALARM."""

    fired_at: datetime
    cleared_at: datetime | None
    peak: float | None
    reason: str

    @property
    def minutes(self) -> float | None:
        if self.cleared_at is None:
            return None
        return (self.cleared_at - self.fired_at).total_seconds() / 60


@dataclass(frozen=True)
class AlarmReport:
    stack: str
    logical_id: str
    description: str = ""
    episodes: tuple[Episode, ...] = ()
    minutes_in_alarm: float = 0.0
    missing_metrics: tuple[str, ...] = ()
    error: str = ""
    replay: Replay | None = field(default=None, compare=False, repr=False)

    @property
    def fired(self) -> int:
        return len(self.episodes)


def replay_alarm(
    stack: str, logical_id: str, properties: Mapping[str, Any], data: MetricData
) -> AlarmReport:
    """Replay one alarm over the whole file and summarize when it was in ALARM."""
    try:
        alarm = AlarmSpec.from_properties(properties, name=logical_id)
    except AlarmDefinitionError as err:
        return AlarmReport(stack, logical_id, error=str(err))
    description = alarm.description
    # A longer period is summed from the file's periods (evaluated every minute, as
    # CloudWatch does); a shorter or uneven one cannot be built from them.
    if alarm.period % data.period:
        return AlarmReport(
            stack,
            logical_id,
            description,
            error=(
                f"alarm period {alarm.period} s is not a multiple of the metrics file's "
                f"{data.period} s"
            ),
        )
    wanted = {ref.key for ref in alarm.metric_refs()}
    missing = tuple(" ".join(key) for key in sorted(wanted - set(data.store.keys())))
    try:
        result = replay(
            alarm, data.store, start=data.start, end=data.end, source_period=data.period
        )
    except MathEvaluationError as err:
        return AlarmReport(stack, logical_id, description, error=str(err))
    episodes = _episodes(result)
    total = sum(((e.cleared_at or data.end) - e.fired_at).total_seconds() / 60 for e in episodes)
    return AlarmReport(
        stack, logical_id, description, tuple(episodes), total, missing, replay=result
    )


def _episodes(result: Replay) -> list[Episode]:
    episodes: list[Episode] = []
    fired: datetime | None = None
    reason = ""
    peak: float | None = None
    for step in result.steps:
        if step.state == ALARM:
            if fired is None:
                fired, reason, peak = step.evaluated_at, step.reason, None
            if step.value is not None:
                peak = step.value if peak is None else _worse(result.alarm, peak, step.value)
        elif fired is not None:
            episodes.append(Episode(fired, step.evaluated_at, peak, reason))
            fired = None
    if fired is not None:
        episodes.append(Episode(fired, None, peak, reason))
    return episodes


def _worse(alarm: AlarmSpec, a: float, b: float) -> float:
    return max(a, b) if alarm.comparison_operator.startswith("Greater") else min(a, b)


def backtest(
    templates: Mapping[str, Mapping[str, Any]], data: MetricData, *, include_all: bool = False
) -> list[AlarmReport]:
    """Replay the rollback alarms (or every alarm) of each stack template."""
    return [replay_alarm(*alarm, data) for alarm in _alarms(templates, include_all)]


def _alarms(
    templates: Mapping[str, Mapping[str, Any]], include_all: bool
) -> list[tuple[str, str, dict[str, Any]]]:
    """(stack, logical id, Properties) of the rollback alarms (or every alarm)."""
    pick = all_alarms if include_all else rollback_alarms
    return [(stack, *alarm) for stack, template in templates.items() for alarm in pick(template)]


def render(reports: Sequence[AlarmReport], data: MetricData) -> str:
    """A plain-text report: one block per alarm, one line per time it fired."""
    hours = (data.end - data.start).total_seconds() / 3600
    lines = [
        f"Backtest over {_hhmm(data.start)} .. {_hhmm(data.end)} UTC ({hours:.1f} h, "
        f"{len(data.ids)} metrics)",
    ]
    lines += [f"warning: {w}" for w in data.warnings]
    if not reports:
        lines.append("No rollback alarms found (is cdk.out synthesized? try --all-alarms).")
    for report in reports:
        lines.append("")
        lines.append(f"{report.stack} / {report.logical_id}")
        if report.description:
            lines.append(f"  {report.description}")
        if report.error:
            lines.append(f"  not replayed: {report.error}")
            continue
        for key in report.missing_metrics:
            lines.append(f"  note: no data for {key} in the file; replayed as never published")
        if not report.episodes:
            lines.append("  never entered ALARM")
            continue
        lines.append(
            f"  entered ALARM {report.fired} time(s), {report.minutes_in_alarm:.0f} min in ALARM"
        )
        for episode in report.episodes:
            until = _hhmm(episode.cleared_at) if episode.cleared_at else "still in ALARM"
            peak = f"peak {episode.peak:g}" if episode.peak is not None else "no datapoint"
            lines.append(f"  - {_hhmm(episode.fired_at)} -> {until}  {peak}")
            lines.append(f"      {episode.reason}")
    replayed = [r for r in reports if not r.error]
    if replayed:
        pages = sum(r.fired for r in replayed)
        lines.append("")
        lines.append(
            f"Total: {pages} transition(s) to ALARM across {len(replayed)} alarm(s); with the "
            "rollback rule each one invokes the rollback function. Compare them with your "
            "incident log to count the false ones."
        )
    return "\n".join(lines)


def as_json(reports: Iterable[AlarmReport]) -> list[dict[str, Any]]:
    return [
        {
            "stack": r.stack,
            "logicalId": r.logical_id,
            "description": r.description,
            "fired": r.fired,
            "minutesInAlarm": r.minutes_in_alarm,
            "episodes": [
                {
                    "firedAt": e.fired_at.isoformat(),
                    "clearedAt": e.cleared_at.isoformat() if e.cleared_at else None,
                    "peak": e.peak,
                    "reason": e.reason,
                }
                for e in r.episodes
            ],
            "missingMetrics": list(r.missing_metrics),
            "error": r.error or None,
        }
        for r in reports
    ]


def _hhmm(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


# --- Command line ----------------------------------------------------------------------------


def _templates(cdk_out: Path) -> dict[str, Mapping[str, Any]]:
    """Every stack template of the cloud assembly, nested ones included, by name."""
    return {t.name: t.body for t in load_assembly(cdk_out).templates()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drill.backtest",
        description="Replay the synthesized rollback alarms over metric history and report "
        "every time each one would have fired.",
    )
    parser.add_argument(
        "--metrics", type=Path, help="a GetMetricData result (JSON); see the module docstring"
    )
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument(
        "--all-alarms",
        action="store_true",
        help="replay every alarm, not only those the rollback rule listens to",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--fetch", action="store_true", help="read the history from CloudWatch (needs credentials)"
    )
    parser.add_argument("--load-balancer", help="with --fetch: app/<name>/<id>")
    parser.add_argument("--target-group", help="with --fetch: targetgroup/<name>/<id>")
    parser.add_argument("--days", type=int, default=7, help="with --fetch: 1..15, default 7")
    parser.add_argument("--region", help="with --fetch: AWS region (default: your profile's)")
    parser.add_argument("--save", type=Path, help="with --fetch: also write the data here")
    args = parser.parse_args(argv)

    try:
        templates = _templates(args.cdk_out)
    except DrillTemplateError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        if args.fetch:
            doc = _fetch_for(templates, args)
            if args.save:
                args.save.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            data = parse_metric_data(doc, source="GetMetricData")
        elif args.metrics:
            data = load_metric_data(args.metrics)
        else:
            parser.error("give --metrics FILE or --fetch --load-balancer app/<name>/<id>")
    except (MetricsFileError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    reports = backtest(templates, data, include_all=args.all_alarms)
    if args.json:
        print(json.dumps(as_json(reports), indent=2))
    else:
        print(render(reports, data))
    return 0


def _fetch_for(templates: Mapping[str, Mapping[str, Any]], args: argparse.Namespace) -> Any:
    if not args.load_balancer:
        raise ValueError("--fetch needs --load-balancer app/<name>/<id>")
    if args.metrics:
        print(
            f"note: --metrics {args.metrics} is not read with --fetch "
            "(use --save FILE to keep the fetched data)",
            file=sys.stderr,
        )
    specs = []
    for _, logical_id, properties in _alarms(templates, args.all_alarms):
        try:
            specs.append(AlarmSpec.from_properties(properties, name=logical_id))
        except AlarmDefinitionError as err:
            print(f"note: {err}", file=sys.stderr)
    queries, skipped = fetch_queries(
        specs, load_balancer=args.load_balancer, target_group=args.target_group
    )
    for note in skipped:
        print(f"note: not fetched: {note}", file=sys.stderr)
    return fetch(queries, days=args.days, region=args.region)


if __name__ == "__main__":
    sys.exit(main())
