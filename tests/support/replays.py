"""Replaying hand-made alarms over per-minute series: what the evaluator's tests share.

``count_alarm`` and ``rate_alarm`` are ``AWS::CloudWatch::Alarm`` properties as
``cdk synth`` writes them; ``store`` builds per-minute Sum series from ``T0`` and
``states`` replays an alarm over them, one state per evaluation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from drill.alarm_spec import AlarmSpec, SeriesStore
from drill.evaluator import replay
from tests.support.alarms import ELB, metric_stat

T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def count_alarm(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "AlarmDescription": "ALB-generated 5xx per minute above 50",
        "ComparisonOperator": "GreaterThanThreshold",
        "DatapointsToAlarm": 1,
        "Dimensions": [
            {
                "Name": "LoadBalancer",
                "Value": {"Fn::GetAtt": ["ServiceLoadBalancer31A7DB79", "LoadBalancerFullName"]},
            }
        ],
        "EvaluationPeriods": 1,
        "MetricName": "HTTPCode_ELB_5XX_Count",
        "Namespace": ELB,
        "Period": 60,
        "Statistic": "Sum",
        "Threshold": 50,
        "TreatMissingData": "notBreaching",
    }
    props.update(overrides)
    return props


def rate_alarm(expression: str, threshold: float = 1.0) -> dict[str, Any]:
    return {
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
        "Metrics": [
            {"Expression": expression, "Id": "expr_1", "Label": "ELB 5xx %", "ReturnData": True},
            metric_stat("errors", "HTTPCode_ELB_5XX_Count"),
            metric_stat("requests", "RequestCount"),
        ],
        "Threshold": threshold,
        "TreatMissingData": "notBreaching",
    }


def store(**series: list[float | None]) -> SeriesStore:
    """Per-minute Sum series from T0, by metric name; None means no datapoint published."""
    out = SeriesStore()
    for name, values in series.items():
        out.add(ELB, name, "Sum", {minute(i): v for i, v in enumerate(values) if v is not None})
    return out


def states(alarm: AlarmSpec, source: SeriesStore, minutes: int) -> list[str]:
    result = replay(alarm, source, start=T0, end=minute(minutes))
    return [step.state for step in result.steps]
