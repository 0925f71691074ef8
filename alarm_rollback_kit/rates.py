"""CloudWatch metric math over ALB counts, shared by every alarm that needs it.

No expression here uses FILL. CloudWatch evaluates an alarm every minute over a range that
reaches the current minute, and the ALB's datapoints for that minute have not landed yet;
FILL would give that minute its fill value and a 1-of-1 alarm would judge the made-up
value, "stuck in either OK state or ALARM state" (CloudWatch User Guide, "Using metric
math", FILL; reproduced in tests/drill/test_stuck_alarm.py). Without FILL the rules of
that page do the work (each pinned in tests/drill/test_metric_math.py): arithmetic treats a
value missing on one side as 0 where the other side has a point, a division by zero drops
the point, a comparison between two series treats the missing side as 0, and where no
input has a datapoint there is no output point. An unpublished minute therefore yields no
datapoint, and the alarm judges the most recent real ones instead (CloudWatch User Guide,
"Evaluating an alarm"). ALB publishes a count only when it is non-zero (ELB User Guide,
CloudWatch metrics for your Application Load Balancer), so a missing count is "none".
docs/aws-behaviours.md lists every behaviour relied on here.
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
    breach (0 for "errors above", 100 for "successes below"). Without a request count
    there is no point; a count missing beside a request count counts as 0 (so 2xx missing
    in a total outage reads 0 %). For the notify-only severity alarms (2 of 3), where one
    minute whose counts landed after its request count is harmless.
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
    """Percent of requests that ``errors`` counts, only for minutes that have both counts.

    ``errors >= 0`` is true exactly where the error count has a datapoint (a comparison
    with a constant keeps the series' own timestamps), so a minute whose error count has
    not landed, or that had no errors, or fewer than ``min_requests`` requests, yields no
    datapoint rather than a 0 % that a 1-of-1 rollback alarm would take as "all clear".
    Cost: after the errors stop, the alarm keeps judging the last real (breaching) points
    until they leave its evaluation range, so it returns to OK minutes later.
    """
    return cw.MathExpression(
        expression=(f"IF(errors >= 0 AND requests >= {min_requests}, 100 * errors / requests)"),
        using_metrics={"errors": errors, "requests": requests},
        label=label,
        period=period,
    )


def elb_5xx_count(
    errors: cw.IMetric, requests: cw.IMetric, *, min_rate_percent: float, period: Duration
) -> cw.IMetric:
    """ELB 5xx per period, only for minutes where they reach ``min_rate_percent`` of requests.

    No division: ``RequestCount`` leaves out requests the ALB could not route to a target
    (ELB User Guide, ``RequestCount``), so in a no-registered-targets 503 outage it is
    missing while the 5xx pile up; the comparison then treats requests as 0 and the
    minute keeps its 5xx count. A minute under the floor (background 502s at high
    traffic) and a minute whose error count has not landed give no datapoint; there is no
    else branch, so nothing can fill them with a non-breaching 0. With
    ``min_rate_percent`` 0 this is the plain ``HTTPCode_ELB_5XX_Count`` metric.
    """
    if not min_rate_percent:
        return errors
    return cw.MathExpression(
        expression=f"IF(100 * errors >= {min_rate_percent:g} * requests, errors)",
        using_metrics={"errors": errors, "requests": requests},
        label=f"ELB 5xx (ignored below {min_rate_percent:g} % of requests)",
        period=period,
    )
