"""The alarms that decide a release is bad, and the EventBridge rule that hears them.

A count alarm (``HTTPCode_ELB_5XX_Count``, one minute, > 50, with a noise floor), a rate
alarm (ELB 5xx / requests, with a minimum-traffic guard) and, when configured, the
low-traffic tier roll back; a target-5xx rate alarm only notifies unless the config says
otherwise. ``rule`` matches their ALARM
transitions and has no target of its own: ``RollbackFunction`` adds itself, and a team
with its own remediation adds theirs (``alarms.rule.add_target(...)``).

Only the ALB's metrics are used, which CDK offers on imported load balancers too
(``IApplicationLoadBalancer.metrics``), so an ALB from another stack works.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TypedDict, Unpack

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from alarm_rollback_kit.compliance import KitConstruct, acknowledge, control_tower
from alarm_rollback_kit.config import RollbackConfig
from alarm_rollback_kit.rates import elb_5xx_count, error_rate

# The rule matches the event the rollback function reads, so both take its shape from
# the function's reader (CloudWatch User Guide, "Alarm events and EventBridge"). Imported by
# name: mypy knows that file as the function's own module ``rollback.alarm_event`` (its
# mypy_path), and a second, static import under the library's name would make one file
# two modules for any run that checks both, such as the tests.
_alarm_event = importlib.import_module("alarm_rollback_kit.functions.rollback.alarm_event")
ALARM_EVENT_SOURCE: str = _alarm_event.SOURCE
ALARM_EVENT_DETAIL_TYPE: str = _alarm_event.DETAIL_TYPE


class AlarmShape(TypedDict, total=False):
    """How a ``threshold_alarm`` compares and over how many periods, for wrappers to pass on."""

    comparison: cw.ComparisonOperator
    evaluation_periods: int
    datapoints_to_alarm: int | None
    alarm_name: str | None


def threshold_alarm(
    scope: Construct,
    id_: str,
    metric: cw.IMetric,
    *,
    threshold: float,
    description: str,
    **shape: Unpack[AlarmShape],
) -> cw.Alarm:
    """An alarm on ``metric`` crossing ``threshold`` where no datapoint means no errors.

    ALB error counts, Lambda, EMF and API Gateway metrics are published only for minutes
    with traffic or errors (ELB User Guide, CloudWatch metrics; Lambda Developer Guide), so
    a missing datapoint is not breaching. By default it fires on one period at or above
    ``threshold``.
    """
    return cw.Alarm(
        scope,
        id_,
        alarm_name=shape.get("alarm_name"),
        metric=metric,
        threshold=threshold,
        comparison_operator=shape.get(
            "comparison", cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        ),
        evaluation_periods=shape.get("evaluation_periods", 1),
        datapoints_to_alarm=shape.get("datapoints_to_alarm"),
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )


def alarm_state_rule(scope: Construct, id_: str, alarms: Sequence[cw.IAlarm]) -> events.Rule:
    """A rule matching the moment any of ``alarms`` enters ALARM; no targets yet."""
    return events.Rule(
        scope,
        id_,
        description="Rollback alarm entered ALARM: invoke the rollback function",
        event_pattern=events.EventPattern(
            source=[ALARM_EVENT_SOURCE],
            detail_type=[ALARM_EVENT_DETAIL_TYPE],
            resources=[alarm.alarm_arn for alarm in alarms],
            detail={"state": {"value": ["ALARM"]}},
        ),
    )


class RollbackAlarms(KitConstruct):
    """ELB 5xx count and rate alarms, a target 5xx rate alarm, and the rule over them.

    ``deployment_group``: when it is a group defined in this app, the rollback alarms are
    attached to it, so CodeDeploy stops a deployment that is still running
    (``DEPLOYMENT_STOP_ON_ALARM``). An imported group cannot be changed from here; then the
    rollback function stops a running deployment itself. ``notify_topic``: where the
    notify-only target 5xx alarm goes (none: it only shows on the dashboard).

    Attributes: ``elb_5xx_count_alarm``, ``elb_5xx_rate_alarm``, ``low_traffic_rate_alarm``
    (None when ``low_traffic_window_minutes`` is 0), ``target_5xx_rate_alarm``,
    ``rollback_alarms`` (the ones that trigger a rollback), ``rule``,
    ``attached_to_deployment_group``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        config: RollbackConfig,
        deployment_group: codedeploy.IServerDeploymentGroup | None = None,
        notify_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.config = config
        period = Duration.seconds(config.period_seconds)
        metrics = load_balancer.metrics
        requests = metrics.request_count(period=period, statistic="Sum")
        elb_5xx = metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"
        )
        min_requests = config.min_requests_per_minute * config.period_seconds // 60
        self.elb_5xx_count_alarm = self._count_alarm(elb_5xx, requests, period)
        self.elb_5xx_rate_alarm = self._rate_alarm(elb_5xx, requests, period, min_requests)
        self.low_traffic_rate_alarm = self._low_traffic_alarm(metrics)
        self.target_5xx_rate_alarm = self._target_alarm(metrics, requests, period, min_requests)
        self.rollback_alarms: list[cw.Alarm] = [self.elb_5xx_count_alarm, self.elb_5xx_rate_alarm]
        if self.low_traffic_rate_alarm is not None:
            self.rollback_alarms.append(self.low_traffic_rate_alarm)
        if config.target_5xx_triggers_rollback:
            self.rollback_alarms.append(self.target_5xx_rate_alarm)
        if notify_topic is not None:
            self.notify(notify_topic)
        self.attached_to_deployment_group = self._attach(deployment_group)
        self.rule = alarm_state_rule(self, "OnRollbackAlarm", self.rollback_alarms)

    def _count_alarm(self, elb_5xx: cw.IMetric, requests: cw.IMetric, period: Duration) -> cw.Alarm:
        config = self.config
        return self._alarm(
            "Elb5xxCount",
            elb_5xx_count(
                elb_5xx,
                requests,
                min_rate_percent=config.elb_5xx_count_min_rate_percent,
                period=period,
            ),
            threshold=config.elb_5xx_threshold,
            description=(
                f"ALB-generated 5xx (not target 5xx) above {config.elb_5xx_threshold} in a "
                "minute, ignoring minutes under "
                f"{config.elb_5xx_count_min_rate_percent:g} % of requests: a bad release "
                "answering with broken responses. Triggers auto-rollback. An unpublished "
                "minute has no datapoint (the error count is never filled), so it cannot "
                "hold this alarm in OK."
            ),
        )

    def _rate_alarm(
        self, elb_5xx: cw.IMetric, requests: cw.IMetric, period: Duration, min_requests: int
    ) -> cw.Alarm:
        config = self.config
        return self._alarm(
            "Elb5xxRate",
            error_rate(
                elb_5xx,
                requests,
                min_requests=min_requests,
                label="ELB 5xx % of requests",
                period=period,
            ),
            threshold=config.elb_5xx_rate_percent,
            description=(
                f"ALB-generated 5xx above {config.elb_5xx_rate_percent} % of requests "
                f"(P1) in minutes with at least {min_requests} requests and a published "
                "error count. Triggers auto-rollback."
            ),
        )

    def _low_traffic_alarm(self, metrics: elbv2.IApplicationLoadBalancerMetrics) -> cw.Alarm | None:
        """The same guarded rate over a longer period, so a service below
        ``min_requests_per_minute`` is still caught when it fails for minutes on end."""
        config = self.config
        if not config.low_traffic_window_minutes:
            return None
        window = Duration.minutes(config.low_traffic_window_minutes)
        return self._alarm(
            "LowTraffic5xxRate",
            error_rate(
                metrics.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=window, statistic="Sum"
                ),
                metrics.request_count(period=window, statistic="Sum"),
                min_requests=config.low_traffic_min_requests,
                label=f"ELB 5xx % of requests over {config.low_traffic_window_minutes} min",
                period=window,
            ),
            threshold=config.low_traffic_rate_percent,
            description=(
                f"Low-traffic tier: ALB-generated 5xx above "
                f"{config.low_traffic_rate_percent:g} % of requests summed over "
                f"{config.low_traffic_window_minutes} minutes, with at least "
                f"{config.low_traffic_min_requests} requests in them. Catches a release "
                "failing a quiet service, below the 1-minute alarms' guards. Triggers "
                "auto-rollback."
            ),
            # One period is already several minutes; CloudWatch evaluates it every minute.
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )

    def _target_alarm(
        self,
        metrics: elbv2.IApplicationLoadBalancerMetrics,
        requests: cw.IMetric,
        period: Duration,
        min_requests: int,
    ) -> cw.Alarm:
        config = self.config
        return self._alarm(
            "Target5xxRate",
            error_rate(
                metrics.http_code_target(
                    elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=period, statistic="Sum"
                ),
                requests,
                min_requests=min_requests,
                label="Target 5xx % of requests",
                period=period,
            ),
            threshold=config.target_5xx_rate_percent,
            description=(
                "5xx answered by the application itself. "
                + (
                    "Triggers auto-rollback."
                    if config.target_5xx_triggers_rollback
                    else "Notify only: the app may be failing for reasons a rollback won't fix."
                )
            ),
        )

    def _attach(self, deployment_group: codedeploy.IServerDeploymentGroup | None) -> bool:
        """While a deployment runs, CodeDeploy itself stops it and rolls back on these
        alarms; the function covers the time after success. Only a group this app defines
        has ``add_alarm``: an imported one is another stack's resource."""
        if not isinstance(deployment_group, codedeploy.ServerDeploymentGroup):
            return False
        for alarm in self.rollback_alarms:
            deployment_group.add_alarm(alarm)
        return True

    @property
    def notify_only_alarms(self) -> list[cw.Alarm]:
        """The alarms that do not roll back: a human should still hear of them."""
        return [] if self.config.target_5xx_triggers_rollback else [self.target_5xx_rate_alarm]

    def notify(self, topic: sns.ITopic) -> None:
        """Send the notify-only alarms to ``topic``."""
        for alarm in self.notify_only_alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))

    def _alarm(
        self,
        id_: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int | None = None,
        datapoints_to_alarm: int | None = None,
    ) -> cw.Alarm:
        cfg = self.config
        return threshold_alarm(
            self,
            id_,
            metric,
            threshold=threshold,
            description=description,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods or cfg.evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm or cfg.datapoints_to_alarm,
        )

    def acknowledge_nag_findings(self) -> None:
        for alarm in self.rollback_alarms:
            acknowledge(
                alarm,
                [
                    control_tower(
                        "cloudwatch_alarm_action_check",
                        "CT.CLOUDWATCH.PR.1: the rollback alarms act through EventBridge (the "
                        "state-change rule invokes the rollback function) and through CodeDeploy's "
                        "alarm configuration, not through alarm actions.",
                    )
                ],
            )
