"""The kit's monitoring strategy by status-code class, as CloudWatch alarms.

Each alarm carries a ``severity`` tag (P1, P2) and its description starts with it; the
severity decides where it goes: P1 pages (the paging topic), P2 goes to a low-priority
topic a team reads in working hours. Rates are computed over ``RequestCount`` with the
same minimum-traffic guard as the rollback alarms, so a quiet service does not page on
one error in three requests. These alarms notify; only the AutoRollback alarms roll back.
The rates use no FILL and each alarm needs 2 of 3 (or 3 of 5) minutes, so a minute whose
counts have not landed cannot hold one in OK or ALARM (``alarm_rollback_kit/rates.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Unpack

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from constructs import Construct

from alarm_rollback_kit.alarms import AlarmShape, threshold_alarm
from alarm_rollback_kit.compliance import KitConstruct
from alarm_rollback_kit.config import SeverityAlarmsConfig
from alarm_rollback_kit.rates import share_of_requests

# 2 of 3 minutes above the threshold unless an alarm says otherwise: a one-minute blip
# notifies nobody; the rollback alarms are the fast path.
_TWO_OF_THREE_ABOVE = AlarmShape(
    comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluation_periods=3,
    datapoints_to_alarm=2,
)

PERIOD = Duration.minutes(1)


@dataclass(frozen=True)
class TieredAlarm:
    severity: str
    alarm: cw.Alarm


class SeverityAlarms(KitConstruct):
    """``alarms``: every tiered alarm with its severity."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        config: SeverityAlarmsConfig,
        min_requests_per_minute: int,
        paging_topic: sns.ITopic,
        low_priority_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        self._routes = {"P1": paging_topic, "P2": low_priority_topic}
        self._min_requests = min_requests_per_minute
        self.alarms: list[TieredAlarm] = []
        lb = load_balancer.metrics
        self._requests = lb.request_count(period=PERIOD, statistic="Sum")
        self._counts = _response_counts(lb)
        self._add_share_alarms(config)
        self._add_alb_alarms(config, lb)

    def _rate(
        self, label: str, numerator: str, *ids: str, landed: str | None = None
    ) -> cw.MathExpression:
        """``numerator`` as a share of requests, over the response counts named by ``ids``."""
        return share_of_requests(
            requests=self._requests,
            counts={id_: self._counts[id_] for id_ in ids},
            numerator=numerator,
            min_requests=self._min_requests,
            label=label,
            period=PERIOD,
            landed=landed,
        )

    def _add_share_alarms(self, config: SeverityAlarmsConfig) -> None:
        all_5xx = self._rate(
            "5xx % of requests (ALB + targets)", "(elb5xx + target5xx)", "elb5xx", "target5xx"
        )
        self._add(
            "P2",
            "FiveXxRateWarning",
            all_5xx,
            config.five_xx_rate_p2_percent,
            f"5xx above {config.five_xx_rate_p2_percent:g} % of requests: investigate now "
            "(P2 from 0.1 %).",
        )
        self._add(
            "P1",
            "FiveXxRateCritical",
            all_5xx,
            config.five_xx_rate_p1_percent,
            f"5xx above {config.five_xx_rate_p1_percent:g} % of requests: wake the team "
            "(P1 from 1 %).",
        )
        # A minute counts once any response count of it has landed: in a total outage the
        # 2xx count is missing while the 5xx are there (0 % 2xx, a page).
        every_count = ("target2xx", "target4xx", "target5xx", "elb4xx", "elb5xx")
        self._add(
            "P1",
            "TwoXxDrop",
            self._rate(
                "2xx % of requests",
                "target2xx",
                *every_count,
                landed="(" + " + ".join(every_count) + ")",
            ),
            config.two_xx_floor_percent,
            "2xx share of requests dropped: traffic is shifting to errors.",
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
        )
        self._add(
            "P2",
            "FourXxSpike",
            self._rate("4xx % of requests", "(elb4xx + target4xx)", "elb4xx", "target4xx"),
            config.four_xx_spike_percent,
            "4xx spike: a breaking API change or a broken client.",
        )

    def _add_alb_alarms(
        self, config: SeverityAlarmsConfig, lb: elbv2.IApplicationLoadBalancerMetrics
    ) -> None:
        self._add(
            "P1",
            "Elb503Spike",
            lb.http_code_elb(elbv2.HttpCodeElb.ELB_503_COUNT, period=PERIOD, statistic="Sum"),
            config.elb_503_threshold,
            "ALB-generated 503: the target group has no registered targets (instances "
            "deregistered or terminated). If every registered target is unhealthy the ALB "
            "still routes to them (fail open), so check deployments and Auto Scaling first. "
            "Target-generated 503s show as Target 5xx instead.",
        )
        self._add(
            "P1",
            "Elb504Spike",
            lb.http_code_elb(elbv2.HttpCodeElb.ELB_504_COUNT, period=PERIOD, statistic="Sum"),
            config.elb_504_threshold,
            "ALB-generated 504: targets slower than the idle timeout. Do not blindly retry: "
            "the target may have done the work.",
        )
        self._add(
            "P1",
            "TargetResponseTimeP99",
            lb.target_response_time(period=PERIOD, statistic="p99"),
            config.target_p99_seconds,
            "Target response time p99 high: the prelude to 504s (find slow queries, add timeouts).",
            datapoints_to_alarm=3,
            evaluation_periods=5,
        )

    def _add(
        self,
        severity: str,
        id_: str,
        metric: cw.IMetric,
        threshold: float,
        description: str,
        **shape: Unpack[AlarmShape],
    ) -> None:
        alarm = threshold_alarm(
            self,
            id_,
            metric,
            threshold=threshold,
            description=f"[{severity}] {description}",
            **(_TWO_OF_THREE_ABOVE | shape),
        )
        cdk.Tags.of(alarm).add("severity", severity)
        alarm.add_alarm_action(cw_actions.SnsAction(self._routes[severity]))
        self.alarms.append(TieredAlarm(severity, alarm))


def _response_counts(lb: elbv2.IApplicationLoadBalancerMetrics) -> dict[str, cw.IMetric]:
    """The response counts the shares are made of, by the ids the expressions use."""
    return {
        "elb4xx": lb.http_code_elb(elbv2.HttpCodeElb.ELB_4XX_COUNT, period=PERIOD, statistic="Sum"),
        "elb5xx": lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=PERIOD, statistic="Sum"),
        **{
            f"target{code}xx": lb.http_code_target(
                getattr(elbv2.HttpCodeTarget, f"TARGET_{code}XX_COUNT"),
                period=PERIOD,
                statistic="Sum",
            )
            for code in (2, 4, 5)
        },
    }
