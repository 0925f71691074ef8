"""A CloudWatch dashboard that puts the 502 diagnostic signature on one screen.

ELB-generated 5xx beside target 5xx first (502 from the ALB with target 5xx at 0 and all
hosts healthy is the Section 12 signature), then 502/503/504 split, traffic, host health,
latency, the rollback function and its dead-letter queue, and CloudFront's 5xx rate when
the edge exists. Alarm states sit at the top so on-call sees what fired.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from alarm_rollback_kit.compliance import KitConstruct

PERIOD = Duration.minutes(1)
WIDTH = 8


class ServiceDashboard(KitConstruct):
    """``dashboard``; one row per question on-call asks, in the order they ask them.

    The parameters come in the order the screen shows what they feed: alarm states at the
    top, the load balancer's and target group's rows, the rollback function and its
    dead-letter queue, CloudFront last.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        alarms: Sequence[cw.IAlarm],
        load_balancer: elbv2.IApplicationLoadBalancer,
        target_group: elbv2.IApplicationTargetGroup,
        rollback_function: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
        distribution_id: str | None = None,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        lb = load_balancer.metrics
        self.dashboard = cw.Dashboard(
            self, "Dashboard", default_interval=Duration.hours(3), dashboard_name=dashboard_name
        )
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=3 * WIDTH)
        )
        self.dashboard.add_widgets(*_response_row(lb))
        self.dashboard.add_widgets(
            *_host_row(lb, target_group.metrics),
            _rollback_graph(rollback_function, dead_letter_queue),
        )
        if distribution_id:
            self.dashboard.add_widgets(_edge_graph(distribution_id))


def _graph(
    title: str,
    left: list[cw.IMetric],
    *,
    stacked: bool = False,
    right: list[cw.IMetric] | None = None,
) -> cw.GraphWidget:
    return cw.GraphWidget(title=title, left=left, right=right or [], width=WIDTH, stacked=stacked)


def _response_row(lb: elbv2.IApplicationLoadBalancerMetrics) -> list[cw.IWidget]:
    def elb(code: elbv2.HttpCodeElb) -> cw.IMetric:
        return lb.http_code_elb(code, period=PERIOD, statistic="Sum")

    target_5xx = lb.http_code_target(
        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=PERIOD, statistic="Sum"
    )
    return [
        _graph(
            "ELB 5xx vs target 5xx (502 + target 0 = broken responses)",
            [elb(elbv2.HttpCodeElb.ELB_5XX_COUNT), target_5xx],
        ),
        _graph(
            "ALB 502 / 503 / 504 (bad response / no healthy target / too slow)",
            [
                elb(elbv2.HttpCodeElb.ELB_502_COUNT),
                elb(elbv2.HttpCodeElb.ELB_503_COUNT),
                elb(elbv2.HttpCodeElb.ELB_504_COUNT),
            ],
            stacked=True,
        ),
        _graph("Requests", [lb.request_count(period=PERIOD, statistic="Sum")]),
    ]


def _host_row(
    lb: elbv2.IApplicationLoadBalancerMetrics, tg: elbv2.IApplicationTargetGroupMetrics
) -> list[cw.IWidget]:
    return [
        _graph(
            "Healthy / unhealthy hosts",
            [tg.healthy_host_count(period=PERIOD), tg.unhealthy_host_count(period=PERIOD)],
        ),
        _graph(
            "Target response time p50 / p99 (s)",
            [
                lb.target_response_time(period=PERIOD, statistic="p50"),
                lb.target_response_time(period=PERIOD, statistic="p99"),
            ],
        ),
    ]


def _rollback_graph(function: lambda_.IFunction, dead_letters: sqs.IQueue) -> cw.IWidget:
    return _graph(
        "Rollback function",
        [
            function.metric_invocations(period=PERIOD, statistic="Sum"),
            function.metric_errors(period=PERIOD, statistic="Sum"),
        ],
        right=[
            dead_letters.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum", label="dead letters waiting"
            )
        ],
    )


def _edge_graph(distribution_id: str) -> cw.IWidget:
    return _graph(
        "CloudFront 5xx error rate (%)",
        [
            cw.Metric(
                namespace="AWS/CloudFront",
                metric_name="5xxErrorRate",
                # CloudFront publishes to us-east-1 with Region=Global (CloudFront Developer
                # Guide, viewing CloudFront metrics).
                dimensions_map={"DistributionId": distribution_id, "Region": "Global"},
                region="us-east-1",
                period=PERIOD,
                statistic="Average",
            )
        ],
    )
