"""Backtest the synthesized rollback alarms against real metric history: count the pages.

Before trusting an alarm to roll production back, replay it (``drill.evaluator``) over the
service's recent metrics and see when it would have fired. The alarms are those the
rollback rule listens to (``drill.template``); the history is a ``GetMetricData`` result
(CloudWatch API Reference): ``MetricDataResults`` of ``{Id, Label, Timestamps, Values,
StatusCode}``, timestamps ISO 8601 or epoch seconds in any order, pages possibly repeating
an Id, optional ``Period`` (default 60) and ``Description``. An Id names its metric through
the file's ``MetricDataQueries``, else through its ``Label``, ``"[Namespace ]MetricName[
Stat]"`` (``AWS/ApplicationELB`` and ``Sum`` by default); dimensions are not matched, so a
file holds one load balancer. ``--fetch`` writes such a file from CloudWatch::

    python -m drill.backtest --metrics drill/samples/getmetricdata-sample.json
    python -m drill.backtest --fetch --load-balancer app/order-api/5f0c6b2e1a9d4c3b --days 7 \\
        --save history.json          # needs AWS credentials; GetMetricData only
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drill import schemas
from drill.alarm_spec import AlarmDefinitionError, AlarmSpec, SeriesStore
from drill.assembly import ALB_NAMESPACE, load_assembly
from drill.evaluator import ALARM, Replay, replay
from drill.metric_math import MathEvaluationError
from drill.template import all_alarms, rollback_alarms

# CloudWatch keeps 60-second datapoints for 15 days (CloudWatch User Guide, metrics
# retention), so a per-minute backtest cannot reach further back.
MAX_FETCH_DAYS = 15


class MetricsFileError(ValueError):
    """The metrics file is not a GetMetricData result the backtest can read."""


@dataclass(frozen=True)
class MetricData:
    """The metrics of one file: a MetricSource and the time range it covers."""

    store: SeriesStore
    start: datetime
    end: datetime
    period: int
    ids: Mapping[str, tuple[str, str, str]]
    warnings: tuple[str, ...] = ()


def load_metric_data(path: Path) -> MetricData:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise MetricsFileError(f"{path}: cannot read a JSON GetMetricData result: {err}") from None
    return parse_metric_data(doc, source=str(path))


def parse_metric_data(doc: Any, *, source: str = "metrics") -> MetricData:
    results = doc.get("MetricDataResults") if isinstance(doc, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise MetricsFileError(f"{source}: expected an object with a MetricDataResults list")
    # metrics_schema.json says what each field of a result file may hold.
    if (error := schemas.finding(schemas.validator("metrics_schema.json"), doc)) is not None:
        raise MetricsFileError(f"{source}: {schemas.field(error.absolute_path)}: {error.message}")
    return _parse(doc, source)


def _parse(doc: dict[str, Any], source: str) -> MetricData:
    period = int(doc.get("Period", 60))  # metrics_schema.json: an integer of at least 1
    # A query names its metric as a Label does; an expression's (None) is skipped, as the
    # backtest recomputes expressions itself.
    labels = {
        q["Id"]: f"{m['Metric'].get('Namespace', ALB_NAMESPACE)} {m['Metric']['MetricName']} "
        f"{m['Stat']}"
        if (m := q.get("MetricStat"))
        else None
        for q in doc.get("MetricDataQueries", [])
    }
    store = SeriesStore()
    ids: dict[str, tuple[str, str, str]] = {}
    warnings = []
    for i, result in enumerate(doc["MetricDataResults"]):
        id_ = result["Id"]
        at = f"{source}: MetricDataResults[{i}] ({id_})"
        label = labels[id_] if id_ in labels else result.get("Label", "")
        if label is None:
            continue
        key = ids[id_] = _key_from_label(label, at)
        owner = next((other for other, k in ids.items() if k == key and other != id_), None)
        if owner is not None:
            raise MetricsFileError(
                f"{at}: Id {id_!r} and Id {owner!r} are both {' '.join(key)}; "
                "keep one load balancer's metrics per file"
            )
        stamps, values = result.get("Timestamps", []), result.get("Values", [])
        if len(stamps) != len(values):
            raise MetricsFileError(f"{at}: Timestamps and Values must be lists of the same length")
        store.add(*key, {_timestamp(t, at): v for t, v in zip(stamps, values, strict=True)})
        if (status := result.get("StatusCode", "Complete")) != "Complete":
            warnings.append(f"{id_} ({' '.join(key)}): StatusCode {status}, data may be incomplete")
    times = [t for key in set(ids.values()) for t in store.get(key)]
    if not times:
        raise MetricsFileError(f"{source}: no datapoints in MetricDataResults")
    end = max(times) + timedelta(seconds=period)
    return MetricData(store, min(times), end, period, ids, tuple(warnings))


def _key_from_label(label: str, at: str) -> tuple[str, str, str]:
    words = label.split()
    if not words:
        raise MetricsFileError(
            f"{at}: no MetricDataQueries entry and no Label to tell which metric this is; add "
            'a Label such as "HTTPCode_ELB_5XX_Count" or "AWS/ApplicationELB TargetResponseTime p99"'
        )
    namespace = words.pop(0) if "/" in words[0] else ALB_NAMESPACE
    if len(words) not in (1, 2):
        raise MetricsFileError(f"{at}: Label {label!r} is not '[Namespace ]MetricName[ Stat]'")
    return (namespace, words[0], words[1] if len(words) == 2 else "Sum")


def _timestamp(raw: str | float, at: str) -> datetime:
    with contextlib.suppress(ValueError):
        stamp = raw if isinstance(raw, str) else datetime.fromtimestamp(raw, tz=UTC).isoformat()
        if (when := datetime.fromisoformat(stamp)).tzinfo is not None:
            return when
    raise MetricsFileError(f"{at}: timestamp {raw!r} is not ISO 8601 with a zone or epoch seconds")


def fetch_queries(
    alarms: Iterable[AlarmSpec], *, load_balancer: str, target_group: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """GetMetricData queries for the alarms' ALB metrics, and notes on what was skipped.

    Alarm dimensions are CloudFormation intrinsics in cdk.out, so the real values come from
    the command line: ``LoadBalancer`` (and ``TargetGroup`` when given).
    """
    given = {"LoadBalancer": load_balancer, "TargetGroup": target_group}
    refs = [ref for alarm in alarms for ref in alarm.metric_refs()]
    # One file, one period: the finest any alarm reads; longer periods are summed at replay.
    period = min((ref.period for ref in refs), default=60)
    queries: list[dict[str, Any]] = []
    skipped = []
    for ref in [r for i, r in enumerate(refs) if r.key not in {x.key for x in refs[:i]}]:
        names = [name for name, _ in ref.dimensions]
        if unknown := [name for name in names if not given.get(name)]:
            skipped.append(f"{ref}: dimension {', '.join(unknown)} not given on the command line")
            continue
        dims = [{"Name": name, "Value": given[name]} for name in names]
        metric = {"Namespace": ref.namespace, "MetricName": ref.metric_name, "Dimensions": dims}
        stat = {"Metric": metric, "Period": period, "Stat": ref.stat}
        queries.append(
            {"Id": f"m{len(queries)}", "Label": str(ref), "MetricStat": stat, "ReturnData": True}
        )
    return queries, skipped


def fetch(
    queries: Sequence[dict[str, Any]],
    *,
    days: int,
    now: datetime | None = None,
    client: Any = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Run GetMetricData for ``queries`` over the last ``days`` days; return the file shape."""
    if not 1 <= days <= MAX_FETCH_DAYS:
        raise ValueError(
            f"--days {days}: allowed 1..{MAX_FETCH_DAYS} (CloudWatch keeps "
            "one-minute datapoints for 15 days)"
        )
    if not queries:
        raise ValueError("no metric to fetch: no alarm reads a metric the given dimensions fit")
    if client is None:
        import boto3  # only --fetch needs boto3 (and credentials)

        client = boto3.client("cloudwatch", region_name=region)
    end = (now or datetime.now(tz=UTC)).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    pages = client.get_paginator("get_metric_data").paginate(
        MetricDataQueries=list(queries), StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    )
    # Pages may repeat an Id; the reader merges them, as it does for any saved result.
    results = [
        {**result, "Timestamps": [t.astimezone(UTC).isoformat() for t in result["Timestamps"]]}
        for page in pages
        for result in page["MetricDataResults"]
    ]
    return {
        "Description": f"GetMetricData {start.isoformat()} .. {end.isoformat()}",
        "Period": queries[0]["MetricStat"]["Period"],
        "MetricDataQueries": list(queries),
        "MetricDataResults": results,
    }


@dataclass(frozen=True)
class Episode:
    """One stretch in ALARM: when it started (the page) and when the alarm left ALARM."""

    fired_at: datetime
    cleared_at: datetime | None
    peak: float | None
    reason: str


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
    try:
        result = replay(
            alarm, data.store, start=data.start, end=data.end, source_period=data.period
        )
    except (AlarmDefinitionError, MathEvaluationError) as err:
        return AlarmReport(stack, logical_id, alarm.description, error=str(err))
    wanted = {ref.key for ref in alarm.metric_refs()} - set(data.store.keys())
    episodes = _episodes(result)
    total = sum(((e.cleared_at or data.end) - e.fired_at).total_seconds() / 60 for e in episodes)
    missing = tuple(" ".join(key) for key in sorted(wanted))
    return AlarmReport(
        stack, logical_id, alarm.description, episodes, total, missing, replay=result
    )


def _episodes(result: Replay) -> tuple[Episode, ...]:
    # Transitions alternate, so the one after an ALARM transition leaves ALARM.
    worst = max if result.alarm.comparison_operator.startswith("Greater") else min
    episodes = []
    for fired, cleared in zip(result.transitions, [*result.transitions[1:], None], strict=True):
        if fired.new_state != ALARM:
            continue
        until = cleared.at if cleared else None
        values = [
            s.value
            for s in result.steps
            if s.value is not None
            and fired.at <= s.evaluated_at
            and (not until or s.evaluated_at < until)
        ]
        episodes.append(Episode(fired.at, until, worst(values) if values else None, fired.reason))
    return tuple(episodes)


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
        *(f"warning: {w}" for w in data.warnings),
    ]
    if not reports:
        lines.append("No rollback alarms found (is cdk.out synthesized? try --all-alarms).")
    for report in reports:
        lines += ["", f"{report.stack} / {report.logical_id}"]
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
        lines += [
            "",
            f"Total: {sum(r.fired for r in replayed)} transition(s) to ALARM across "
            f"{len(replayed)} alarm(s); with the rollback rule each one invokes the rollback "
            "function. Compare them with your incident log to count the false ones.",
        ]
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drill.backtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument(
        "--all-alarms",
        action="store_true",
        help="replay every alarm, not only those the rollback rule listens to",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--metrics", type=Path, help="a GetMetricData result (JSON), as described above"
    )
    source.add_argument("--fetch", action="store_true", help="read it from CloudWatch instead")
    parser.add_argument("--load-balancer", help="with --fetch: app/<name>/<id>")
    parser.add_argument("--target-group", help="with --fetch: targetgroup/<name>/<id>")
    parser.add_argument("--days", type=int, default=7, help="with --fetch: 1..15, default 7")
    parser.add_argument("--region", help="with --fetch: AWS region (default: your profile's)")
    parser.add_argument("--save", type=Path, help="with --fetch: also write the data here")
    args = parser.parse_args(argv)
    try:
        # Every stack template of the cloud assembly, nested ones included, by name.
        templates = {t.name: t.body for t in load_assembly(args.cdk_out).templates()}
        if args.fetch:
            doc = _fetch_for(templates, args)
            if args.save:
                args.save.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            data = parse_metric_data(doc, source="GetMetricData")
        else:
            data = load_metric_data(args.metrics)
    except ValueError as err:  # DrillTemplateError, MetricsFileError and bad arguments
        print(f"error: {err}", file=sys.stderr)
        return 2
    reports = backtest(templates, data, include_all=args.all_alarms)
    print(json.dumps(as_json(reports), indent=2) if args.json else render(reports, data))
    return 0


def _fetch_for(templates: Mapping[str, Mapping[str, Any]], args: argparse.Namespace) -> Any:
    if not args.load_balancer:
        raise ValueError("--fetch needs --load-balancer app/<name>/<id>")
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
