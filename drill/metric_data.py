"""Metric history for the backtest: a CloudWatch ``GetMetricData`` result, read or fetched.

The file is a ``GetMetricData`` result (CloudWatch API Reference, GetMetricData):
``MetricDataResults`` of ``{Id, Label, Timestamps, Values, StatusCode}``, timestamps ISO
8601 or epoch seconds in any order, pages possibly repeating an Id. Each Id names a metric
through ``MetricDataQueries`` in the same file (``--fetch`` writes them), else through its
``Label``, ``"[Namespace ]MetricName[ Stat]"`` (``AWS/ApplicationELB`` and ``Sum`` by
default). Optional top-level ``Period`` (default 60) and ``Description``; dimensions are
not matched, so one file holds one load balancer. ``fetch`` records one from CloudWatch.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drill.alarm_spec import AlarmSpec, MetricRef, SeriesStore

DEFAULT_NAMESPACE = "AWS/ApplicationELB"


DEFAULT_STAT = "Sum"


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
    description: str = ""


def load_metric_data(path: Path) -> MetricData:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise MetricsFileError(f"{path}: cannot read a JSON GetMetricData result: {err}") from None
    return parse_metric_data(doc, source=str(path))


def parse_metric_data(doc: Any, *, source: str = "metrics") -> MetricData:
    """Turn a GetMetricData result (plus optional queries) into a MetricData."""
    if not isinstance(doc, dict) or not isinstance(doc.get("MetricDataResults"), list):
        raise MetricsFileError(f"{source}: expected an object with a MetricDataResults list")
    period = doc.get("Period", 60)
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise MetricsFileError(f"{source}: Period={period!r} must be a positive integer")
    queries = _queries_by_id(doc.get("MetricDataQueries", []), source)
    store = SeriesStore()
    ids: dict[str, tuple[str, str, str]] = {}
    warnings: list[str] = []
    times: list[datetime] = []
    for i, result in enumerate(doc["MetricDataResults"]):
        at = f"{source}: MetricDataResults[{i}]"
        if not isinstance(result, dict) or not isinstance(result.get("Id"), str):
            raise MetricsFileError(f"{at}: needs an Id")
        id_ = result["Id"]
        label = result.get("Label")
        key = queries[id_] if id_ in queries else _key_from_label(label, id_, at)
        if key is None:
            continue  # an expression result: the backtest recomputes expressions itself
        owner = next((other for other, k in ids.items() if k == key and other != id_), None)
        if owner is not None:
            raise MetricsFileError(
                f"{at}: Id {id_!r} and Id {owner!r} are both {' '.join(key)}; "
                "keep one load balancer's metrics per file"
            )
        ids[id_] = key
        points = _points(result, f"{at} ({id_})")
        store.add(*key, points)
        times.extend(points)
        status = result.get("StatusCode", "Complete")
        if status != "Complete":
            warnings.append(f"{id_} ({' '.join(key)}): StatusCode {status}, data may be incomplete")
    if not times:
        raise MetricsFileError(f"{source}: no datapoints in MetricDataResults")
    description = doc.get("Description", "")
    return MetricData(
        store=store,
        start=min(times),
        end=max(times) + timedelta(seconds=period),
        period=period,
        ids=ids,
        warnings=tuple(warnings),
        description=description if isinstance(description, str) else "",
    )


def _points(result: Mapping[str, Any], at: str) -> dict[datetime, float]:
    """One result's Timestamps and Values as a series."""
    stamps = result.get("Timestamps", [])
    values = result.get("Values", [])
    if not isinstance(stamps, list) or not isinstance(values, list) or len(stamps) != len(values):
        raise MetricsFileError(f"{at}: Timestamps and Values must be lists of the same length")
    points = {}
    for stamp, value in zip(stamps, values, strict=True):
        when = _timestamp(stamp, at)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MetricsFileError(f"{at}: value {value!r} at {stamp} is not a number")
        points[when] = float(value)
    return points


def _queries_by_id(raw: Any, source: str) -> dict[str, tuple[str, str, str] | None]:
    if not isinstance(raw, list):
        raise MetricsFileError(f"{source}: MetricDataQueries must be a list")
    out: dict[str, tuple[str, str, str] | None] = {}
    for i, query in enumerate(raw):
        if not isinstance(query, dict) or not isinstance(query.get("Id"), str):
            raise MetricsFileError(f"{source}: MetricDataQueries[{i}] needs an Id")
        stat = query.get("MetricStat")
        if stat is None:
            out[query["Id"]] = None
            continue
        metric = stat.get("Metric", {}) if isinstance(stat, dict) else {}
        if not (isinstance(stat, dict) and metric.get("MetricName") and stat.get("Stat")):
            raise MetricsFileError(
                f"{source}: MetricDataQueries[{i}] ({query['Id']}): MetricStat needs "
                "Metric.MetricName and Stat"
            )
        out[query["Id"]] = (
            str(metric.get("Namespace", DEFAULT_NAMESPACE)),
            str(metric["MetricName"]),
            str(stat["Stat"]),
        )
    return out


def _key_from_label(label: Any, id_: str, at: str) -> tuple[str, str, str]:
    if not isinstance(label, str) or not label.split():
        raise MetricsFileError(
            f"{at} ({id_}): no MetricDataQueries entry and no Label to tell which metric "
            'this is; add a Label such as "HTTPCode_ELB_5XX_Count" or "AWS/ApplicationELB '
            'TargetResponseTime p99"'
        )
    words = label.split()
    namespace = words.pop(0) if "/" in words[0] else DEFAULT_NAMESPACE
    if not words or len(words) > 2:
        raise MetricsFileError(
            f"{at} ({id_}): Label {label!r} is not '[Namespace ]MetricName[ Stat]'"
        )
    return (namespace, words[0], words[1] if len(words) == 2 else DEFAULT_STAT)


def _timestamp(raw: Any, at: str) -> datetime:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw, tz=UTC)
    if isinstance(raw, str):
        try:
            when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if when.tzinfo is not None:
                return when.astimezone(UTC)
    raise MetricsFileError(f"{at}: timestamp {raw!r} is not ISO 8601 with a zone or epoch seconds")


@functools.cache
def _cloudwatch(region: str | None) -> Any:
    # Imported here: only --fetch needs boto3 (and credentials).
    import boto3

    return boto3.client("cloudwatch", region_name=region)


def fetch_queries(
    alarms: Iterable[AlarmSpec], *, load_balancer: str, target_group: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """GetMetricData queries for the alarms' ALB metrics, and notes on what was skipped.

    Alarm dimensions are CloudFormation intrinsics in cdk.out, so the real values come from
    the command line: ``LoadBalancer`` (and ``TargetGroup`` when given).
    """
    values = {"LoadBalancer": load_balancer}
    if target_group:
        values["TargetGroup"] = target_group
    queries: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    skipped: list[str] = []
    refs = [ref for alarm in alarms for ref in alarm.metric_refs()]
    # One file, one period: the finest any alarm reads; longer alarm periods are summed
    # from it at replay.
    finest = min((ref.period for ref in refs), default=60)
    for ref in refs:
        if ref.key in seen:
            continue
        seen.add(ref.key)
        names = [name for name, _ in ref.dimensions]
        unknown = [name for name in names if name not in values]
        if unknown:
            skipped.append(f"{ref}: dimension {', '.join(unknown)} not given on the command line")
            continue
        queries.append(
            _query(f"m{len(queries)}", ref, {n: values[n] for n in names}, period=finest)
        )
    return queries, skipped


def _query(
    id_: str, ref: MetricRef, dimensions: Mapping[str, str], *, period: int
) -> dict[str, Any]:
    label = f"{ref.namespace} {ref.metric_name} {ref.stat}"
    return {
        "Id": id_,
        "Label": label,
        "MetricStat": {
            "Metric": {
                "Namespace": ref.namespace,
                "MetricName": ref.metric_name,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dimensions.items()],
            },
            "Period": period,
            "Stat": ref.stat,
        },
        "ReturnData": True,
    }


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
    client = client or _cloudwatch(region)
    end = (now or datetime.now(tz=UTC)).replace(second=0, microsecond=0)
    start = end - timedelta(days=days)
    pages = client.get_paginator("get_metric_data").paginate(
        MetricDataQueries=list(queries), StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    )
    # Pages may repeat an Id; the reader merges them, as it does for any saved result.
    results = [
        {
            "Id": result["Id"],
            "Label": result.get("Label", ""),
            "Timestamps": [t.astimezone(UTC).isoformat() for t in result["Timestamps"]],
            "Values": list(result["Values"]),
            "StatusCode": result.get("StatusCode", "Complete"),
        }
        for page in pages
        for result in page.get("MetricDataResults", [])
    ]
    return {
        "Description": f"GetMetricData {start.isoformat()} .. {end.isoformat()}",
        "Period": queries[0]["MetricStat"]["Period"],
        "MetricDataQueries": list(queries),
        "MetricDataResults": results,
    }
