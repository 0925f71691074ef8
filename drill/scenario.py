"""Incident scenarios for the offline drill: a JSON format users can write, and its loader.

A scenario is the minute-by-minute world the kit's alarms would have seen (ALB metrics),
the deployment history the rollback function would have found, and the outcome the drill
must reproduce. The reference incident (the 502 incident the kit exists for) ships as
``scenarios/bad-release-502.json``;
the other bundled files cover the cases that tell a good alarm from a bad one. The format
is documented here and in ``drill/scenarios/README.md``::

    {
      "name": "bad-release-502",                 # required; lower-case, digits and dashes
      "description": "What happens and why.",  # required
      "start": "2026-11-24T14:30:00Z",         # required; ISO 8601 UTC, on a minute
      "period": 60,                            # optional; ALB publishes per minute: only 60
      "onset": "2026-11-24T14:45:00Z",         # optional; the first bad minute
      "load_balancer": "app/order-api/5f0c6b2e1a9d4c3b",   # optional; LoadBalancer dimension
      "zero_counts_published": false,          # optional; see "Zero counts" below
      "series": {                              # required; one value per minute from start
        "RequestCount": [4398, 4420, {"repeat": 28, "value": 4421}],
        "HTTPCode_ELB_502_Count": [{"repeat": 15, "value": null}, {"repeat": 15, "value": 369}],
        "TargetResponseTime:p99": [{"repeat": 30, "value": 0.21}]
      },
      "deployments": [                         # required (may be empty); oldest first
        {"version": "v2.3.2", "s3_key": "order-api-v2.3.2.zip",
         "createTime": "2026-11-24T14:41:30Z", "completeTime": "2026-11-24T14:44:00Z",
         "status": "Succeeded", "rollback_fails": false}
      ],
      "expect": {                              # required: what the drill asserts
        "alarm_fires": true,                   # a rollback alarm enters ALARM
        "decision": "rollback",                # "rollback", "skip", or null (not invoked)
        "rollback_target": "v2.3.1",           # version redeployed (with "rollback")
        "rollback_succeeds": true,             # false when a deployment has rollback_fails
        "max_minutes_onset_to_rollback": 5,    # needs "onset"
        "alarms": {"Elb5xxCount": true, "Target5xxRate": false}   # optional, per alarm
      }
    }

Series: keys are ``AWS/ApplicationELB`` metric names (ELB User Guide, "CloudWatch metrics
for your Application Load Balancer"), optionally with ``:<statistic>``. A plain key answers
the Sum, Average, Minimum and Maximum statistics (the minute's value); ``Name:p99`` answers
only that statistic, so latency percentiles are written ``TargetResponseTime:p50`` /
``TargetResponseTime:p99``. Each value is a number, ``null`` (no datapoint published), or
``{"repeat": N, "value": X}`` for N equal minutes. Every series must cover the same number
of minutes. If ``HTTPCode_ELB_5XX_Count`` is absent it is derived as the sum of the 500,
502, 503 and 504 splits; if present it must be at least their sum (it also counts other
5xx codes the load balancer generates).

Zero counts: the load balancer publishes a metric only for minutes with data (ELB User
Guide, same page), so by default a 0 in a count series (a metric whose name ends in
``Count``, except ``HealthyHostCount``/``UnHealthyHostCount``) is served to the alarms as
"no datapoint". That difference matters: CloudWatch treats a missing datapoint differently
from a zero (see ``drill.evaluator``). Set ``zero_counts_published`` to true to serve zeros.

Deployments carry CodeDeploy's own field names where it has them (``createTime``,
``completeTime``, ``status`` with the DeploymentInfo status values) so a user can copy them
from ``aws deploy get-deployment``. ``status`` and ``completeTime`` say how a deployment
ends if nobody intervenes: before its ``completeTime`` it is running (InProgress), and a
running status (Created, Queued, InProgress, Baking, Ready) has no ``completeTime``.
``rollback_fails`` marks a deployment whose rollback (the redeploy of the previous
revision) ends ``Failed``. Series describe the world if
nobody acts; the drill's runner decides what changes once a rollback completes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from drill.evaluator import SeriesStore

SCENARIOS_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = "bad-release-502"
NAMESPACE = "AWS/ApplicationELB"

# AWS/ApplicationELB metrics a scenario may describe (ELB User Guide, ALB metrics).
ALB_METRICS = (
    "ActiveConnectionCount",
    "HealthyHostCount",
    "HTTPCode_ELB_3XX_Count",
    "HTTPCode_ELB_4XX_Count",
    "HTTPCode_ELB_5XX_Count",
    "HTTPCode_ELB_500_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "HTTPCode_Target_2XX_Count",
    "HTTPCode_Target_3XX_Count",
    "HTTPCode_Target_4XX_Count",
    "HTTPCode_Target_5XX_Count",
    "NewConnectionCount",
    "ProcessedBytes",
    "RejectedConnectionCount",
    "RequestCount",
    "TargetConnectionErrorCount",
    "TargetResponseTime",
    "UnHealthyHostCount",
)
ELB_5XX_SPLITS = (
    "HTTPCode_ELB_500_Count",
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
)
PLAIN_KEY_STATS = ("Sum", "Average", "Minimum", "Maximum")
# CodeDeploy DeploymentInfo status values (CodeDeploy API Reference).
FINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
RUNNING_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
DECISIONS = ("rollback", "skip")
MAX_MINUTES = 7 * 24 * 60
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_STAT = re.compile(r"(Sum|Average|Minimum|Maximum|SampleCount|p\d{1,2}(\.\d+)?)")


class ScenarioError(ValueError):
    """A scenario file is invalid; the message names the file, the field and the value."""

    def __init__(self, source: str, field: str, value: Any, message: str) -> None:
        self.source = source
        self.field = field
        self.value = value
        shown = json.dumps(value) if _jsonable(value) else repr(value)
        super().__init__(f"{source}: {field}={shown}: {message}")


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class Deployment:
    version: str
    s3_key: str
    create_time: datetime
    complete_time: datetime | None
    status: str
    rollback_fails: bool = False
    description: str = ""


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
            suppress = not self.zero_counts_published and _is_count(name)
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


def _is_count(metric_name: str) -> bool:
    return metric_name.endswith("Count") and metric_name not in (
        "HealthyHostCount",
        "UnHealthyHostCount",
    )


# --- Loading ---------------------------------------------------------------------------------


def bundled_names() -> list[str]:
    """The scenarios shipped in ``drill/scenarios``."""
    return sorted(p.stem for p in SCENARIOS_DIR.glob("*.json"))


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
    """Validate a decoded scenario; raise ScenarioError naming the field and the value."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "(top level)", type(data).__name__, "must be an object")
    known = {
        "name",
        "description",
        "start",
        "period",
        "onset",
        "load_balancer",
        "zero_counts_published",
        "series",
        "deployments",
        "expect",
        "expect_by_m_of_n",
    }
    for key in data:
        if key not in known:
            raise ScenarioError(
                source, key, data[key], f"unknown field; allowed: {', '.join(sorted(known))}"
            )
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ScenarioError(source, "name", name, "required: lower-case letters, digits, dashes")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ScenarioError(source, "description", description, "required, non-empty text")
    period = data.get("period", 60)
    if period != 60:
        raise ScenarioError(
            source, "period", period, "must be 60: ALB metrics are published once a minute"
        )
    start = _time(source, "start", data.get("start"))
    if start.second or start.microsecond:
        raise ScenarioError(source, "start", data.get("start"), "must be on a whole minute")
    series = _series(source, data.get("series"))
    minutes = len(next(iter(series.values())))
    end = start + timedelta(minutes=minutes)
    onset = None
    if data.get("onset") is not None:
        onset = _time(source, "onset", data["onset"])
        if not start <= onset < end:
            raise ScenarioError(
                source,
                "onset",
                data["onset"],
                f"must fall within the series ({_iso(start)} .. {_iso(end)})",
            )
    load_balancer = data.get("load_balancer")
    if load_balancer is not None and (
        not isinstance(load_balancer, str) or not re.fullmatch(r"app/[^/]+/[^/]+", load_balancer)
    ):
        raise ScenarioError(
            source, "load_balancer", load_balancer, "expected the dimension value app/<name>/<id>"
        )
    zero = data.get("zero_counts_published", False)
    if not isinstance(zero, bool):
        raise ScenarioError(source, "zero_counts_published", zero, "must be true or false")
    deployments = _deployments(source, data.get("deployments"), end)
    expect = _expect(source, data.get("expect"), deployments, onset)
    by_m_of_n = data.get("expect_by_m_of_n", {})
    if not isinstance(by_m_of_n, dict):
        raise ScenarioError(source, "expect_by_m_of_n", by_m_of_n, 'an object of "M/N" -> expect')
    alternatives = {}
    for key, raw in by_m_of_n.items():
        found = re.fullmatch(r"([1-5])/([1-5])", str(key))
        if found is None or int(found[1]) > int(found[2]):
            raise ScenarioError(
                source, "expect_by_m_of_n", key, 'keys are "M/N" with 1 <= M <= N <= 5'
            )
        alternatives[key] = _expect(source, raw, deployments, onset)
    return Scenario(
        name=name,
        description=description.strip(),
        start=start,
        period=period,
        minutes=minutes,
        series=series,
        deployments=deployments,
        expect=expect,
        expect_by_m_of_n=alternatives,
        onset=onset,
        load_balancer=load_balancer,
        zero_counts_published=zero,
    )


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(source: str, field: str, raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ScenarioError(source, field, raw, "required: ISO 8601 UTC, e.g. 2026-11-24T14:30:00Z")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(
            source, field, raw, "not an ISO 8601 time, e.g. 2026-11-24T14:30:00Z"
        ) from None
    if when.utcoffset() != timedelta(0):
        raise ScenarioError(source, field, raw, "must be UTC (end with Z or +00:00)")
    return when.astimezone(UTC)


def _series(source: str, raw: Any) -> dict[str, tuple[float | None, ...]]:
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(source, "series", raw, "required: an object of metric -> values")
    series: dict[str, tuple[float | None, ...]] = {}
    for key, items in raw.items():
        field = f"series.{key}"
        name, _, stat = key.partition(":")
        if name not in ALB_METRICS:
            raise ScenarioError(
                source,
                field,
                key,
                f"unknown AWS/ApplicationELB metric; known: {', '.join(ALB_METRICS)}",
            )
        if stat and not _STAT.fullmatch(stat):
            raise ScenarioError(
                source,
                field,
                key,
                "statistic must be Sum, Average, Minimum, Maximum, SampleCount "
                "or pNN (e.g. TargetResponseTime:p99)",
            )
        series[key] = _values(source, field, items)
    lengths = {key: len(values) for key, values in series.items()}
    if len(set(lengths.values())) != 1:
        raise ScenarioError(
            source, "series", lengths, "every series must cover the same number of minutes"
        )
    minutes = next(iter(lengths.values()))
    if not 1 <= minutes <= MAX_MINUTES:
        raise ScenarioError(source, "series", minutes, f"must cover 1..{MAX_MINUTES} minutes")
    _check_elb_5xx(source, series)
    return series


def _values(source: str, field: str, items: Any) -> tuple[float | None, ...]:
    if not isinstance(items, list) or not items:
        raise ScenarioError(source, field, items, "must be a non-empty list of values")
    out: list[float | None] = []
    for i, item in enumerate(items):
        at = f"{field}[{i}]"
        if isinstance(item, dict):
            if set(item) != {"repeat", "value"}:
                raise ScenarioError(source, at, item, 'a segment is {"repeat": N, "value": X}')
            repeat = item["repeat"]
            if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
                raise ScenarioError(source, f"{at}.repeat", repeat, "must be an integer >= 1")
            out.extend([_value(source, f"{at}.value", item["value"])] * repeat)
        else:
            out.append(_value(source, at, item))
        if len(out) > MAX_MINUTES:
            raise ScenarioError(source, field, len(out), f"longer than {MAX_MINUTES} minutes")
    return tuple(out)


def _value(source: str, field: str, raw: Any) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw < 0:
        raise ScenarioError(source, field, raw, "must be a number >= 0 or null")
    return float(raw)


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


def _deployments(source: str, raw: Any, end: datetime) -> tuple[Deployment, ...]:
    if not isinstance(raw, list):
        raise ScenarioError(source, "deployments", raw, "required: a list (may be empty)")
    out: list[Deployment] = []
    allowed = {
        "version",
        "s3_key",
        "createTime",
        "completeTime",
        "status",
        "rollback_fails",
        "description",
    }
    for i, item in enumerate(raw):
        at = f"deployments[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(source, at, item, "must be an object")
        for key in item:
            if key not in allowed:
                raise ScenarioError(
                    source,
                    f"{at}.{key}",
                    item[key],
                    f"unknown field; allowed: {', '.join(sorted(allowed))}",
                )
        for key in ("version", "s3_key"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise ScenarioError(source, f"{at}.{key}", item.get(key), "required text")
        status = item.get("status")
        if status not in FINAL_STATUSES + RUNNING_STATUSES:
            raise ScenarioError(
                source,
                f"{at}.status",
                status,
                f"one of {', '.join(FINAL_STATUSES + RUNNING_STATUSES)}",
            )
        created = _time(source, f"{at}.createTime", item.get("createTime"))
        completed = None
        if item.get("completeTime") is not None:
            completed = _time(source, f"{at}.completeTime", item["completeTime"])
            if completed < created:
                raise ScenarioError(
                    source, f"{at}.completeTime", item["completeTime"], "is before createTime"
                )
        if (completed is None) != (status in RUNNING_STATUSES):
            raise ScenarioError(
                source,
                f"{at}.completeTime",
                item.get("completeTime"),
                f"a {status} deployment "
                + ("needs" if completed is None else "has no")
                + " completeTime",
            )
        if created >= end:
            raise ScenarioError(
                source,
                f"{at}.createTime",
                item["createTime"],
                "is after the last minute of the series",
            )
        if out and created < out[-1].create_time:
            raise ScenarioError(
                source,
                f"{at}.createTime",
                item["createTime"],
                "deployments must be listed oldest first",
            )
        if any(d.version == item["version"] for d in out):
            raise ScenarioError(source, f"{at}.version", item["version"], "listed twice")
        fails = item.get("rollback_fails", False)
        if not isinstance(fails, bool):
            raise ScenarioError(source, f"{at}.rollback_fails", fails, "must be true or false")
        out.append(
            Deployment(
                version=item["version"],
                s3_key=item["s3_key"],
                create_time=created,
                complete_time=completed,
                status=status,
                rollback_fails=fails,
                description=str(item.get("description", "")),
            )
        )
    return tuple(out)


def _expect(
    source: str, raw: Any, deployments: Sequence[Deployment], onset: datetime | None
) -> Expectation:
    if not isinstance(raw, dict):
        raise ScenarioError(source, "expect", raw, "required: an object")
    allowed = {
        "alarm_fires",
        "decision",
        "rollback_target",
        "rollback_succeeds",
        "max_minutes_onset_to_rollback",
        "alarms",
    }
    for key in raw:
        if key not in allowed:
            raise ScenarioError(
                source,
                f"expect.{key}",
                raw[key],
                f"unknown field; allowed: {', '.join(sorted(allowed))}",
            )
    fires = raw.get("alarm_fires")
    if not isinstance(fires, bool):
        raise ScenarioError(source, "expect.alarm_fires", fires, "required: true or false")
    if "decision" not in raw:
        raise ScenarioError(
            source, "expect.decision", None, f"required: one of {', '.join(DECISIONS)} or null"
        )
    decision = raw["decision"]
    if decision is not None and decision not in DECISIONS:
        raise ScenarioError(
            source, "expect.decision", decision, f"one of {', '.join(DECISIONS)} or null"
        )
    if (decision is None) == fires:
        raise ScenarioError(
            source,
            "expect.decision",
            decision,
            "must be null exactly when alarm_fires is false "
            "(the rollback function runs only on an alarm)",
        )
    target = raw.get("rollback_target")
    if decision == "rollback":
        if target not in {d.version for d in deployments}:
            raise ScenarioError(
                source,
                "expect.rollback_target",
                target,
                "with decision rollback, name a version listed in deployments",
            )
    elif target is not None:
        raise ScenarioError(
            source, "expect.rollback_target", target, "only meaningful with decision rollback"
        )
    succeeds = raw.get("rollback_succeeds")
    if succeeds is not None and (not isinstance(succeeds, bool) or decision != "rollback"):
        raise ScenarioError(
            source,
            "expect.rollback_succeeds",
            succeeds,
            "true or false, and only with decision rollback",
        )
    if decision == "rollback" and succeeds is None:
        succeeds = not any(d.rollback_fails for d in deployments)
    minutes = raw.get("max_minutes_onset_to_rollback")
    if minutes is not None:
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ScenarioError(
                source, "expect.max_minutes_onset_to_rollback", minutes, "must be an integer >= 1"
            )
        if onset is None or decision != "rollback":
            raise ScenarioError(
                source,
                "expect.max_minutes_onset_to_rollback",
                minutes,
                "needs a top-level onset and decision rollback",
            )
    alarms = raw.get("alarms")
    if alarms is not None and (
        not isinstance(alarms, dict)
        or not all(isinstance(k, str) and k and isinstance(v, bool) for k, v in alarms.items())
    ):
        raise ScenarioError(
            source, "expect.alarms", alarms, "an object of alarm logical-id fragment -> true/false"
        )
    return Expectation(
        alarm_fires=fires,
        decision=decision,
        rollback_target=target,
        rollback_succeeds=succeeds,
        max_minutes_onset_to_rollback=minutes,
        alarms=alarms,
    )
