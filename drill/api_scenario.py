"""An API release scenario, and how CodeDeploy moves the ``live`` alias through it.

A scenario (``drill/scenarios/api-*.json``, ``api_scenario`` in ``scenario_schema.json``)
gives the stage's requests a minute, each version's share of its own requests answered with
a caught 5xx (``Http5xx``), an unhandled error (``Errors``) or a throttle (``Throttles``,
fed to that alarm only), and the releases. The alias follows the predefined configurations
from ``createTime``, the BeforeAllowTraffic hook taken as passed (CodeDeploy User Guide,
"Deployment configurations on an AWS Lambda compute platform"); a stop or an undo sends it
back through a new deployment ("Deployments on an AWS Lambda compute platform") that takes
an assumed ``ROLLBACK_S``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from drill.scenario import SCENARIOS_DIR, ScenarioError, parse_series, parse_time, read, validate

# From a stop or undo to the old version answering everything. ASSUMED: AWS publishes no
# duration. Short end: a bare alias update; long end: a rollback deployment that waits out a
# BeforeAllowTraffic hook for the hook function's whole 5-minute timeout (not a bound).
ROLLBACK_S = (10, 300)
MINUTE = timedelta(minutes=1)
_CONFIG = re.compile(r"Lambda(?:(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?|AllAtOnce)$")


def shift_steps(config: str) -> list[tuple[int, float]]:
    """(minutes after the first shift, the new version's weight) of a predefined config."""
    found = _CONFIG.search(config)
    if found is None:
        raise ValueError(f"{config}: not a predefined Lambda deployment configuration")
    if found[1] is None:
        return [(0, 1.0)]
    percent, interval = int(found[2]), int(found[3])
    if found[1] == "Canary":
        return [(0, percent / 100), (interval, 1.0)]
    return [(i * interval, min(1.0, (i + 1) * percent / 100)) for i in range(-(-100 // percent))]


@dataclass(frozen=True)
class Release:
    previous: str
    version: str
    create_time: datetime
    config: str | None  # None: the group's

    def shifts(self, group_config: str) -> list[tuple[datetime, float]]:
        """When CodeDeploy moves the alias, and the new version's weight from then."""
        steps = shift_steps(self.config or group_config)
        return [(self.create_time + MINUTE * minutes, weight) for minutes, weight in steps]

    def success_time(self, group_config: str) -> datetime:
        """The last shift: the deployment succeeds then, if nothing stopped it."""
        return self.shifts(group_config)[-1][0]


class Undo(NamedTuple):
    """A release stopped or undone: when it was decided, by whom, how the release ended."""

    at: datetime
    why: str
    end: str


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

    @property
    def versions(self) -> frozenset[str]:  # every version a release moves the alias from or to
        return frozenset(v for r in self.releases for v in (r.previous, r.version))

    def rate(self, version: str, metric: str, minute: int) -> float:
        values = self.rates.get(version, {}).get(metric)
        return (values[minute] or 0.0) if values else 0.0


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
    scenario: ApiScenario, group_config: str, undo: Mapping[int, Undo], back_s: int
) -> Shift:
    """Every release's shifts as CodeDeploy plans them, cut short where ``undo`` sends the
    alias back to the previous version ``back_s`` after the decision."""
    steps = [(datetime.min.replace(tzinfo=UTC), {scenario.releases[0].previous: 1.0})]
    for index, release in enumerate(scenario.releases):
        back = undo[index].at if index in undo else None
        for when, weight in release.shifts(group_config):
            if back is None or when <= back:  # a tie is the worse case: the shift goes ahead
                steps.append((when, {release.version: weight, release.previous: 1 - weight}))
        if back is not None:
            steps.append((back + timedelta(seconds=back_s), {release.previous: 1.0}))
    return Shift(tuple(sorted(steps, key=lambda step: step[0])))


def bundled_api_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS_DIR.glob("api-*.json"))


def load(name_or_path: str | Path) -> ApiScenario:
    data, source = read(name_or_path, bundled_api_names())
    return parse(data, source=source)


def parse(data: Any, *, source: str = "scenario") -> ApiScenario:
    """Validate a decoded API scenario; raise ScenarioError naming the field and the value."""
    validate(data, source, "api_scenario")
    requests = tuple(v or 0.0 for v in parse_series(source, data["series"])["Count"])
    rates = {v: parse_series(source, dict(m)) for v, m in data["versions"].items() if m}
    for version, metrics in rates.items():
        if len(next(iter(metrics.values()))) != len(requests):
            raise ScenarioError(source, f"versions.{version}", version, "one value a minute")
    time = partial(parse_time, source)
    start, onset = time("start", data["start"]), time("onset", data["onset"])
    if not start <= onset < start + MINUTE * len(requests):
        raise ScenarioError(source, "onset", data["onset"], "must fall within the series")
    releases = tuple(
        Release(r["previous"], r["version"], time("createTime", r["createTime"]), r.get("config"))
        for r in data["deployments"]
    )
    name, text = data["name"], data["description"].strip()
    return ApiScenario(name, text, start, onset, requests, rates, releases, dict(data["expect"]))
