"""Incident scenarios for the offline drill: a JSON format users can write, and its loader.

A scenario holds the minute-by-minute ALB metrics the kit's alarms would have seen, the
CodeDeploy history the rollback function would have found (DeploymentInfo's field names and
statuses, CodeDeploy API Reference) and the outcome the drill must reproduce, as
``drill/scenarios/README.md`` documents. ``scenario_schema.json`` states every rule about one
field or object; ``parse`` checks the rest. The load balancer publishes a count only for
minutes with data (ELB User Guide, "CloudWatch metrics for your Application Load Balancer"),
so a 0 in a count series reaches the alarms as no datapoint unless ``zero_counts_published``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drill import schemas
from drill.alarm_spec import SeriesStore
from drill.assembly import ALB_NAMESPACE

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = "bad-release-502"

ELB_5XX_SPLITS = tuple(f"HTTPCode_ELB_{code}_Count" for code in (500, 502, 503, 504))
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
        self.field = field
        self.value = value
        super().__init__(f"{source}: {field}={json.dumps(value, default=repr)}: {message}")


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
    minutes: int
    series: Mapping[str, tuple[float | None, ...]]
    deployments: tuple[Deployment, ...]
    expect: Expectation
    # For kits whose rollback alarms need another M of N datapoints, keyed "M/N".
    expect_by_m_of_n: Mapping[str, Expectation] = field(default_factory=dict)
    onset: datetime | None = None
    period: int = 60
    load_balancer: str | None = None
    zero_counts_published: bool = False

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.period * self.minutes)

    def timestamps(self) -> list[datetime]:
        return [self.start + timedelta(seconds=self.period * i) for i in range(self.minutes)]

    def metric_source(self) -> SeriesStore:
        """The series as CloudWatch would serve them to the alarms (a MetricSource)."""
        store = SeriesStore()
        times = self.timestamps()
        for key, values in self.series.items():
            name, _, stat = key.partition(":")
            unpublished = 0.0 if is_count(name) and not self.zero_counts_published else None
            points = {
                t: v for t, v in zip(times, values, strict=True) if v not in (None, unpublished)
            }
            for each in (stat,) if stat else PLAIN_KEY_STATS:
                store.add(ALB_NAMESPACE, name, each, points)
        return store

    def expectation_for(self, datapoints_to_alarm: int, evaluation_periods: int) -> Expectation:
        """The expect block for rollback alarms that need M of N datapoints."""
        return self.expect_by_m_of_n.get(f"{datapoints_to_alarm}/{evaluation_periods}", self.expect)

    def deployment(self, version: str) -> Deployment:
        return {d.version: d for d in self.deployments}[version]


def is_count(metric_name: str) -> bool:
    """A count the load balancer publishes only for minutes with data."""
    return metric_name.endswith("Count") and metric_name not in HOST_COUNTS


def bundled_names() -> list[str]:
    """The scenarios shipped in ``drill/scenarios`` (``api-*`` ones are ``drill.api_scenario``'s)."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.json") if not p.stem.startswith("api-"))


def read(name_or_path: str | Path, bundled: list[str]) -> tuple[Any, str]:
    """A scenario file's decoded JSON and its path, found by path or else by bundled name."""
    path = Path(name_or_path)
    if not path.is_file():
        path = SCENARIOS_DIR / f"{path.name.removesuffix('.json')}.json"
    if not path.is_file():
        why = f"no such file or bundled scenario; bundled: {', '.join(bundled)}"
        raise ScenarioError(str(name_or_path), "(file)", str(name_or_path), why)
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except json.JSONDecodeError as err:
        raise ScenarioError(str(path), "(file)", None, f"not valid JSON: {err}") from None


def load(name_or_path: str | Path) -> Scenario:
    """Load a bundled scenario by name, or any scenario file by path."""
    data, source = read(name_or_path, bundled_names())
    return parse(data, source=source)


def parse(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate a decoded scenario; raise ScenarioError naming the field and the value."""
    validate(data, source)
    start = parse_time(source, "start", data["start"])
    series = parse_series(source, data["series"])
    minutes = len(next(iter(series.values())))
    end = start + timedelta(minutes=minutes)
    onset = parse_time(source, "onset", data["onset"]) if data.get("onset") else None
    if onset is not None and not start <= onset < end:
        window = f"{start:%Y-%m-%dT%H:%M:%SZ} .. {end:%Y-%m-%dT%H:%M:%SZ}"
        why = f"must fall within the series ({window})"
        raise ScenarioError(source, "onset", data["onset"], why)
    deployments = _deployments(source, data["deployments"], end)
    as_given = ("name", "period", "load_balancer", "zero_counts_published")
    return Scenario(
        **{key: data[key] for key in as_given if key in data},
        description=data["description"].strip(),
        start=start,
        minutes=minutes,
        series=series,
        deployments=deployments,
        expect=_expect(source, "expect", data["expect"], deployments),
        expect_by_m_of_n={
            key: _expect(source, f"expect_by_m_of_n.{key}", raw, deployments)
            for key, raw in data.get("expect_by_m_of_n", {}).items()
        },
        onset=onset,
    )


SCHEMA_FILE = "scenario_schema.json"


def validate(data: Any, source: str, definition: str | None = None) -> None:
    """Raise the schema's best finding (of the whole schema, or of one of its ``$defs``) as
    file, field, value and the failing schema's text."""
    if (error := schemas.finding(schemas.validator(SCHEMA_FILE, definition), data)) is None:
        return
    path, value, schema = list(error.absolute_path), error.instance, error.schema
    message = str(schema.get("description", error.message))
    if error.validator == "additionalProperties":
        key = next(k for k in value if k not in schema["properties"])
        allowed = ", ".join(sorted(schema["properties"]))
        path, value, message = [*path, key], value[key], f"unknown field; allowed: {allowed}"
    elif error.validator == "required":
        key = next(k for k in schema["required"] if k not in value)
        wanted = schema["properties"][key].get("description", "")
        path, value, message = [*path, key], None, f"required: {wanted}".rstrip(": ")
    elif "propertyNames" in error.absolute_schema_path:
        path = [*path, value]  # a bad key: the field is the key itself
    raise ScenarioError(source, schemas.field(path) or "(top level)", value, message)


def parse_time(source: str, field: str, raw: str) -> datetime:
    """A time the schema's pattern admits, unless the calendar does not (a 31 November)."""
    try:
        return datetime.fromisoformat(raw).astimezone(UTC)
    except ValueError as err:
        raise ScenarioError(source, field, raw, f"not a time: {err}") from None


def parse_series(source: str, raw: dict[str, list[Any]]) -> dict[str, tuple[float | None, ...]]:
    runs = {
        key: [(i["value"], i["repeat"]) if isinstance(i, dict) else (i, 1) for i in items]
        for key, items in raw.items()
    }
    # Lengths are checked before the runs are expanded, so a huge file costs no memory.
    lengths = {key: sum(n for _, n in each) for key, each in runs.items()}
    for key, length in lengths.items():
        if length > MAX_MINUTES:
            why = f"a series covers at most {MAX_MINUTES} minutes (a week)"
            raise ScenarioError(source, f"series.{key}", length, why)
    if len(set(lengths.values())) != 1:
        why = "every series must cover the same number of minutes"
        raise ScenarioError(source, "series", lengths, why)
    series = {
        key: tuple(None if v is None else float(v) for v, n in each for _ in range(n))
        for key, each in runs.items()
    }
    _add_elb_5xx_total(source, series)
    return series


def _add_elb_5xx_total(source: str, series: dict[str, tuple[float | None, ...]]) -> None:
    """The 5XX total is at least its splits' sum each minute, and is that sum if left out."""
    splits = [series[k] for k in ELB_5XX_SPLITS if k in series]
    if not splits:
        return
    summed = [sum(v or 0.0 for v in minute) for minute in zip(*splits, strict=True)]
    total = series.setdefault("HTTPCode_ELB_5XX_Count", tuple(v or None for v in summed))
    for i, (whole, part) in enumerate(zip(total, summed, strict=True)):
        if (whole or 0.0) < part:
            why = f"is below the sum of the 500/502/503/504 splits for that minute ({part})"
            raise ScenarioError(source, f"series.HTTPCode_ELB_5XX_Count[{i}]", whole, why)


def _deployments(source: str, raw: list[dict[str, Any]], end: datetime) -> tuple[Deployment, ...]:
    out: list[Deployment] = []
    for i, item in enumerate(raw):
        at = f"deployments[{i}]"
        created = parse_time(source, f"{at}.createTime", item["createTime"])
        done = item.get("completeTime")
        completed = parse_time(source, f"{at}.completeTime", done) if done else None
        checks = (
            ("completeTime", bool(completed and completed < created), "is before createTime"),
            ("createTime", created >= end, "is after the last minute of the series"),
            ("createTime", any(created < d.create_time for d in out), "list them oldest first"),
            ("version", any(d.version == item["version"] for d in out), "listed twice"),
        )
        for key, failed, message in checks:
            if failed:
                raise ScenarioError(source, f"{at}.{key}", item.get(key), message)
        rest = {key: value for key, value in item.items() if not key.endswith("Time")}
        out.append(Deployment(**rest, create_time=created, complete_time=completed))
    return tuple(out)


def _expect(source: str, at: str, raw: Any, deployments: Sequence[Deployment]) -> Expectation:
    rollback = raw["decision"] == "rollback"
    if rollback and raw["rollback_target"] not in {d.version for d in deployments}:
        why = "with decision rollback, name a version listed in deployments"
        raise ScenarioError(source, f"{at}.rollback_target", raw["rollback_target"], why)
    succeeds = raw.get("rollback_succeeds")
    if rollback and succeeds is None:
        succeeds = not any(d.rollback_fails for d in deployments)
    return Expectation(**{**raw, "rollback_succeeds": succeeds})
