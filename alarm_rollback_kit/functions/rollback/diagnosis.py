"""Turns one GetMetricData answer about the ALB into a short, figure-backed explanation.

``metric_queries`` builds the single GetMetricData request (namespace AWS/ApplicationELB);
``diagnose`` reads its ``MetricDataResults`` and applies these rules (ELB User Guide,
"Troubleshoot your Application Load Balancers" and "CloudWatch metrics for your ALB";
docs/aws-behaviours.md):
- ALB-generated 502 with every target healthy and HTTPCode_Target_5XX_Count = 0: targets
  answer with malformed or truncated responses (the post-deploy 502 signature);
- ALB-generated 503: the target group has no *registered* targets. When every registered
  target is unhealthy the ALB fails open and routes to all of them, so "all unhealthy"
  alone does not make 503s: look at what deregistered the targets (a deployment blocking
  traffic, Auto Scaling replacing instances) before the health check;
- 504: targets slower than the ALB idle timeout;
- more target 5xx than ALB 5xx: the application itself is failing.
ALB error counts are only published when non-zero, so a missing count reads as 0 once any
other metric has data; with no data at all the answer is "not enough data", never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NAMESPACE = "AWS/ApplicationELB"
PERIOD_SECONDS = 60

# (query id, metric name, statistic, needs the TargetGroup dimension, how minutes combine)
_METRICS: tuple[tuple[str, str, str, bool, str], ...] = (
    ("elb5xx", "HTTPCode_ELB_5XX_Count", "Sum", False, "sum"),
    ("elb502", "HTTPCode_ELB_502_Count", "Sum", False, "sum"),
    ("elb503", "HTTPCode_ELB_503_Count", "Sum", False, "sum"),
    ("elb504", "HTTPCode_ELB_504_Count", "Sum", False, "sum"),
    ("target5xx", "HTTPCode_Target_5XX_Count", "Sum", False, "sum"),
    ("requests", "RequestCount", "Sum", False, "sum"),
    ("healthy", "HealthyHostCount", "Minimum", True, "min"),
    ("unhealthy", "UnHealthyHostCount", "Maximum", True, "max"),
    ("latency", "TargetResponseTime", "Average", False, "max"),
)
_COUNT_IDS = ("elb5xx", "elb502", "elb503", "elb504", "target5xx", "requests")


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    verdict: str
    summary: str
    facts: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "summary": self.summary, "facts": dict(self.facts)}


def metric_queries(*, load_balancer: str, target_group: str) -> list[dict[str, Any]]:
    """The MetricDataQueries for one GetMetricData call, one per metric, 60 s periods."""
    queries: list[dict[str, Any]] = []
    for query_id, metric_name, stat, per_target_group, _ in _METRICS:
        dimensions = [{"Name": "LoadBalancer", "Value": load_balancer}]
        if per_target_group:
            dimensions.append({"Name": "TargetGroup", "Value": target_group})
        queries.append(
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": metric_name,
                        "Dimensions": dimensions,
                    },
                    "Period": PERIOD_SECONDS,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
        )
    return queries


LAMBDA_RELEASE = "lambda-release"


def lambda_release(window_minutes: int) -> Diagnosis:
    """A Lambda group has no ALB to read: the alarm itself is the evidence (no metric call)."""
    return Diagnosis(
        verdict=LAMBDA_RELEASE,
        summary=(
            "a Lambda alias release: no load balancer metrics to read; the alarm that fired "
            "(caught Http5xx of the version, Lambda Errors or Throttles on the alias, or the "
            "stage's 5XXError) is the evidence"
        ),
        facts={"windowMinutes": window_minutes},
    )


def unavailable(window_minutes: int, why: str) -> Diagnosis:
    return Diagnosis(
        verdict="not-enough-data",
        summary=f"not enough data to diagnose: {why}",
        facts={"windowMinutes": window_minutes},
    )


def diagnose(results: object, *, window_minutes: int) -> Diagnosis:
    """Explain a GetMetricData ``MetricDataResults`` list; any odd input degrades gracefully."""
    series = _series(results)
    if not any(series.values()):
        return unavailable(window_minutes, f"no ALB datapoints in the last {window_minutes} min")

    combine = {query_id: how for query_id, _, _, _, how in _METRICS}
    value = {k: _combine(series.get(k, []), combine[k]) for k in combine}
    counts = {k: int(value[k] or 0) for k in _COUNT_IDS}
    elb5xx = max(counts["elb5xx"], counts["elb502"] + counts["elb503"] + counts["elb504"])
    target5xx, requests = counts["target5xx"], counts["requests"]
    healthy = None if value["healthy"] is None else int(value["healthy"])
    unhealthy = None if value["unhealthy"] is None else int(value["unhealthy"])
    latency = value["latency"]
    facts: dict[str, Any] = {
        "windowMinutes": window_minutes,
        "elb5xx": elb5xx,
        "elb502": counts["elb502"],
        "elb503": counts["elb503"],
        "elb504": counts["elb504"],
        "target5xx": target5xx,
        "requests": requests,
        "errorRatePercent": (
            round(100.0 * (elb5xx + target5xx) / requests, 1) if requests else None
        ),
        "healthyHosts": healthy,
        "unhealthyHosts": unhealthy,
        "targetResponseTimeSeconds": None if latency is None else round(latency, 3),
    }
    verdict, meaning = _rule(facts)
    return Diagnosis(verdict=verdict, summary=f"{_figures(facts)}. Meaning: {meaning}", facts=facts)


def _rule(f: Mapping[str, Any]) -> tuple[str, str]:
    elb5xx, target5xx = f["elb5xx"], f["target5xx"]
    healthy, unhealthy = f["healthyHosts"], f["unhealthyHosts"]
    if elb5xx == 0 and target5xx == 0:
        return (
            "no-5xx",
            f"no 5xx in the last {f['windowMinutes']} min: the errors stopped or their "
            "datapoints are older than the window",
        )
    if target5xx > elb5xx:
        return (
            "application-5xx",
            "the application itself is returning 5xx — look at the release's error logs",
        )
    split = {"502": f["elb502"], "503": f["elb503"], "504": f["elb504"]}
    dominant = max(split, key=lambda code: split[code])
    if split[dominant] == 0:
        return (
            "elb-5xx-other",
            "the load balancer generated 5xx other than 502/503/504 (e.g. 500 from a listener "
            "rule or authentication action): check the listener configuration",
        )
    if dominant == "502":
        if healthy and not unhealthy and target5xx == 0:
            return (
                "malformed-response",
                "targets are sending malformed or truncated responses — look at the release's "
                "response handling (ALB access logs show target_status_code '-')",
            )
        if unhealthy:
            return (
                "502-unhealthy-targets",
                "targets are crashing or closing connections while unhealthy — look at "
                "startup, out-of-memory kills and keep-alive settings",
            )
        return (
            "elb-502",
            "targets closed connections or sent invalid responses; target health is unknown",
        )
    if dominant == "503":
        if healthy == 0 and not unhealthy:
            return (
                "no-registered-targets",
                "the target group has no registered targets: a deployment blocked traffic to "
                "every instance or Auto Scaling removed them; restore registration and capacity",
            )
        if not healthy and unhealthy:
            return (
                "503-all-unhealthy",
                "every registered target is unhealthy, but the load balancer fails open and "
                "routes to them anyway, so these 503s mean targets were deregistered during "
                "the window (Auto Scaling replacing them?); check that, then the health-check "
                "path and success codes",
            )
        return (
            "elb-503",
            "some requests found no registered target (targets draining, deregistered or "
            "not yet registered); check capacity and registration",
        )
    return (
        "target-timeout",
        "targets slower than the ALB idle timeout — look for slow dependencies; 504s are not "
        "safe to retry blindly",
    )


def _figures(f: Mapping[str, Any]) -> str:
    rate = f["errorRatePercent"]
    parts = [
        f"last {f['windowMinutes']} min: ALB 5xx {f['elb5xx']} "
        f"(502={f['elb502']}, 503={f['elb503']}, 504={f['elb504']})",
        f"target 5xx {f['target5xx']}",
        f"requests {f['requests']}" + (f" (5xx rate {rate}%)" if rate is not None else ""),
        "healthy hosts "
        + ("unknown" if f["healthyHosts"] is None else str(f["healthyHosts"]))
        + ", unhealthy "
        + ("unknown" if f["unhealthyHosts"] is None else str(f["unhealthyHosts"])),
    ]
    if f["targetResponseTimeSeconds"] is not None:
        parts.append(f"target response time {f['targetResponseTimeSeconds']} s")
    return "; ".join(parts)


def _series(results: object) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    if not isinstance(results, Sequence) or isinstance(results, str | bytes):
        return series
    for item in results:
        if not isinstance(item, Mapping) or not isinstance(item.get("Id"), str):
            continue
        values = item.get("Values")
        if not isinstance(values, Sequence) or isinstance(values, str | bytes):
            continue
        numbers = [
            float(v)
            for v in values
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ]
        series.setdefault(item["Id"], []).extend(numbers)
    return series


def _combine(values: Sequence[float], how: str) -> float | None:
    if not values:
        return None
    if how == "sum":
        return sum(values)
    if how == "min":
        return min(values)
    return max(values)
