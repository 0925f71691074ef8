"""The ALB diagnosis: its one GetMetricData request and the rules that read the answer."""

from __future__ import annotations

from typing import Any

import pytest

from rollback.diagnosis import diagnose, metric_queries


def _results(**series: list[float]) -> list[dict[str, Any]]:
    return [
        {"Id": key, "Values": values, "StatusCode": "Complete"} for key, values in series.items()
    ]


def test_502_with_healthy_targets_and_no_target_5xx_means_malformed_responses() -> None:
    # Section 12: 1,847 ELB 5xx, 0 target 5xx, 22,104 requests, 6 healthy hosts
    results = _results(
        elb5xx=[600, 647, 600],
        elb502=[600, 647, 600],
        target5xx=[],
        requests=[7368, 7368, 7368],
        healthy=[6, 6, 6],
        unhealthy=[0, 0, 0],
    )

    found = diagnose(results, window_minutes=5)

    assert found.verdict == "malformed-response"
    assert "malformed or truncated responses" in found.summary
    assert found.facts["elb5xx"] == 1847
    assert found.facts["errorRatePercent"] == 8.4
    assert found.facts["healthyHosts"] == 6


def test_503_with_no_registered_target_points_at_registration_not_the_health_check() -> None:
    # 503: "the target groups for the load balancer have no registered targets" (ELB User
    # Guide, troubleshooting); healthy and unhealthy host counts are both 0.
    found = diagnose(_results(elb503=[80, 95], healthy=[0, 0], unhealthy=[0]), window_minutes=5)

    assert found.verdict == "no-registered-targets"
    assert "no registered targets" in found.summary
    assert "health-check" not in found.summary


def test_503_with_every_registered_target_unhealthy_names_fail_open() -> None:
    # All registered targets unhealthy: the ALB routes to all of them (fail open), so the
    # 503s need targets leaving the group as well.
    found = diagnose(_results(elb503=[80, 95], healthy=[0, 0], unhealthy=[4]), window_minutes=5)

    assert found.verdict == "503-all-unhealthy"
    assert "fails open" in found.summary
    assert "deregistered" in found.summary


def test_503_with_healthy_targets_points_at_registration() -> None:
    found = diagnose(_results(elb503=[80], healthy=[3], unhealthy=[0]), window_minutes=5)

    assert found.verdict == "elb-503"
    assert "no registered target" in found.summary


def test_504_means_targets_slower_than_the_idle_timeout() -> None:
    found = diagnose(
        _results(elb504=[40], healthy=[6], unhealthy=[0], latency=[58.2, 60.0]), window_minutes=5
    )

    assert found.verdict == "target-timeout"
    assert "slower than the ALB idle timeout" in found.summary
    assert found.facts["targetResponseTimeSeconds"] == 60.0


def test_dominant_target_5xx_means_the_application_fails() -> None:
    found = diagnose(_results(target5xx=[300], elb5xx=[2], elb502=[2]), window_minutes=5)

    assert found.verdict == "application-5xx"
    assert "application itself is returning 5xx" in found.summary


def test_502_with_unhealthy_targets_is_not_the_malformed_response_signature() -> None:
    found = diagnose(_results(elb502=[90], healthy=[4], unhealthy=[2]), window_minutes=5)

    assert found.verdict == "502-unhealthy-targets"


def test_missing_error_counts_read_as_zero_when_other_metrics_have_data() -> None:
    found = diagnose(_results(requests=[1000], healthy=[6]), window_minutes=5)

    assert found.verdict == "no-5xx"
    assert found.facts["elb5xx"] == 0


def test_healthy_hosts_take_the_worst_minute() -> None:
    found = diagnose(_results(elb503=[10], healthy=[3, 0, 2]), window_minutes=5)

    assert found.facts["healthyHosts"] == 0


@pytest.mark.parametrize(
    "results",
    [
        pytest.param([], id="empty-list"),
        pytest.param(None, id="none"),
        pytest.param("garbage", id="string"),
        pytest.param({"MetricDataResults": []}, id="dict"),
        pytest.param([{"Id": "elb5xx", "Values": []}], id="empty-series"),
        pytest.param([{"Values": [5]}, "x", 3], id="items-without-ids"),
        pytest.param([{"Id": "elb5xx", "Values": ["7", None, float("nan")]}], id="non-numbers"),
        pytest.param([{"Id": "elb5xx", "Values": "12"}], id="values-not-a-list"),
    ],
)
def test_missing_or_odd_data_degrades_to_not_enough_data(results: Any) -> None:
    found = diagnose(results, window_minutes=5)

    assert found.verdict == "not-enough-data"
    assert found.summary.startswith("not enough data")


def test_error_rate_is_unknown_without_requests() -> None:
    found = diagnose(_results(elb502=[10], healthy=[2], unhealthy=[0]), window_minutes=5)

    assert found.facts["errorRatePercent"] is None


def test_queries_ask_for_every_metric_in_one_request_with_the_right_dimensions() -> None:
    queries = metric_queries(load_balancer="app/lb/1", target_group="targetgroup/tg/2")

    by_name = {q["MetricStat"]["Metric"]["MetricName"]: q for q in queries}
    assert set(by_name) == {
        "HTTPCode_ELB_5XX_Count",
        "HTTPCode_ELB_502_Count",
        "HTTPCode_ELB_503_Count",
        "HTTPCode_ELB_504_Count",
        "HTTPCode_Target_5XX_Count",
        "RequestCount",
        "HealthyHostCount",
        "UnHealthyHostCount",
        "TargetResponseTime",
    }
    assert by_name["HealthyHostCount"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": "app/lb/1"},
        {"Name": "TargetGroup", "Value": "targetgroup/tg/2"},
    ]
    assert by_name["HTTPCode_ELB_502_Count"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": "app/lb/1"}
    ]
    assert all(q["Id"][0].islower() for q in queries)
