"""An ``AWS::CloudWatch::Alarm``'s properties as the evaluator models them, and metric data.

``AlarmSpec.from_properties`` reads a single-metric or metric-math alarm (PutMetricAlarm's
parameters, CloudWatch API Reference) checked against ``alarm_schema.json``, rejecting by
name what ``drill.evaluator`` does not model (anomaly-detection bands); ``AlarmSpec.values``
gives its datapoint per period from each metric's data, which ``SeriesStore`` holds.
"""

from __future__ import annotations

import functools
import graphlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonschema import Draft202012Validator

from drill import metric_math, schemas

# PutMetricAlarm's ComparisonOperator values that compare with a static threshold, and the
# words CloudWatch's state reason uses for them.
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


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
    dimensions). Metrics asked for but absent answer no data.
    """

    def __init__(
        self, series: Mapping[tuple[str, str, str], Mapping[datetime, float]] | None = None
    ) -> None:
        self._series: dict[tuple[str, str, str], dict[datetime, float]] = {}
        for key, points in (series or {}).items():
            self.add(*key, points)

    def add(
        self, namespace: str, metric_name: str, stat: str, points: Mapping[datetime, float]
    ) -> None:
        key = (namespace, metric_name, stat)
        merged = {**self.get(key), **{t.astimezone(UTC): float(v) for t, v in points.items()}}
        self._series[key] = dict(sorted(merged.items()))

    def keys(self) -> list[tuple[str, str, str]]:
        return sorted(self._series)

    def get(self, key: tuple[str, str, str]) -> Mapping[datetime, float]:
        return self._series.get(key, {})

    def __call__(self, ref: MetricRef) -> Mapping[datetime, float]:
        return self.get(ref.key)


@dataclass(frozen=True)
class MetricQuery:
    """One MetricDataQuery of a metric-math alarm."""

    id: str
    expression: str | None
    metric: MetricRef | None
    return_data: bool


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
        comparison = str(props.get("ComparisonOperator"))
        # The anomaly-band operators: LessThanLowerOrGreaterThanUpperThreshold and its halves.
        if "ThresholdMetricId" in props or comparison.endswith(
            ("UpperThreshold", "LowerThreshold")
        ):
            raise AlarmDefinitionError(
                f"{where}: anomaly-detection alarms (ComparisonOperator={comparison!r}, "
                "ThresholdMetricId) are not modelled by the drill; use a static threshold"
            )
        _validate(props, where)
        n = int(props["EvaluationPeriods"])
        m = int(props.get("DatapointsToAlarm", n))
        if m > n:
            raise AlarmDefinitionError(
                f"{where}: DatapointsToAlarm={m} exceeds EvaluationPeriods={n}"
            )
        metric: MetricRef | None = None
        queries: tuple[MetricQuery, ...] = ()
        if "Metrics" in props:
            queries = tuple(map(_query, props["Metrics"]))
            _check_queries(queries, where)
            period = next(q.metric.period for q in queries if q.metric is not None)
        else:
            stat = props.get("Statistic") or props["ExtendedStatistic"]
            metric = _metric(props, props["Period"], stat)
            period = metric.period
        return cls(
            name=name,
            period=period,
            evaluation_periods=n,
            datapoints_to_alarm=m,
            comparison_operator=comparison,
            threshold=float(props["Threshold"]),
            treat_missing_data=props.get("TreatMissingData", "missing"),
            metric=metric,
            queries=queries,
            description=_text(props.get("AlarmDescription")),
        )

    def metric_refs(self) -> list[MetricRef]:
        return [m for m in (self.metric, *(q.metric for q in self.queries)) if m is not None]

    def breaches(self, value: float) -> bool:
        compare, _ = COMPARISONS[self.comparison_operator]
        return compare(value, self.threshold)

    @property
    def statistic(self) -> str | None:
        return self.metric.stat if self.metric is not None else None

    def values(
        self, grid: Sequence[datetime], data: Mapping[str, Mapping[datetime, float]]
    ) -> list[float | None]:
        """The alarm's datapoint per period of ``grid`` from each query id's data (``"m"`` for
        a single metric); math is evaluated over ``grid`` only, as CloudWatch queries the range."""
        points = data["m"] if self.metric is not None else self._math(grid, data)
        return [points.get(t) for t in grid]

    def _math(
        self, grid: Sequence[datetime], data: Mapping[str, Mapping[datetime, float]]
    ) -> metric_math.Series:
        by_id = {q.id: q for q in self.queries}

        @functools.cache
        def resolve(id_: str) -> metric_math.Value:
            expression = by_id[id_].expression
            if expression is None:
                points = data.get(id_, {})
                return {t: points[t] for t in grid if t in points}
            return metric_math.evaluate(_parsed(expression), ctx)

        ctx = metric_math.Context(grid=grid, resolve=resolve)
        returned = next(q.id for q in self.queries if q.return_data)
        result = resolve(returned)
        if not isinstance(result, dict):
            raise metric_math.MathEvaluationError(
                f"alarm {self.name}: {returned} must yield a time series, got a scalar"
            )
        return result


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@functools.cache
def _validator() -> Draft202012Validator:
    schema = schemas.document("alarm_schema.json")
    comparison = {
        "enum": list(COMPARISONS),
        "description": f"is not one of {', '.join(COMPARISONS)}",
    }
    properties = {**schema["properties"], "ComparisonOperator": comparison}
    return Draft202012Validator({**schema, "properties": properties})


def _validate(props: Mapping[str, Any], where: str) -> None:
    """The schema's first finding as alarm, field, value and the schema's description."""
    if (error := schemas.finding(_validator(), props)) is None:
        return
    field = schemas.field(error.absolute_path)
    field += "" if isinstance(error.instance, dict) else f"={error.instance!r}"
    described = error.validator != "required" and "description" in error.schema
    problem = error.schema["description"] if described else error.message
    text = f"{field}{' ' if described else ': '}{problem}" if field else problem
    raise AlarmDefinitionError(f"{where}: {text}")


def _metric(metric: Mapping[str, Any], period: int, stat: str) -> MetricRef:
    return MetricRef(
        namespace=str(metric.get("Namespace", "")),
        metric_name=str(metric.get("MetricName", "")),
        stat=stat,
        period=int(period),
        dimensions=tuple(
            sorted(
                (str(d["Name"]), json.dumps(d.get("Value"), sort_keys=True))
                for d in metric.get("Dimensions") or []
            )
        ),
    )


def _query(item: Mapping[str, Any]) -> MetricQuery:
    stat = item.get("MetricStat")
    return MetricQuery(
        id=item["Id"],
        expression=item.get("Expression"),
        metric=None if stat is None else _metric(stat["Metric"], stat["Period"], stat["Stat"]),
        # ReturnData defaults to true; an alarm needs exactly one query that returns.
        return_data=item.get("ReturnData", True) is not False,
    )


def _check_queries(queries: Sequence[MetricQuery], where: str) -> None:
    """What spans the queries: one returns, one Period, expressions name known ids."""
    returned = [q.id for q in queries if q.return_data]
    if len(returned) != 1:
        raise AlarmDefinitionError(
            f"{where}: exactly one of Metrics must have ReturnData true, got {returned}"
        )
    periods = {q.metric.period for q in queries if q.metric is not None}
    if len(periods) != 1:
        raise AlarmDefinitionError(
            f"{where}: every MetricStat of a math alarm must use the same Period "
            f"(CloudWatch User Guide, alarms on math expressions); got {sorted(periods)}"
        )
    ids = {q.id for q in queries}
    refs: dict[str, set[str]] = {}
    for query in queries:
        if query.expression is None:
            continue
        try:
            refs[query.id] = metric_math.referenced_ids(_parsed(query.expression))
        except metric_math.MathSyntaxError as err:
            raise AlarmDefinitionError(f"{where}: {query.id}: {err}") from None
        if unknown := refs[query.id] - ids:
            raise AlarmDefinitionError(
                f"{where}: expression {query.id}={query.expression!r} names unknown "
                f"id(s) {', '.join(sorted(unknown))}"
            )
    try:
        graphlib.TopologicalSorter(refs).prepare()
    except graphlib.CycleError as err:
        raise AlarmDefinitionError(
            f"{where}: expressions refer to each other in a cycle: {' -> '.join(err.args[1])}"
        ) from None


# Parsed once per expression text: a replay evaluates the same expression every period.
_parsed = functools.lru_cache(maxsize=256)(metric_math.parse)
