"""Roll a CodeDeploy release back when the ALB starts generating 5xx: alarm, event, Lambda.

A count alarm (``HTTPCode_ELB_5XX_Count``, one minute, > 50, with a noise floor) plus a
rate alarm (ELB 5xx / requests, with a minimum-traffic guard) go to the deployment group, so
CodeDeploy stops a deployment that is still running, and to EventBridge, whose rule
invokes the rollback function. The function also handles what CodeDeploy cannot: a
release that has already *succeeded* when the errors begin (the reference 502 incident:
deploy at 14:44, 502s from 14:45). The alarm expressions leave a minute the ALB has not
published yet without a datapoint, so it cannot hold them in OK (``rates.py``); detection
is the errored minute plus the metric delay, 2-5 minutes at the 60-240 s the kit assumes
(``stacks/timing.py``, docs/aws-behaviours.md). Every event the function cannot handle lands in an encrypted
dead-letter queue that pages a human, and so do the function's own errors.

Drop it into any stack that has an ALB, its target group and a server deployment group:
``AutoRollback(self, "AutoRollback", load_balancer=alb, target_group=tg,
deployment_group=dg, config=RollbackConfig())``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.config import RollbackConfig
from stacks.constructs.dead_letters import dead_letter_queue, messages_waiting_alarm
from stacks.constructs.deployment import deploy_permissions
from stacks.constructs.lambda_code import function_code
from stacks.constructs.rates import elb_5xx_count, error_rate
from stacks.constructs.topics import AlarmTopic

# The alarm state-change event, as CloudWatch sends it to EventBridge (CloudWatch User
# Guide, "Alarm events and EventBridge").
ALARM_EVENT_SOURCE = "aws.cloudwatch"
ALARM_EVENT_DETAIL_TYPE = "CloudWatch Alarm State Change"


class AutoRollback(Construct):
    """Rollback alarms, the EventBridge rule, the rollback function and its safety nets.

    Attributes: ``elb_5xx_count_alarm``, ``elb_5xx_rate_alarm``, ``low_traffic_rate_alarm``
    (None when ``low_traffic_window_minutes`` is 0), ``target_5xx_rate_alarm``,
    ``rollback_alarms`` (the ones that trigger a rollback), ``rule``,
    ``deployment_failed_rule``, ``function``, ``idempotency_table``, ``dead_letter_queue``,
    ``topic``, ``dead_letter_alarm``, ``function_errors_alarm``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        deployment_group: codedeploy.ServerDeploymentGroup,
        config: RollbackConfig,
        topic: sns.ITopic | None = None,
        distribution_id: str | None = None,
        invalidation_paths: tuple[str, ...] = ("/*",),
    ) -> None:
        super().__init__(scope, id_)
        self.config = config
        self.topic = (
            topic
            or AlarmTopic(
                self,
                "Notifications",
                display_name="Auto-rollback",
                email=config.notification_email,
            ).topic
        )
        period = Duration.seconds(config.period_seconds)
        metrics = load_balancer.metrics
        requests = metrics.request_count(period=period, statistic="Sum")
        min_requests = config.min_requests_per_minute * config.period_seconds // 60

        self.elb_5xx_count_alarm = self._alarm(
            "Elb5xxCount",
            elb_5xx_count(
                metrics.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"
                ),
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
                "minute has no datapoint (no FILL), so it cannot hold this alarm in OK."
            ),
        )
        self.elb_5xx_rate_alarm = self._alarm(
            "Elb5xxRate",
            error_rate(
                metrics.http_code_elb(
                    elbv2.HttpCodeElb.ELB_5XX_COUNT, period=period, statistic="Sum"
                ),
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
        # Low-traffic tier: the same guarded rate over a longer period, so a service below
        # min_requests_per_minute is still caught when it fails for minutes on end.
        self.low_traffic_rate_alarm: cw.Alarm | None = None
        if config.low_traffic_window_minutes:
            window = Duration.minutes(config.low_traffic_window_minutes)
            self.low_traffic_rate_alarm = self._alarm(
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
        self.target_5xx_rate_alarm = self._alarm(
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
        self.rollback_alarms = [self.elb_5xx_count_alarm, self.elb_5xx_rate_alarm]
        if self.low_traffic_rate_alarm is not None:
            self.rollback_alarms.append(self.low_traffic_rate_alarm)
        if config.target_5xx_triggers_rollback:
            self.rollback_alarms.append(self.target_5xx_rate_alarm)
        else:
            self.target_5xx_rate_alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        # While a deployment runs, CodeDeploy itself stops it and rolls back on these
        # alarms (DEPLOYMENT_STOP_ON_ALARM); the function covers the time after success.
        for alarm in self.rollback_alarms:
            deployment_group.add_alarm(alarm)

        self.dead_letter_queue = dead_letter_queue(self, "DeadLetters")
        self.function = self._function(
            config,
            load_balancer,
            target_group,
            deployment_group,
            distribution_id,
            invalidation_paths,
        )
        self.rule = events.Rule(
            self,
            "OnRollbackAlarm",
            description="Rollback alarm entered ALARM: invoke the rollback function",
            event_pattern=events.EventPattern(
                source=[ALARM_EVENT_SOURCE],
                detail_type=[ALARM_EVENT_DETAIL_TYPE],
                resources=[alarm.alarm_arn for alarm in self.rollback_alarms],
                detail={"state": {"value": ["ALARM"]}},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    # A rollback decided an hour late is a different decision; a human takes
                    # it from the dead-letter queue instead.
                    max_event_age=Duration.hours(1),
                )
            ],
        )

        # A rollback deployment that fails (or any deployment of the group) raises no new
        # alarm transition, so the function would never hear of it: page directly, and let
        # the function retry a CodeDeploy rollback that ended Stopped or Failed (the same
        # alarms may stop it; AWS does not document whether they do).
        # Event shape: CodeDeploy User Guide, "Monitoring deployments with EventBridge".
        self.deployment_failed_rule = events.Rule(
            self,
            "OnDeploymentFailed",
            description="A deployment of the group failed or stopped: tell on-call",
            event_pattern=events.EventPattern(
                source=["aws.codedeploy"],
                detail_type=["CodeDeploy Deployment State-change Notification"],
                detail={
                    "state": ["FAILURE", "STOP"],
                    "application": [deployment_group.application.application_name],
                    "deploymentGroup": [deployment_group.deployment_group_name],
                },
            ),
            targets=[
                targets.SnsTopic(
                    self.topic,
                    message=events.RuleTargetInput.from_text(
                        f"[alarm-rollback-kit] CodeDeploy deployment "
                        f"{events.EventField.from_path('$.detail.deploymentId')} of "
                        f"{events.EventField.from_path('$.detail.application')}/"
                        f"{events.EventField.from_path('$.detail.deploymentGroup')} ended "
                        f"{events.EventField.from_path('$.detail.state')} at "
                        f"{events.EventField.time}. Nothing was rolled back automatically "
                        "if it was the kit's own redeploy ([alarm-rollback-kit] in its "
                        "description): the kit turns CodeDeploy's rollback off for it, since "
                        "that would reinstall the bad release. If it was CodeDeploy's "
                        "rollback, the function redeploys the good revision once and pages. "
                        "Either way the bad release may still be serving: check the group and "
                        "the rollback function's log now."
                    ),
                    dead_letter_queue=self.dead_letter_queue,
                ),
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=4,
                    max_event_age=Duration.hours(1),
                ),
            ],
        )

        notify = cw_actions.SnsAction(self.topic)
        self.dead_letter_alarm = messages_waiting_alarm(
            self,
            "DeadLettersWaiting",
            queue=self.dead_letter_queue,
            description=(
                "An alarm event the rollback function could not handle is waiting in the "
                "dead-letter queue: a rollback may not have happened. Read the message. "
                "This includes a rollback that stayed blocked by an Auto Scaling launch's "
                "deployment through all of Lambda's retries: roll back by hand."
            ),
        )
        self.function_errors_alarm = cw.Alarm(
            self,
            "FunctionErrors",
            alarm_description="The rollback function failed; check its log and the DLQ.",
            metric=self.function.metric_errors(period=Duration.minutes(1), statistic="Sum"),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.dead_letter_alarm, self.function_errors_alarm):
            alarm.add_alarm_action(notify)

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
        return cw.Alarm(
            self,
            id_,
            metric=metric,
            threshold=threshold,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=evaluation_periods or cfg.evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm or cfg.datapoints_to_alarm,
            # ALB publishes error counts only when they are non-zero (ELB User Guide), so
            # a missing datapoint means "no errors".
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )

    def _function(
        self,
        config: RollbackConfig,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        deployment_group: codedeploy.ServerDeploymentGroup,
        distribution_id: str | None,
        invalidation_paths: tuple[str, ...],
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            # The decision log is the audit trail of every rollback: keep it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # One item per rollback the function makes, written with a condition so that of
        # concurrent invocations exactly one acts. Records expire by TTL after two days and
        # hold nothing worth keeping, so the table goes with the stack.
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyRecords",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiresAt",
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Its own role instead of AWSLambdaBasicExecutionRole, whose log permissions span
        # every log group in the account.
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Rollback function: this deployment group, topic and log group only",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            self,
            "Function",
            role=role,
            description="Rolls back CodeDeploy when a rollback alarm fires",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            code=function_code("rollback"),
            handler="rollback.handler.lambda_handler",
            memory_size=256,
            # Well under a minute: an invocation cut short by a hung call is retried by
            # Lambda (twice) and then kept in the dead-letter queue; no decision is lost.
            timeout=Duration.seconds(30),
            # None by default: a reservation fails the deploy in an account whose quota is
            # still the new-account 10 (Lambda keeps 10 unreserved). Concurrent deliveries
            # end in one rollback through the idempotency record instead.
            reserved_concurrent_executions=config.reserved_concurrency or None,
            log_group=log_group,
            retry_attempts=2,
            max_event_age=Duration.hours(1),
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            environment={
                "APPLICATION_NAME": deployment_group.application.application_name,
                "DEPLOYMENT_GROUP_NAME": deployment_group.deployment_group_name,
                "BAKE_MINUTES": str(config.bake_minutes),
                "TOPIC_ARN": self.topic.topic_arn,
                "DRY_RUN": "true" if config.dry_run else "false",
                "ROLLBACK_ALARM_NAMES": cdk.Fn.join(
                    ",", [alarm.alarm_name for alarm in self.rollback_alarms]
                ),
                "MAX_ROLLBACKS_PER_HOUR": str(config.max_rollbacks_per_hour),
                "LOAD_BALANCER_FULL_NAME": load_balancer.load_balancer_full_name,
                "TARGET_GROUP_FULL_NAME": target_group.target_group_full_name,
                "DIAGNOSIS_MINUTES": "5",
                "DISTRIBUTION_ID": distribution_id or "",
                "INVALIDATION_PATHS": ",".join(invalidation_paths),
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
            },
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                # Claim a record before CreateDeployment, give it back if that fails.
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.idempotency_table.table_arn],
            )
        )
        # Scoped to this application, group and configuration (CodeDeploy's
        # service-authorization reference lists the resource type for each action).
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "codedeploy:ListDeployments",
                    "codedeploy:BatchGetDeployments",
                    "codedeploy:StopDeployment",
                    # The rollback redeploy overrides the group's alarm configuration (the
                    # alarm that triggered it is still in ALARM), which CodeDeploy
                    # authorizes as UpdateDeploymentGroup (API Reference, CreateDeployment).
                    "codedeploy:UpdateDeploymentGroup",
                ],
                resources=[deployment_group.deployment_group_arn],
            )
        )
        for statement in deploy_permissions(deployment_group):
            function.add_to_role_policy(statement)
        function.add_to_role_policy(
            iam.PolicyStatement(
                # GetMetricData has no resource-level permissions (CloudWatch service
                # authorization reference); it only reads metrics.
                actions=["cloudwatch:GetMetricData"],
                resources=["*"],
            )
        )
        if distribution_id:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["cloudfront:CreateInvalidation"],
                    resources=[
                        cdk.Arn.format(
                            cdk.ArnComponents(
                                service="cloudfront",
                                region="",
                                resource="distribution",
                                resource_name=distribution_id,
                            ),
                            cdk.Stack.of(self),
                        )
                    ],
                )
            )
        # Explicit rather than topic.grant_publish, which grants kms:GenerateDataKey*.
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        if self.topic.master_key is not None:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.topic.master_key.key_arn],
                )
            )
        return function
