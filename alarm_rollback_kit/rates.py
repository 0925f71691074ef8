"""CloudWatch metric math over ALB counts, shared by every alarm that needs it.

No expression here fills with a constant. CloudWatch evaluates an alarm every minute over a range that
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
AWS does not say that one minute's counts land together, so every share is guarded by
``count > 0`` and the count alarm's floor repeats the last request count that landed
(``FILL(requests, REPEAT)``, a real figure, never a made-up one).
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
    landed: str | None = None,
) -> cw.MathExpression:
    """Percent ``numerator`` (an expression over ``counts``) is of ``requests``.

    Only minutes whose counts have landed get a point: ``landed`` (default: the numerator)
    must be above 0, which it cannot be for a minute the ALB has not published yet, since
    it publishes only non-zero counts. AWS does not say that one minute's request count and
    response counts land together; a minute whose request count landed first would read
    "counts missing = 0" (CloudWatch User Guide, "Using math expressions with CloudWatch
    metrics": missing values count as 0 in arithmetic) and show 0 %, an all-clear that holds
    an "errors above" alarm in OK and fires a "successes below" alarm, as long as the counts
    lag. ``> 0`` rather than ``>= 0`` because the guide does not say whether a comparison
    with a constant yields a point where its series has none: ``> 0`` is false under either
    reading. Fewer than ``min_requests`` requests also give no point, so a quiet service
    cannot page. Cost: after the errors stop, an alarm keeps judging its last real
    (breaching) points until they leave its evaluation range, so it returns to OK minutes
    later.
    """
    guard = landed or numerator
    return cw.MathExpression(
        expression=(
            f"IF({guard} > 0 AND requests >= {min_requests}, 100 * {numerator} / requests)"
        ),
        using_metrics={"requests": requests, **counts},
        label=label,
        period=period,
    )


def error_rate(
    errors: cw.IMetric, requests: cw.IMetric, *, min_requests: int, label: str, period: Duration
) -> cw.MathExpression:
    """Percent of requests that ``errors`` counts, only for minutes that have both counts."""
    return share_of_requests(
        requests=requests,
        counts={"errors": errors},
        numerator="errors",
        min_requests=min_requests,
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

    ``requests`` alone is ``FILL(requests, REPEAT)``: AWS does not say that a minute's
    error count and request count land together, and an error count that landed before
    its request count would meet "requests missing = 0" and breach the floor at any
    traffic (1,000,000 requests with 100 background 502s would roll a healthy release
    back). REPEAT fills that minute with the last request count that did land, a real
    figure that only keeps the floor where it was; in a 503 outage it fills with the
    traffic before the outage, so the 503s still clear the floor, and once no real count
    is left in the query range the missing side counts as 0 again. The FILL caveat for
    alarms (a made-up newest value) cannot hold this alarm in OK: the filled side only
    sets the floor, and the judged value is always a real error count.
    """
    if not min_rate_percent:
        return errors
    return cw.MathExpression(
        expression=f"IF(100 * errors >= {min_rate_percent:g} * FILL(requests, REPEAT), errors)",
        using_metrics={"errors": errors, "requests": requests},
        label=f"ELB 5xx (ignored below {min_rate_percent:g} % of requests)",
        period=period,
    )
