"""The severity tiers (docs/incident.md) as alarms routed by severity, and the service dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

from tests.support.templates import alarm_properties, metric_queries, service_template

ALARM = "AWS::CloudWatch::Alarm"


def _tiered(template: Template, name: str) -> dict[str, Any]:
    return alarm_properties(template, f"SeverityAlarms{name}")


@pytest.mark.parametrize(
    ("name", "severity", "topic"),
    [
        ("FiveXxRateWarning", "P2", "LowPriority"),
        ("FiveXxRateCritical", "P1", "Paging"),
        ("TwoXxDrop", "P1", "Paging"),
        ("FourXxSpike", "P2", "LowPriority"),
        ("Elb503Spike", "P1", "Paging"),
        ("Elb504Spike", "P1", "Paging"),
        ("TargetResponseTimeP99", "P1", "Paging"),
    ],
)
def test_severity_decides_tag_description_and_route(
    default_template: Template, name: str, severity: str, topic: str
) -> None:
    props = _tiered(default_template, name)
    assert {"Key": "severity", "Value": severity} in props["Tags"]
    assert props["AlarmDescription"].startswith(f"[{severity}]")
    (action,) = props["AlarmActions"]
    assert action["Ref"].startswith(topic)


def test_5xx_rate_tiers_use_the_severity_thresholds(default_template: Template) -> None:
    assert _tiered(default_template, "FiveXxRateWarning")["Threshold"] == 0.1
    assert _tiered(default_template, "FiveXxRateCritical")["Threshold"] == 1
    _, expression = metric_queries(_tiered(default_template, "FiveXxRateCritical"))
    assert "100 * (elb5xx + target5xx) / requests" in expression
    assert "FILL" not in expression
    # Only minutes whose 5xx counts have landed, with at least 20 requests, get a point.
    assert expression.startswith("IF((elb5xx + target5xx) > 0 AND requests >= 20,")


def test_2xx_drop_stays_quiet_below_the_traffic_guard(default_template: Template) -> None:
    props = _tiered(default_template, "TwoXxDrop")
    assert props["ComparisonOperator"] == "LessThanThreshold"
    assert props["TreatMissingData"] == "notBreaching"
    # A quiet minute, or one whose response counts have not landed, gives no point (no
    # false branch), and a missing point is not breaching.
    _, expression = metric_queries(props)
    assert expression.startswith(
        "IF((target2xx + target4xx + target5xx + elb4xx + elb5xx) > 0 AND requests >= 20,"
    )
    assert expression.endswith("100 * target2xx / requests)")


@pytest.mark.parametrize(
    ("metric", "description"),
    [
        ("HTTPCode_ELB_503_Count", "ALB-generated 503"),
        ("HTTPCode_ELB_504_Count", "ALB-generated 504"),
    ],
)
def test_503_and_504_alarms_watch_alb_generated_codes_and_page(
    default_template: Template, metric: str, description: str
) -> None:
    default_template.has_resource_properties(
        ALARM,
        {
            "Namespace": "AWS/ApplicationELB",
            "MetricName": metric,
            "Statistic": "Sum",
            "Period": 60,
            "AlarmDescription": Match.string_like_regexp(rf"^\[P1\] {description}"),
            "Tags": Match.array_with([{"Key": "severity", "Value": "P1"}]),
        },
    )


def test_p99_alarm_needs_three_of_five_minutes_of_slow_responses(
    default_template: Template,
) -> None:
    default_template.has_resource_properties(
        ALARM,
        {
            "MetricName": "TargetResponseTime",
            "ExtendedStatistic": "p99",
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "TreatMissingData": "notBreaching",
        },
    )


def test_dashboard_shows_the_502_signature_and_the_rollback_path(
    default_template: Template,
) -> None:
    (dashboard,) = default_template.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_Target_5XX_Count",
        "HTTPCode_ELB_502_Count",
        "HTTPCode_ELB_503_Count",
        "HTTPCode_ELB_504_Count",
        "RequestCount",
        "HealthyHostCount",
        "UnHealthyHostCount",
        "TargetResponseTime",
        "ApproximateNumberOfMessagesVisible",
        "Invocations",
        "Errors",
    ):
        assert metric in body, metric
    assert "p99" in body
    assert "p50" in body


def test_dashboard_shows_cloudfront_5xx_only_when_the_edge_exists(
    default_template: Template,
) -> None:
    with_edge = Capture()
    default_template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardBody": with_edge}
    )
    assert "5xxErrorRate" in json.dumps(with_edge.as_object())
    without = Capture()
    service_template({"edge.enabled": "false"}).has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardBody": without}
    )
    assert "5xxErrorRate" not in json.dumps(without.as_object())


def _widgets(template: Template) -> list[dict[str, Any]]:
    """The dashboard body as JSON, CloudFormation tokens replaced by a placeholder."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    widgets: list[dict[str, Any]] = json.loads(text)["widgets"]
    return widgets


def _metrics_of(widget: dict[str, Any]) -> list[tuple[str, str]]:
    """(metric name, stat) of each metric line of a graph widget."""
    found = []
    for line in widget["properties"].get("metrics", []):
        names = [x for x in line if isinstance(x, str)]
        options = next((x for x in line if isinstance(x, dict)), {})
        found.append((names[1], options.get("stat", "")))
    return found


def test_first_graph_puts_elb_5xx_beside_target_5xx(default_template: Template) -> None:
    graphs = [w for w in _widgets(default_template) if w["type"] == "metric"]
    first = graphs[0]
    assert "ELB 5xx vs target 5xx" in first["properties"]["title"]
    assert set(_metrics_of(first)) == {
        ("HTTPCode_ELB_5XX_Count", "Sum"),
        ("HTTPCode_Target_5XX_Count", "Sum"),
    }


def test_latency_graph_shows_p50_and_p99(default_template: Template) -> None:
    (latency,) = [
        w for w in _widgets(default_template) if "response time" in w["properties"].get("title", "")
    ]
    assert set(_metrics_of(latency)) == {
        ("TargetResponseTime", "p50"),
        ("TargetResponseTime", "p99"),
    }
