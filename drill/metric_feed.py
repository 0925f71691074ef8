"""The scenario's ALB datapoints, put to moto's CloudWatch as they land.

ALB publishes a minute's datapoints when the minute ends and they land in CloudWatch
``metric_delay`` later (see ``drill.runner``); a count is published only for a minute
with data unless the scenario says zeros are published (ELB User Guide, CloudWatch metrics
for your Application Load Balancer). A plain series key answers the four published
statistics; ``Name:Stat`` keys are served by the evaluator only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from drill.scenario import NAMESPACE, PLAIN_KEY_STATS, Scenario, is_count

PUT_METRIC_DATA_LIMIT = 1000  # datapoints per PutMetricData call


class MetricFeed:
    """Publishes each minute of ``scenario`` once, when it has landed."""

    def __init__(
        self,
        cloudwatch: Any,
        scenario: Scenario,
        metric_delay: timedelta,
        dimensions: Callable[[str], list[dict[str, str]]],
    ) -> None:
        self._cloudwatch = cloudwatch
        self._scenario = scenario
        self._delay = metric_delay
        self._dimensions = dimensions
        self._published: set[int] = set()

    def use_series(self, scenario: Scenario) -> None:
        """Serve these series from now on (minutes already published stay as they were)."""
        self._scenario = replace(self._scenario, series=scenario.series)

    def landing_time(self, minute_start: datetime) -> datetime:
        return minute_start + timedelta(seconds=self._scenario.period) + self._delay

    def publish_landed(self, when: datetime) -> None:
        data: list[dict[str, Any]] = []
        for index, minute in enumerate(self._scenario.timestamps()):
            if index in self._published or self.landing_time(minute) > when:
                continue
            self._published.add(index)
            data.extend(self._datapoints(index, minute))
        for start in range(0, len(data), PUT_METRIC_DATA_LIMIT):
            self._cloudwatch.put_metric_data(
                Namespace=NAMESPACE, MetricData=data[start : start + PUT_METRIC_DATA_LIMIT]
            )

    def _datapoints(self, index: int, minute: datetime) -> list[dict[str, Any]]:
        points = []
        plain = {key for key in self._scenario.series if ":" not in key}
        for key, values in self._scenario.series.items():
            name, _, stat = key.partition(":")
            value = values[index]
            if value is None or (stat and (stat not in PLAIN_KEY_STATS or name in plain)):
                continue
            if is_count(name) and value == 0 and not self._scenario.zero_counts_published:
                continue  # the load balancer publishes a count only when it is non-zero
            points.append(
                {
                    "MetricName": name,
                    "Dimensions": self._dimensions(name),
                    "Timestamp": minute,
                    "Value": value,
                    "Unit": "Seconds" if name == "TargetResponseTime" else "Count",
                }
            )
        return points
