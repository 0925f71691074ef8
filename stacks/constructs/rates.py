"""CloudWatch metric-math for error shares of ALB traffic, shared by every alarm that needs one.

ALB publishes a count only when it is non-zero (ELB User Guide, CloudWatch metrics), so
counts are wrapped in ``FILL(x, 0)``; ``RequestCount`` is not, so a minute without traffic
has no datapoint and cannot breach. A minimum-traffic guard keeps a quiet service from
alarming on one error in three requests. Metric math semantics: CloudWatch User Guide,
"Using metric math" (``IF``, ``FILL``, division by zero yields no datapoint).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw


def share_of_requests(
    *,
    requests: cw.IMetric,
    counts: dict[str, cw.IMetric],
    numerator: str,
    min_requests: int,
    label: str,
    period: Duration,
    quiet: int = 0,
) -> cw.MathExpression:
    """Percent ``numerator`` (an expression over ``counts``) is of ``requests``.

    Below ``min_requests`` it is ``quiet``: a value chosen by the caller so that it cannot
    breach (0 for "errors above", 100 for "successes below").
    """
    return cw.MathExpression(
        expression=f"IF(requests >= {min_requests}, 100 * {numerator} / requests, {quiet})",
        using_metrics={"requests": requests, **counts},
        label=label,
        period=period,
    )


def error_rate(
    errors: cw.IMetric, requests: cw.IMetric, *, min_requests: int, label: str, period: Duration
) -> cw.MathExpression:
    """Percent of requests that ``errors`` counts, or 0 below ``min_requests``."""
    return share_of_requests(
        requests=requests,
        counts={"errors": errors},
        numerator="FILL(errors, 0)",
        min_requests=min_requests,
        label=label,
        period=period,
    )


def elb_5xx_count(
    errors: cw.IMetric, requests: cw.IMetric, *, min_rate_percent: float, period: Duration
) -> cw.IMetric:
    """ELB 5xx per period, or 0 while they stay under ``min_rate_percent`` of requests.

    No division: ``RequestCount`` leaves out requests the ALB could not route to a target
    (ELB User Guide, ``RequestCount``), so in a no-target 503 outage it may be 0 or
    missing while the 5xx pile up; comparing ``100 * errors`` with ``rate * requests``
    keeps those minutes breaching. With ``min_rate_percent`` 0 this is the seed's plain
    ``HTTPCode_ELB_5XX_Count`` metric.
    """
    if not min_rate_percent:
        return errors
    return cw.MathExpression(
        expression=(
            f"IF(100 * FILL(errors, 0) >= {min_rate_percent:g} * FILL(requests, 0), "
            "FILL(errors, 0), 0)"
        ),
        using_metrics={"errors": errors, "requests": requests},
        label=f"ELB 5xx (ignored below {min_rate_percent:g} % of requests)",
        period=period,
    )
