"""An API release scenario, and the model of how CodeDeploy shifts the ``live`` alias.

The EC2 scenarios (``drill.scenario``) give the load balancer's metrics as they were
measured. A Lambda release is different: which version answers a request is decided by the
alias's weights, and those are what the drill must work out (an alarm stops the canary and
the alias goes back). So an API scenario (``kind: "api"``, the ``api_scenario`` variant of
``scenario_schema.json``, files ``drill/scenarios/api-*.json``) gives the stage's requests
per minute, and for each version the share of *its own* requests it answers with a caught
5xx (``Http5xx``), an unhandled error (Lambda ``Errors``, API Gateway's 502) or a throttle;
the deployment history names each release's previous and new version and start time.

``weights`` is the CodeDeploy model (CodeDeploy User Guide, "Deployment configurations on
an AWS Lambda compute platform"; CloudFormation Template Reference, TimeBasedCanary and
TimeBasedLinear): a canary shifts X % of the alias to the new version for the interval, then
the rest; a linear configuration adds X % every interval; all-at-once shifts everything.
The first shift is at ``createTime`` (the BeforeAllowTraffic hook is taken as passed
there: its own tests cover the failing case). A stop or an undo repoints the alias
``ALIAS_SHIFT_S`` after it is decided: a pointer change, stated as a model, not measured.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from drill.scenario import SCENARIOS_DIR, ScenarioError, _schema_error, _series, _time

KIND = "api"
# Seconds from a decision (CodeDeploy's stop, the kit's undo) to the alias's new weights:
# an UpdateAlias, no instance to drain or start. A stated model, not a measurement.
ALIAS_SHIFT_S = 10
MINUTE = timedelta(minutes=1)
_CANARY = re.compile(r"LambdaCanary(\d+)Percent(\d+)Minutes?$")
_LINEAR = re.compile(r"LambdaLinear(\d+)PercentEvery(\d+)Minutes?$")
RATES = ("Http5xx", "Errors", "Throttles")


@dataclass(frozen=True, kw_only=True)
class Release:
    previous: str
    version: str
    create_time: datetime
    config: str | None


@dataclass(frozen=True, kw_only=True)
class ApiScenario:
    name: str
    description: str
    start: datetime
    onset: datetime
    requests: tuple[float, ...]
    gateway_5xx: tuple[float, ...]
    rates: Mapping[str, Mapping[str, tuple[float, ...]]]  # version -> metric -> shares
    releases: tuple[Release, ...]
    expect: Mapping[str, Any]

    @property
    def minutes(self) -> int:
        return len(self.requests)

    @property
    def end(self) -> datetime:
        return self.start + MINUTE * self.minutes

    def rate(self, version: str, metric: str, minute: int) -> float:
        values = self.rates.get(version, {}).get(metric)
        return values[minute] if values else 0.0


def shift_steps(config: str) -> list[tuple[int, float]]:
    """(minutes after the first shift, new version's weight) for a predefined Lambda config."""
    if config.endswith("LambdaAllAtOnce"):
        return [(0, 1.0)]
    canary, linear = _CANARY.search(config), _LINEAR.search(config)
    if canary:
        percent, interval = int(canary[1]), int(canary[2])
        return [(0, percent / 100), (interval, 1.0)]
    if linear:
        percent, interval = int(linear[1]), int(linear[2])
        steps = -(-100 // percent)
        return [(i * interval, min(1.0, (i + 1) * percent / 100)) for i in range(steps)]
    raise ValueError(f"{config}: not a predefined Lambda deployment configuration")


@dataclass(frozen=True)
class Shift:
    """The alias over time: ``(from, {version: weight})`` in order, starting at -inf."""

    steps: tuple[tuple[datetime, Mapping[str, float]], ...]

    def at(self, when: datetime) -> Mapping[str, float]:
        current = self.steps[0][1]
        for since, weights in self.steps:
            if since <= when:
                current = weights
        return current

    def share(self, version: str, minute_start: datetime) -> float:
        """The version's time-averaged weight over the minute (requests spread evenly)."""
        cuts = sorted(
            {minute_start, minute_start + MINUTE}
            | {t for t, _ in self.steps if minute_start < t < minute_start + MINUTE}
        )
        total = sum(
            (b - a).total_seconds() * self.at(a).get(version, 0.0)
            for a, b in itertools.pairwise(cuts)
        )
        return total / 60


def planned(release: Release, group_config: str) -> tuple[list[tuple[datetime, float]], datetime]:
    """The new version's weight steps as CodeDeploy plans them, and when it would succeed."""
    steps = [
        (release.create_time + MINUTE * minutes, weight)
        for minutes, weight in shift_steps(release.config or group_config)
    ]
    return steps, steps[-1][0]


def alias_shift(scenario: ApiScenario, group_config: str, undo: Mapping[int, datetime]) -> Shift:
    """The alias's weights: every release as planned, cut short where ``undo`` (release
    index -> decision time) says the alias went back to the previous version."""
    first = scenario.releases[0].previous
    steps: list[tuple[datetime, Mapping[str, float]]] = [
        (datetime.min.replace(tzinfo=scenario.start.tzinfo), {first: 1.0})
    ]
    for index, release in enumerate(scenario.releases):
        back = undo.get(index)
        for when, weight in planned(release, group_config)[0]:
            if back is None or when < back:
                steps.append((when, {release.version: weight, release.previous: 1 - weight}))
        if back is not None:
            steps.append((back + timedelta(seconds=ALIAS_SHIFT_S), {release.previous: 1.0}))
    return Shift(tuple(sorted(steps, key=lambda s: s[0])))


# --- Loading ---------------------------------------------------------------------------------


def is_api(name_or_path: str | Path) -> bool:
    return Path(name_or_path).name.startswith("api-")


def bundled_api_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("api-*.json"))


def load(name_or_path: str | Path) -> ApiScenario:
    path = Path(name_or_path)
    if not path.is_file():
        path = SCENARIOS_DIR / f"{path.name.removesuffix('.json')}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ScenarioError(str(path), "(file)", str(name_or_path), str(err)) from None
    return parse(data, source=str(path))


def _validator() -> Draft202012Validator:
    schema = json.loads((Path(__file__).parent / "scenario_schema.json").read_text("utf-8"))
    return Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/api_scenario"})


def parse(data: Any, *, source: str = "scenario") -> ApiScenario:
    """Validate a decoded API scenario; raise ScenarioError naming the field and the value."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: len(list(e.absolute_path)))
    if errors:
        raise _schema_error(source, _deepest(errors))
    series = _series(source, data["series"])
    rates = {v: _series(source, dict(m)) for v, m in data["versions"].items() if m}
    minutes = len(series["Count"])
    for version, metrics in rates.items():
        if len(next(iter(metrics.values()))) != minutes:
            raise ScenarioError(source, f"versions.{version}", version, f"needs {minutes} minutes")
    start = _time(source, "start", data["start"])
    onset = _time(source, "onset", data["onset"])
    releases = tuple(
        Release(
            previous=r["previous"],
            version=r["version"],
            create_time=_time(source, f"deployments[{i}].createTime", r["createTime"]),
            config=r.get("config"),
        )
        for i, r in enumerate(data["deployments"])
    )
    scenario = ApiScenario(
        name=data["name"],
        description=data["description"].strip(),
        start=start,
        onset=onset,
        requests=tuple(v or 0.0 for v in series["Count"]),
        gateway_5xx=tuple(v or 0.0 for v in series.get("5XXError", (0.0,) * minutes)),
        rates={
            v: {m: tuple(x or 0.0 for x in s) for m, s in ms.items()} for v, ms in rates.items()
        },
        releases=releases,
        expect=dict(data["expect"]),
    )
    if not start <= onset < scenario.end:
        raise ScenarioError(source, "onset", data["onset"], "must fall within the series")
    return scenario


def _deepest(errors: list[ValidationError]) -> ValidationError:
    """The most specific finding (a ``$ref`` root reports its children's as context)."""
    error = errors[-1]
    while error.context:
        error = max(error.context, key=lambda e: len(list(e.absolute_path)))
    return error
