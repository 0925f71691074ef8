"""An ``AWS::CloudWatch::Alarm``'s properties as the evaluator models them, and metric data.

``AlarmSpec.from_properties`` reads a single-metric or metric-math alarm (PutMetricAlarm's
parameters, CloudWatch API Reference) and rejects by name what ``drill.evaluator`` does not
model (anomaly-detection bands, ``ThresholdMetricId``); ``AlarmSpec.values`` gives the
alarm's datapoint per period from each metric's data. ``SeriesStore`` holds metric data.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drill import metric_math

TREAT_MISSING = ("missing", "notBreaching", "breaching", "ignore")


# PutMetricAlarm's ComparisonOperator values that compare with a static threshold, and the
# words CloudWatch's state reason uses for them.
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


ANOMALY_COMPARISONS = (
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
)


class AlarmDefinitionError(ValueError):
    """The alarm properties are invalid or use something the evaluator does not model."""


@dataclass(frozen=True)
class MetricRef:
    """One metric an alarm reads. Dimension values are opaque (often CloudFormation
    intrinsics such as ``{"Fn::GetAtt": [...]}``), kept as canonical JSON text."""

    namespace: str
    metric_name: str
    stat: str
    period: int
    dimensions: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.namespace, self.metric_name, self.stat)

    def __str__(self) -> str:
        return f"{self.namespace} {self.metric_name} {self.stat}"


class SeriesStore:
    """A MetricSource backed by a dict keyed by (namespace, metric name, statistic).

    Dimensions are ignored: a store holds the data of one load balancer (or one set of
    dimensions). Metrics asked for but absent answer no data and are listed in ``misses``.
    """

    def __init__(
        self, series: Mapping[tuple[str, str, str], Mapping[datetime, float]] | None = None
    ) -> None:
        self._series: dict[tuple[str, str, str], dict[datetime, float]] = {}
        self.misses: set[tuple[str, str, str]] = set()
        for (namespace, name, stat), points in (series or {}).items():
            self.add(namespace, name, stat, points)

    def add(
        self, namespace: str, metric_name: str, stat: str, points: Mapping[datetime, float]
    ) -> None:
        for t in points:
            if t.tzinfo is None:
                raise ValueError(f"{metric_name} {stat}: timestamp {t} has no time zone")
        key = (namespace, metric_name, stat)
        merged = dict(self._series.get(key, {}))
        merged.update({t.astimezone(UTC): float(v) for t, v in points.items()})
        self._series[key] = dict(sorted(merged.items()))

    def keys(self) -> list[tuple[str, str, str]]:
        return sorted(self._series)

    def get(self, key: tuple[str, str, str]) -> Mapping[datetime, float]:
        return self._series.get(key, {})

    def __call__(self, ref: MetricRef) -> Mapping[datetime, float]:
        if ref.key not in self._series:
            self.misses.add(ref.key)
        return self._series.get(ref.key, {})


@dataclass(frozen=True)
class MetricQuery:
    """One MetricDataQuery of a metric-math alarm."""

    id: str
    expression: str | None
    metric: MetricRef | None
    return_data: bool
    label: str = ""


@dataclass(frozen=True)
class AlarmSpec:
    """The parts of ``AWS::CloudWatch::Alarm`` Properties that decide its state."""

    name: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison_operator: str
    threshold: float
    treat_missing_data: str = "missing"
    metric: MetricRef | None = None
    queries: tuple[MetricQuery, ...] = ()
    description: str = ""

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any], *, name: str = "") -> AlarmSpec:
        """Build from CloudFormation Properties; raise AlarmDefinitionError naming the field."""
        props = dict(properties)
        name = name or _text(props.get("AlarmName")) or "alarm"
        where = f"alarm {name}"
        comparison = props.get("ComparisonOperator")
        if comparison in ANOMALY_COMPARISONS or "ThresholdMetricId" in props:
            raise AlarmDefinitionError(
                f"{where}: anomaly-detection alarms (ComparisonOperator={comparison!r}, "
                "ThresholdMetricId) are not modelled by the drill; use a static threshold"
            )
        if comparison not in COMPARISONS:
            raise AlarmDefinitionError(
                f"{where}: ComparisonOperator={comparison!r} is not one of {', '.join(COMPARISONS)}"
            )
        threshold = _number(props.get("Threshold"), f"{where}: Threshold")
        n = int(_number(props.get("EvaluationPeriods"), f"{where}: EvaluationPeriods", low=1))
        m = int(_number(props.get("DatapointsToAlarm", n), f"{where}: DatapointsToAlarm", low=1))
        if m > n:
            raise AlarmDefinitionError(
                f"{where}: DatapointsToAlarm={m} exceeds EvaluationPeriods={n}"
            )
        treat = props.get("TreatMissingData", "missing")
        if treat not in TREAT_MISSING:
            raise AlarmDefinitionError(
                f"{where}: TreatMissingData={treat!r} is not one of {', '.join(TREAT_MISSING)}"
            )
        metric: MetricRef | None = None
        queries: tuple[MetricQuery, ...] = ()
        if "Metrics" in props:
            queries = _queries(props["Metrics"], where)
            periods = {q.metric.period for q in queries if q.metric is not None}
            if len(periods) != 1:
                raise AlarmDefinitionError(
                    f"{where}: every MetricStat of a math alarm must use the same Period "
                    f"(CloudWatch User Guide, alarms on math expressions); got {sorted(periods)}"
                )
            period = periods.pop()
        else:
            metric = _single_metric(props, where)
            period = metric.period
        spec = cls(
            name=name,
            period=period,
            evaluation_periods=n,
            datapoints_to_alarm=m,
            comparison_operator=comparison,
            threshold=threshold,
            treat_missing_data=treat,
            metric=metric,
            queries=queries,
            description=_text(props.get("AlarmDescription")),
        )
        spec._check_references(where)
        return spec

    def _check_references(self, where: str) -> None:
        ids = {q.id for q in self.queries}
        for query in self.queries:
            if query.expression is None:
                continue
            try:
                tree = _parsed(query.expression)
            except metric_math.MathSyntaxError as err:
                raise AlarmDefinitionError(f"{where}: {query.id}: {err}") from None
            unknown = metric_math.referenced_ids(tree) - ids
            if unknown:
                raise AlarmDefinitionError(
                    f"{where}: expression {query.id}={query.expression!r} names unknown "
                    f"id(s) {', '.join(sorted(unknown))}"
                )

    def metric_refs(self) -> list[MetricRef]:
        """Every metric the alarm reads."""
        if self.metric is not None:
            return [self.metric]
        return [q.metric for q in self.queries if q.metric is not None]

    def breaches(self, value: float) -> bool:
        compare, _ = COMPARISONS[self.comparison_operator]
        return compare(value, self.threshold)

    @property
    def statistic(self) -> str | None:
        return self.metric.stat if self.metric is not None else None

    def values(
        self, grid: Sequence[datetime], data: Mapping[str, Mapping[datetime, float]]
    ) -> list[float | None]:
        """The alarm's datapoint for each period of ``grid``, given each metric's data.

        ``data`` is keyed by query id (``"m"`` for a single-metric alarm). A metric-math
        alarm is evaluated over ``grid`` only, as CloudWatch queries just the range.
        """
        if self.metric is not None:
            points = data["m"]
            return [points.get(t) for t in grid]
        result = self._math(grid, data)
        return [result.get(t) for t in grid]

    def _math(
        self, grid: Sequence[datetime], data: Mapping[str, Mapping[datetime, float]]
    ) -> metric_math.Series:
        by_id = {q.id: q for q in self.queries}
        cache: dict[str, metric_math.Value] = {}
        stack: list[str] = []

        def resolve(id_: str) -> metric_math.Value:
            if id_ in cache:
                return cache[id_]
            if id_ in stack:
                raise metric_math.MathEvaluationError(
                    f"alarm {self.name}: expressions refer to each other in a cycle: "
                    + " -> ".join([*stack, id_])
                )
            query = by_id.get(id_)
            if query is None:
                raise metric_math.MathEvaluationError(f"alarm {self.name}: unknown id {id_!r}")
            stack.append(id_)
            if query.expression is None:
                points = data.get(id_, {})
                value: metric_math.Value = {t: points[t] for t in grid if t in points}
            else:
                value = metric_math.evaluate(_parsed(query.expression), ctx)
            stack.pop()
            cache[id_] = value
            return value

        ctx = metric_math.Context(grid=grid, resolve=resolve)
        returned = next(q for q in self.queries if q.return_data)
        result = resolve(returned.id)
        if not isinstance(result, dict):
            raise metric_math.MathEvaluationError(
                f"alarm {self.name}: {returned.id} must yield a time series, got a scalar"
            )
        return result


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any, where: str, *, low: int | None = None) -> float:
    """``value`` as a number (an integer >= ``low`` when given); else name the field."""
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or (low is not None and (number != int(number) or number < low)):
        wanted = "a number" if low is None else f"an integer >= {low}"
        raise AlarmDefinitionError(f"{where}={value!r} must be {wanted}")
    return number


def _metric(metric: Any, period: Any, stat: Any, where: str, period_field: str) -> MetricRef:
    """One metric an alarm reads: its Namespace, MetricName, Dimensions, Period and stat."""
    dimensions = metric.get("Dimensions") or []
    if not isinstance(dimensions, list):
        raise AlarmDefinitionError(f"{where}: Dimensions={dimensions!r} must be a list")
    for item in dimensions:
        if not isinstance(item, dict) or "Name" not in item:
            raise AlarmDefinitionError(f"{where}: dimension {item!r} needs Name and Value")
    return MetricRef(
        namespace=str(metric.get("Namespace", "")),
        metric_name=str(metric.get("MetricName", "")),
        stat=str(stat),
        period=int(_number(period, f"{where}{period_field}", low=1)),
        dimensions=tuple(
            sorted((str(d["Name"]), json.dumps(d.get("Value"), sort_keys=True)) for d in dimensions)
        ),
    )


def _single_metric(props: Mapping[str, Any], where: str) -> MetricRef:
    for required in ("Namespace", "MetricName", "Period"):
        if required not in props:
            raise AlarmDefinitionError(f"{where}: {required} is required without Metrics")
    stat = props.get("Statistic") or props.get("ExtendedStatistic")
    if not isinstance(stat, str) or not stat:
        raise AlarmDefinitionError(f"{where}: Statistic or ExtendedStatistic is required")
    return _metric(props, props["Period"], stat, where, ": Period")


def _query(item: Any, at: str) -> MetricQuery:
    if not isinstance(item, dict) or not isinstance(item.get("Id"), str):
        raise AlarmDefinitionError(f"{at} needs an Id")
    expression, stat = item.get("Expression"), item.get("MetricStat")
    if (expression is None) == (stat is None):
        raise AlarmDefinitionError(
            f"{at} ({item['Id']}) needs exactly one of Expression and MetricStat"
        )
    if stat is not None and not (isinstance(stat, dict) and "Period" in stat and "Stat" in stat):
        raise AlarmDefinitionError(f"{at} ({item['Id']}): MetricStat needs Metric, Period and Stat")
    return MetricQuery(
        id=item["Id"],
        expression=expression if isinstance(expression, str) else None,
        metric=None
        if stat is None
        else _metric(
            stat.get("Metric", {}), stat["Period"], stat["Stat"], at, ".MetricStat.Period"
        ),
        # ReturnData defaults to true; an alarm needs exactly one query that returns.
        return_data=item.get("ReturnData", True) is not False,
        label=_text(item.get("Label")),
    )


def _queries(raw: Any, where: str) -> tuple[MetricQuery, ...]:
    if not isinstance(raw, list) or not raw:
        raise AlarmDefinitionError(f"{where}: Metrics must be a non-empty list")
    queries = tuple(_query(item, f"{where}: Metrics[{i}]") for i, item in enumerate(raw))
    returned = [q.id for q in queries if q.return_data]
    if len(returned) != 1:
        raise AlarmDefinitionError(
            f"{where}: exactly one of Metrics must have ReturnData true, got {returned}"
        )
    return queries


# Parsed once per expression text: a replay evaluates the same expression every period.
_parsed = functools.lru_cache(maxsize=256)(metric_math.parse)
