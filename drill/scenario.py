"""Incident scenarios for the offline drill: a JSON format users can write, and its loader.

A scenario is the minute-by-minute world the kit's alarms would have seen (ALB metrics),
the deployment history the rollback function would have found, and the outcome the drill
must reproduce; ``drill/scenarios/README.md`` documents the format and the bundled files.
``scenario_schema.json`` (JSON Schema, checked with jsonschema) holds the shape and the
defaults; ``parse`` adds the rules that span fields. Series keys are ``AWS/ApplicationELB``
metric names, and the load balancer publishes a count only for minutes with data (ELB User
Guide, "CloudWatch metrics for your Application Load Balancer",
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html),
so a 0 in a count series reaches the alarms as no datapoint unless
``zero_counts_published``. Deployments carry CodeDeploy's field names and status values
(CodeDeploy API Reference, DeploymentInfo).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match

from drill.alarm_spec import SeriesStore
from drill.assembly import ALB_NAMESPACE
from tests.support.codedeploy_gaps import RUNNING_STATUSES

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = "bad-release-502"
NAMESPACE = ALB_NAMESPACE

ELB_5XX_SPLITS = (
    "HTTPCode_ELB_500_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
)
# What a plain series key answers; a "Name:Stat" key answers that statistic only.
PLAIN_KEY_STATS = ("Sum", "Average", "Minimum", "Maximum")
# Gauges, published every minute; every other "...Count" only for minutes with data.
HOST_COUNTS = ("HealthyHostCount", "UnHealthyHostCount")
MAX_MINUTES = 7 * 24 * 60


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """One deployment of the scenario's CodeDeploy history, and how it ends if left alone."""

    version: str
    s3_key: str
    create_time: datetime
    complete_time: datetime | None
    status: str
    rollback_fails: bool = False
    description: str = ""


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file, the field and the value."""

    def __init__(self, source: str, field: str, value: Any, message: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        try:
            shown = json.dumps(value)
        except (TypeError, ValueError):
            shown = repr(value)
        super().__init__(f"{source}: {field}={shown}: {message}")


@dataclass(frozen=True, kw_only=True)
class Expectation:
    alarm_fires: bool
    decision: str | None
    rollback_target: str | None = None
    rollback_succeeds: bool | None = None
    max_minutes_onset_to_rollback: int | None = None
    alarms: Mapping[str, bool] | None = None


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str
    start: datetime
    period: int
    minutes: int
    series: Mapping[str, tuple[float | None, ...]]
    deployments: tuple[Deployment, ...]
    expect: Expectation
    # Expectations for kits whose rollback alarms use another M of N, keyed "M/N" (e.g. a
    # blip that 1 of 1 rolls back and 2 of 3 rides out).
    expect_by_m_of_n: Mapping[str, Expectation] = field(default_factory=dict)
    onset: datetime | None = None
    load_balancer: str | None = None
    zero_counts_published: bool = False

    @property
    def end(self) -> datetime:
        """The end of the last minute the series cover."""
        return self.start + timedelta(seconds=self.period * self.minutes)

    def timestamps(self) -> list[datetime]:
        step = timedelta(seconds=self.period)
        return [self.start + step * i for i in range(self.minutes)]

    def metric_source(self) -> SeriesStore:
        """The series as CloudWatch would serve them to the alarms (a MetricSource)."""
        store = SeriesStore()
        times = self.timestamps()
        for key, values in self.series.items():
            name, _, stat = key.partition(":")
            suppress = not self.zero_counts_published and is_count(name)
            points = {
                t: v
                for t, v in zip(times, values, strict=True)
                if v is not None and not (suppress and v == 0)
            }
            for each in (stat,) if stat else PLAIN_KEY_STATS:
                store.add(NAMESPACE, name, each, points)
        return store

    def expectation_for(self, datapoints_to_alarm: int, evaluation_periods: int) -> Expectation:
        """The expect block for rollback alarms that need M of N datapoints."""
        return self.expect_by_m_of_n.get(f"{datapoints_to_alarm}/{evaluation_periods}", self.expect)

    def deployment(self, version: str) -> Deployment:
        for deployment in self.deployments:
            if deployment.version == version:
                return deployment
        raise KeyError(version)


def is_count(metric_name: str) -> bool:
    """A count the load balancer publishes only for minutes with data."""
    return metric_name.endswith("Count") and metric_name not in HOST_COUNTS


# --- Loading ---------------------------------------------------------------------------------


def bundled_names() -> list[str]:
    """The scenarios shipped in ``drill/scenarios`` (``api-*`` ones are ``drill.api_scenario``'s)."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.json") if not p.stem.startswith("api-"))


def load(name_or_path: str | Path) -> Scenario:
    """Load a bundled scenario by name, or any scenario file by path."""
    path = Path(name_or_path)
    if not path.is_file():
        bundled = SCENARIOS_DIR / f"{path.name}.json"
        if path.suffix == ".json" or not bundled.is_file():
            raise ScenarioError(
                str(name_or_path),
                "(file)",
                str(name_or_path),
                f"no such file or bundled scenario; bundled: {', '.join(bundled_names())}",
            )
        path = bundled
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ScenarioError(str(path), "(file)", None, f"not valid JSON: {err}") from None
    return parse(data, source=str(path))


def parse(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a decoded scenario; raise ScenarioError naming the field and the value.

    The shape (fields, types, enums, patterns) is ``scenario_schema.json``, checked with
    jsonschema; what spans fields (equal series lengths, the 5xx splits, times in order,
    an expectation consistent with the deployments) is checked here.
    """
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        raise _schema_error(source, error)
    start = _time(source, "start", data["start"])
    if start.second or start.microsecond:
        raise ScenarioError(source, "start", data["start"], "must be on a whole minute")
    series = _series(source, data["series"])
    minutes = len(next(iter(series.values())))
    end = start + timedelta(minutes=minutes)
    onset = None
    if data.get("onset") is not None:
        onset = _time(source, "onset", data["onset"])
        if not start <= onset < end:
            window = f"{_iso(start)} .. {_iso(end)}"
            raise ScenarioError(
                source, "onset", data["onset"], f"must fall within the series ({window})"
            )
    deployments = _deployments(source, data["deployments"], end)
    alternatives = {}
    for key, raw in data.get("expect_by_m_of_n", {}).items():
        if int(key[0]) > int(key[2]):
            raise ScenarioError(
                source, "expect_by_m_of_n", key, 'keys are "M/N" with 1 <= M <= N <= 5'
            )
        alternatives[key] = _expect(source, f"expect_by_m_of_n.{key}", raw, deployments, onset)
    return Scenario(
        name=data["name"],
        description=data["description"].strip(),
        start=start,
        period=data.get("period", 60),
        minutes=minutes,
        series=series,
        deployments=deployments,
        expect=_expect(source, "expect", data["expect"], deployments, onset),
        expect_by_m_of_n=alternatives,
        onset=onset,
        load_balancer=data.get("load_balancer"),
        zero_counts_published=data.get("zero_counts_published", False),
    )


@functools.cache
def _validator() -> Draft202012Validator:
    schema = json.loads((Path(__file__).parent / "scenario_schema.json").read_text("utf-8"))
    return Draft202012Validator(schema)


def _schema_error(source: str, error: ValidationError) -> ScenarioError:
    """The schema's finding as file, field, value and the schema's own description."""
    path = list(error.absolute_path)
    value, schema = error.instance, error.schema
    message = str(schema.get("description", error.message)) if isinstance(schema, dict) else ""
    if error.validator == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(schema.get("properties", {}))
        key = next(k for k in value if k not in allowed)
        path, value = [*path, key], value[key]
        message = f"unknown field; allowed: {', '.join(allowed)}"
    elif error.validator == "required" and isinstance(value, dict):
        key = next(k for k in schema["required"] if k not in value)
        wanted = schema["properties"][key].get("description", "")
        path, value, message = [*path, key], None, f"required: {wanted}".rstrip(": ")
    elif "propertyNames" in error.absolute_schema_path and path != ["expect_by_m_of_n"]:
        path = [*path, value]  # a bad key: the field is the key itself
    if path[:2] == ["expect", "alarms"]:  # reported as a whole, like the other objects
        value, path = value if len(path) == 2 else error.instance, path[:2]
        message = "an object of alarm logical-id fragment -> true/false"
    return ScenarioError(source, _field(path), value, message)


def _field(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(source: str, field: str, raw: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(
            source, field, raw, "not an ISO 8601 time, e.g. 2026-11-24T14:30:00Z"
        ) from None
    if when.utcoffset() != timedelta(0):
        raise ScenarioError(source, field, raw, "must be UTC (end with Z or +00:00)")
    return when.astimezone(UTC)


def _series(source: str, raw: dict[str, list[Any]]) -> dict[str, tuple[float | None, ...]]:
    series: dict[str, tuple[float | None, ...]] = {}
    for key, items in raw.items():
        values: list[float | None] = []
        for item in items:
            repeat, value = (item["repeat"], item["value"]) if isinstance(item, dict) else (1, item)
            values.extend([None if value is None else float(value)] * repeat)
            if len(values) > MAX_MINUTES:
                raise ScenarioError(
                    source, f"series.{key}", len(values), f"longer than {MAX_MINUTES} minutes"
                )
        series[key] = tuple(values)
    lengths = {key: len(values) for key, values in series.items()}
    if len(set(lengths.values())) != 1:
        raise ScenarioError(
            source, "series", lengths, "every series must cover the same number of minutes"
        )
    _check_elb_5xx(source, series)
    return series


def _check_elb_5xx(source: str, series: dict[str, tuple[float | None, ...]]) -> None:
    splits = [series[k] for k in ELB_5XX_SPLITS if k in series]
    if not splits:
        return
    summed = [sum(v or 0.0 for v in minute) for minute in zip(*splits, strict=True)]
    total = series.get("HTTPCode_ELB_5XX_Count")
    if total is None:
        series["HTTPCode_ELB_5XX_Count"] = tuple(v if v else None for v in summed)
        return
    for i, (whole, part) in enumerate(zip(total, summed, strict=True)):
        if (whole or 0.0) < part:
            raise ScenarioError(
                source,
                f"series.HTTPCode_ELB_5XX_Count[{i}]",
                whole,
                f"is below the sum of the 500/502/503/504 splits for that minute ({part})",
            )


def _deployments(source: str, raw: list[dict[str, Any]], end: datetime) -> tuple[Deployment, ...]:
    out: list[Deployment] = []
    for i, item in enumerate(raw):
        at = f"deployments[{i}]"
        created = _time(source, f"{at}.createTime", item["createTime"])
        completed = None
        if item.get("completeTime") is not None:
            completed = _time(source, f"{at}.completeTime", item["completeTime"])
        problem = _deployment_problem(item, created, completed, end, out)
        if problem is not None:
            key, message = problem
            raise ScenarioError(source, f"{at}.{key}", item.get(key), message)
        out.append(
            Deployment(
                version=item["version"],
                s3_key=item["s3_key"],
                create_time=created,
                complete_time=completed,
                status=item["status"],
                rollback_fails=item.get("rollback_fails", False),
                description=item.get("description", ""),
            )
        )
    return tuple(out)


def _deployment_problem(
    item: Mapping[str, Any],
    created: datetime,
    completed: datetime | None,
    end: datetime,
    earlier: Sequence[Deployment],
) -> tuple[str, str] | None:
    """The field of ``item`` that contradicts the others or the history, and why."""
    status = item["status"]
    if completed is not None and completed < created:
        return "completeTime", "is before createTime"
    if (completed is None) != (status in RUNNING_STATUSES):
        needs = "needs" if completed is None else "has no"
        return "completeTime", f"a {status} deployment {needs} completeTime"
    if created >= end:
        return "createTime", "is after the last minute of the series"
    if earlier and created < earlier[-1].create_time:
        return "createTime", "deployments must be listed oldest first"
    if any(d.version == item["version"] for d in earlier):
        return "version", "listed twice"
    return None


def _expect(
    source: str,
    at: str,
    raw: Mapping[str, Any],
    deployments: Sequence[Deployment],
    onset: datetime | None,
) -> Expectation:
    decision = raw["decision"]
    problem = _expectation_problem(raw, deployments, onset)
    if problem is not None:
        key, message = problem
        raise ScenarioError(source, f"{at}.{key}", raw.get(key), message)
    succeeds = raw.get("rollback_succeeds")
    if decision == "rollback" and succeeds is None:
        succeeds = not any(d.rollback_fails for d in deployments)
    return Expectation(
        alarm_fires=raw["alarm_fires"],
        decision=decision,
        rollback_target=raw.get("rollback_target"),
        rollback_succeeds=succeeds,
        max_minutes_onset_to_rollback=raw.get("max_minutes_onset_to_rollback"),
        alarms=raw.get("alarms"),
    )


def _expectation_problem(
    raw: Mapping[str, Any], deployments: Sequence[Deployment], onset: datetime | None
) -> tuple[str, str] | None:
    """The field of an expect block that contradicts the others or the scenario, and why."""
    decision, rollback = raw["decision"], raw["decision"] == "rollback"
    if (decision is None) == raw["alarm_fires"]:
        return "decision", (
            "must be null exactly when alarm_fires is false "
            "(the rollback function runs only on an alarm)"
        )
    target = raw.get("rollback_target")
    if rollback and target not in {d.version for d in deployments}:
        return "rollback_target", "with decision rollback, name a version listed in deployments"
    if not rollback and target is not None:
        return "rollback_target", "only meaningful with decision rollback"
    if not rollback and raw.get("rollback_succeeds") is not None:
        return "rollback_succeeds", "true or false, and only with decision rollback"
    minutes = raw.get("max_minutes_onset_to_rollback")
    if minutes is not None and (onset is None or not rollback):
        return "max_minutes_onset_to_rollback", "needs a top-level onset and decision rollback"
    return None
