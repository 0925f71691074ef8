"""An API release scenario, and the model of how CodeDeploy shifts the ``live`` alias.

On the Lambda path the alias's weights decide which version answers, and the drill works
them out (an alarm stops the canary, the kit undoes a release), so a scenario
(``drill/scenarios/api-*.json``, the ``api_scenario`` variant of ``scenario_schema.json``)
gives the stage's requests per minute and, per version, the share of *its own* requests
answered with a caught 5xx (``Http5xx``), an unhandled error (``Errors``, API Gateway's 502)
or a throttle (fed to the Throttles alarms only: what API Gateway answers for one is not
modelled, so it is not counted as served); each release names its versions and its start.
``alias_shift`` follows the predefined configurations (CodeDeploy User Guide, "Deployment
configurations on an AWS Lambda compute platform"): canary X % for the interval then the
rest, linear X % per interval, or all at once, from ``createTime`` (BeforeAllowTraffic taken
as passed; its own tests cover a failing hook). A stop or an undo sends the alias back
through a new CodeDeploy deployment (CodeDeploy User Guide, "Deployments on an AWS Lambda
compute platform": a rollback redeploys a previous revision as a new deployment), whose
length AWS does not publish: ``ROLLBACK_S`` is an assumed range; the drill decides at its
long end, the worse for errors served, and reports both ends.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from drill.scenario import SCENARIOS_DIR, ScenarioError, _schema_error, _series, _time

# From a stop or undo to the old version answering everything. ASSUMED: AWS publishes no
# duration. Short end: a bare alias update; long end: a rollback deployment that waits out a
# BeforeAllowTraffic hook for the hook function's whole 5-minute timeout (not a bound).
ROLLBACK_S = (10, 300)
MINUTE = timedelta(minutes=1)
_STEPS = re.compile(r"Lambda(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?$")


@dataclass(frozen=True)
class Release:
    previous: str
    version: str
    create_time: datetime
    config: str | None


@dataclass(frozen=True)
class ApiScenario:
    name: str
    description: str
    start: datetime
    onset: datetime
    requests: tuple[float, ...]
    rates: Mapping[str, Mapping[str, tuple[float | None, ...]]]  # version -> metric -> shares
    releases: tuple[Release, ...]
    expect: Mapping[str, Any]

    @property
    def times(self) -> list[datetime]:
        return [self.start + MINUTE * i for i in range(len(self.requests))]

    @property
    def end(self) -> datetime:
        return self.start + MINUTE * len(self.requests)

    def rate(self, version: str, metric: str, minute: int) -> float:
        values = self.rates.get(version, {}).get(metric)
        return (values[minute] or 0.0) if values else 0.0


def shift_steps(config: str) -> list[tuple[int, float]]:
    """(minutes after the first shift, the new version's weight) of a predefined config."""
    if config.endswith("LambdaAllAtOnce"):
        return [(0, 1.0)]
    found = _STEPS.search(config)
    if found is None:
        raise ValueError(f"{config}: not a predefined Lambda deployment configuration")
    percent, interval = int(found[2]), int(found[3])
    if found[1] == "Canary":
        return [(0, percent / 100), (interval, 1.0)]
    return [(i * interval, min(1.0, (i + 1) * percent / 100)) for i in range(-(-100 // percent))]


def success_time(release: Release, group_config: str) -> datetime:
    """When CodeDeploy makes the last shift and the deployment succeeds, if not stopped."""
    return release.create_time + MINUTE * shift_steps(release.config or group_config)[-1][0]


@dataclass(frozen=True)
class Shift:
    """The alias over time: ``(since, {version: weight})`` in order."""

    steps: tuple[tuple[datetime, Mapping[str, float]], ...]

    def at(self, when: datetime) -> Mapping[str, float]:
        return [weights for since, weights in self.steps if since <= when][-1]

    def share(self, version: str, minute: datetime) -> float:
        """The version's weight averaged over the minute (requests spread evenly)."""
        inside = {t for t, _ in self.steps if minute < t < minute + MINUTE}
        cuts = itertools.pairwise(sorted({minute, minute + MINUTE} | inside))
        return sum((b - a).seconds * self.at(a).get(version, 0.0) for a, b in cuts) / 60


def alias_shift(
    scenario: ApiScenario,
    group_config: str,
    undo: Mapping[int, datetime],
    back_s: int = ROLLBACK_S[-1],
) -> Shift:
    """Every release's shifts as CodeDeploy plans them, cut short where ``undo`` (release
    index -> decision time) sends the alias back to the previous version ``back_s`` later."""
    first = (
        datetime.min.replace(tzinfo=scenario.start.tzinfo),
        {scenario.releases[0].previous: 1.0},
    )
    steps: list[tuple[datetime, Mapping[str, float]]] = [first]
    for index, release in enumerate(scenario.releases):
        back = undo.get(index)
        for minutes, weight in shift_steps(release.config or group_config):
            when = release.create_time + MINUTE * minutes
            if back is None or when <= back:  # a tie is the worse case: the shift goes ahead
                steps.append((when, {release.version: weight, release.previous: 1 - weight}))
        if back is not None:
            steps.append((back + timedelta(seconds=back_s), {release.previous: 1.0}))
    return Shift(tuple(sorted(steps, key=lambda step: step[0])))


def bundled_api_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("api-*.json"))


def load(name_or_path: str | Path) -> ApiScenario:
    path = Path(name_or_path)
    path = path if path.is_file() else SCENARIOS_DIR / f"{path.name.removesuffix('.json')}.json"
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")), source=str(path))
    except (OSError, json.JSONDecodeError) as err:
        raise ScenarioError(str(path), "(file)", str(name_or_path), str(err)) from None


def parse(data: Any, *, source: str = "scenario") -> ApiScenario:
    """Validate a decoded API scenario; raise ScenarioError naming the field and the value."""
    schema = json.loads((Path(__file__).parent / "scenario_schema.json").read_text("utf-8"))
    validator = Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/api_scenario"})
    error = best_match(validator.iter_errors(data))
    if error is not None:
        raise _schema_error(source, error)
    requests = _series(source, data["series"])["Count"]
    rates = {v: _series(source, dict(m)) for v, m in data["versions"].items() if m}
    for version, metrics in rates.items():
        if len(next(iter(metrics.values()))) != len(requests):
            raise ScenarioError(source, f"versions.{version}", version, "one value a minute")
    start, onset = _time(source, "start", data["start"]), _time(source, "onset", data["onset"])
    if not start <= onset < start + MINUTE * len(requests):
        raise ScenarioError(source, "onset", data["onset"], "must fall within the series")
    at = partial(_time, source, "createTime")
    releases = [
        Release(r["previous"], r["version"], at(r["createTime"]), r.get("config"))
        for r in data["deployments"]
    ]
    return ApiScenario(
        data["name"],
        data["description"].strip(),
        start,
        onset,
        tuple(v or 0.0 for v in requests),
        rates,
        tuple(releases),
        dict(data["expect"]),
    )
