"""The rollback function, its role, its safety nets, and the page when a deployment fails.

It takes the alarms that mean "roll back" (the kit's ``RollbackAlarms`` or alarms of
your own) and a rule over them (made here when not given), and decides per alarm event:
stop a running deployment, redeploy the last good revision after a release that has
already succeeded, or page a human. Every event it cannot handle lands in an encrypted
dead-letter queue that pages, and so do its own errors. A second rule pages directly
when any deployment of the group fails or stops, since a failed rollback raises no new
alarm transition.

The group is an EC2 server group (with its load balancer and target group) or a Lambda
group (with the alias it shifts); ``rollback_targets`` holds what differs between the two:
the environment that tells the function which it is, and the IAM for its calls. Everything
it reads is on CDK's interfaces, so resources imported by attributes work.
"""

from __future__ import annotations

from collections.abc import Sequence

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

from alarm_rollback_kit.alarms import alarm_state_rule
from alarm_rollback_kit.compliance import (
    NOT_IN_VPC,
    KitConstruct,
    acknowledge,
    control_tower,
    retention,
)
from alarm_rollback_kit.config import RollbackConfig
from alarm_rollback_kit.dead_letters import dead_letter_queue, messages_waiting_alarm
from alarm_rollback_kit.lambda_code import ROLLBACK_CODE, function_code
from alarm_rollback_kit.own_function import own_function
from alarm_rollback_kit.rollback_targets import EC2, LAMBDA, RollbackTarget, rollback_target
from alarm_rollback_kit.topics import AlarmTopic

# Delivery to Lambda only; the function's own errors get Lambda's asynchronous retries
# (two, one and two minutes apart; Lambda Developer Guide, "Error handling and automatic
# retries"), then the on-failure destination. An event older than an hour is a different
# decision; a human takes it from the dead-letter queue instead.
RULE_RETRY_ATTEMPTS = 4
MAX_EVENT_AGE = Duration.hours(1)
# What CodeDeploy's rollback of a failed or stopped deployment leads to, per target.
_AFTER_CODEDEPLOY_ROLLBACK = {
    EC2: "the function redeploys the good revision once and pages",
    LAMBDA: "the function pages: the alias may still route part of the traffic to the bad version",
}


def deployment_failed_text(type_name: str) -> str:
    """The page the deployment-failed rule sends on-call for a group of ``type_name``."""
    return (
        "[alarm-rollback-kit] CodeDeploy deployment "
        f"{events.EventField.from_path('$.detail.deploymentId')} of "
        f"{events.EventField.from_path('$.detail.application')}/"
        f"{events.EventField.from_path('$.detail.deploymentGroup')} ended "
        f"{events.EventField.from_path('$.detail.state')} at {events.EventField.time}. Nothing "
        "was rolled back automatically if it was the kit's own redeploy ([alarm-rollback-kit] "
        "in its description): the kit turns CodeDeploy's rollback off for it, since that would "
        "reinstall the bad release. If it was CodeDeploy's rollback, "
        f"{_AFTER_CODEDEPLOY_ROLLBACK[type_name]}. Either way the bad release may still be "
        "serving: check the group and the rollback function's log now."
    )


def notifications_topic(scope: Construct, config: RollbackConfig) -> sns.ITopic:
    """The encrypted topic for decisions and pages when the caller brings none."""
    return AlarmTopic(
        scope, "Notifications", display_name="Auto-rollback", email=config.notification_email
    ).topic


class RollbackFunction(KitConstruct):
    """The function that rolls CodeDeploy back, wired to ``alarms`` through ``rule``.

    ``deployment_group``: an EC2 ``IServerDeploymentGroup`` with ``load_balancer`` and
    ``target_group``, or a Lambda ``ILambdaDeploymentGroup`` with the ``alias`` it shifts
    (then ``alarms`` should be the group's own: the function stops a running deployment
    with rollback on any of them, whether or not CodeDeploy has yet). ``alarms``: the alarms whose ALARM transition means "roll back" (the
    function ignores events of any other alarm). ``rule``: a rule matching them
    (``RollbackAlarms.rule``); without one, a rule over ``alarms`` is made here. ``topic``:
    where decisions and pages go (a KMS-encrypted topic is made when not given).
    ``distribution_id``: a CloudFront distribution whose cached errors are invalidated
    after a rollback.

    Attributes: ``function``, ``rule``, ``idempotency_table``, ``dead_letter_queue``,
    ``topic``, ``dead_letter_alarm``, ``function_errors_alarm``, ``deployment_failed_rule``,
    ``target``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        deployment_group: codedeploy.IServerDeploymentGroup | codedeploy.ILambdaDeploymentGroup,
        alarms: Sequence[cw.IAlarm],
        config: RollbackConfig,
        load_balancer: elbv2.IApplicationLoadBalancer | None = None,
        target_group: elbv2.IApplicationTargetGroup | None = None,
        alias: lambda_.IAlias | None = None,
        rule: events.Rule | None = None,
        topic: sns.ITopic | None = None,
        distribution_id: str | None = None,
        invalidation_paths: tuple[str, ...] = ("/*",),
    ) -> None:
        super().__init__(scope, id_)
        if not alarms:
            raise ValueError("RollbackFunction needs at least one alarm that means 'roll back'")
        self.config = config
        self.target: RollbackTarget = rollback_target(
            deployment_group, load_balancer=load_balancer, target_group=target_group, alias=alias
        )
        self.topic = topic or notifications_topic(self, config)
        self.dead_letter_queue = dead_letter_queue(self, "DeadLetters")
        self.idempotency_table = self._idempotency_table()
        self.function = self._function(alarms, distribution_id, invalidation_paths)
        self._grant(distribution_id)
        self.rule = rule or alarm_state_rule(self, "OnRollbackAlarm", alarms)
        self.rule.add_target(self._invoke())
        self.deployment_failed_rule = self._deployment_failed_rule()
        self.dead_letter_alarm, self.function_errors_alarm = self._own_alarms()

    def _invoke(self) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            self.function,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=RULE_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
        )

    def _deployment_failed_rule(self) -> events.Rule:
        # A rollback deployment that fails (or any deployment of the group) raises no new
        # alarm transition, so the function would never hear of it: page directly, and let
        # the function retry a CodeDeploy rollback that ended Stopped or Failed (the same
        # alarms may stop it; AWS does not document whether they do).
        # Event shape: CodeDeploy User Guide, "Monitoring deployments with EventBridge".
        return events.Rule(
            self,
            "OnDeploymentFailed",
            description="A deployment of the group failed or stopped: tell on-call",
            event_pattern=events.EventPattern(
                source=["aws.codedeploy"],
                detail_type=["CodeDeploy Deployment State-change Notification"],
                detail={
                    "state": ["FAILURE", "STOP"],
                    "application": [self.target.application_name],
                    "deploymentGroup": [self.target.group_name],
                },
            ),
            targets=[
                targets.SnsTopic(
                    self.topic,
                    message=events.RuleTargetInput.from_text(
                        deployment_failed_text(self.target.type_name)
                    ),
                    dead_letter_queue=self.dead_letter_queue,
                ),
                self._invoke(),
            ],
        )

    def _own_alarms(self) -> tuple[cw.Alarm, cw.Alarm]:
        notify = cw_actions.SnsAction(self.topic)
        waiting = messages_waiting_alarm(
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
        errors = cw.Alarm(
            self,
            "FunctionErrors",
            alarm_description="The rollback function failed; check its log and the DLQ.",
            metric=self.function.metric_errors(period=Duration.minutes(1), statistic="Sum"),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (waiting, errors):
            alarm.add_alarm_action(notify)
        return waiting, errors

    def _idempotency_table(self) -> dynamodb.Table:
        # One item per rollback the function makes, written with a condition so that of
        # concurrent invocations exactly one acts. Records expire by TTL after two days and
        # hold nothing worth keeping, so the table goes with the stack.
        return dynamodb.Table(
            self,
            "IdempotencyRecords",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiresAt",
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _environment(
        self,
        alarms: Sequence[cw.IAlarm],
        distribution_id: str | None,
        invalidation_paths: tuple[str, ...],
    ) -> dict[str, str]:
        config = self.config
        return {
            "TARGET_TYPE": self.target.type_name,
            "APPLICATION_NAME": self.target.application_name,
            "DEPLOYMENT_GROUP_NAME": self.target.group_name,
            **self.target.environment(),
            "BAKE_MINUTES": str(config.bake_minutes),
            "TOPIC_ARN": self.topic.topic_arn,
            "DRY_RUN": "true" if config.dry_run else "false",
            "ROLLBACK_ALARM_NAMES": cdk.Fn.join(",", [alarm.alarm_name for alarm in alarms]),
            "MAX_ROLLBACKS_PER_HOUR": str(config.max_rollbacks_per_hour),
            "DIAGNOSIS_MINUTES": "5",
            "DISTRIBUTION_ID": distribution_id or "",
            "INVALIDATION_PATHS": ",".join(invalidation_paths),
            "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
        }

    def _function(
        self,
        alarms: Sequence[cw.IAlarm],
        distribution_id: str | None,
        invalidation_paths: tuple[str, ...],
    ) -> lambda_.Function:
        return own_function(
            self,
            "Function",
            logs_id="FunctionLogs",
            role_id="FunctionRole",
            role_description="Rollback function: this deployment group, topic and log group only",
            # The decision log is the audit trail of every rollback: keep it.
            retention=logs.RetentionDays.THREE_MONTHS,
            description="Rolls back CodeDeploy when a rollback alarm fires",
            code=function_code(ROLLBACK_CODE),
            handler="rollback.handler.lambda_handler",
            memory_size=256,
            # Well under a minute: an invocation cut short by a hung call is retried by
            # Lambda (twice) and then kept in the dead-letter queue; no decision is lost.
            timeout=Duration.seconds(30),
            # None by default: a reservation fails the deploy in an account whose quota is
            # still the new-account 10 (Lambda keeps 10 unreserved). Concurrent deliveries
            # end in one rollback through the idempotency record instead.
            reserved_concurrent_executions=self.config.reserved_concurrency or None,
            retry_attempts=2,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
            environment=self._environment(alarms, distribution_id, invalidation_paths),
        ).function

    def _grant(self, distribution_id: str | None) -> None:
        """Exactly the calls the function makes, each on its resource."""
        statements = [
            # Claim a record before CreateDeployment, give it back if that fails.
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.idempotency_table.table_arn],
            ),
            *self.target.statements(),
            # Explicit rather than topic.grant_publish, which grants kms:GenerateDataKey*.
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
        ]
        if self.target.reads_metrics:
            # GetMetricData has no resource-level permissions (CloudWatch service
            # authorization reference); it only reads metrics.
            statements.append(
                iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])
            )
        if distribution_id:
            distribution = cdk.Stack.of(self).format_arn(
                service="cloudfront",
                region="",
                resource="distribution",
                resource_name=distribution_id,
            )
            statements.append(
                iam.PolicyStatement(
                    actions=["cloudfront:CreateInvalidation"], resources=[distribution]
                )
            )
        if self.topic.master_key is not None:
            statements.append(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.topic.master_key.key_arn],
                )
            )
        for statement in statements:
            self.function.add_to_role_policy(statement)

    def acknowledge_nag_findings(self) -> None:
        self._acknowledge_aws_solutions()
        self._acknowledge_control_tower()
        self._acknowledge_idempotency_table()

    def _acknowledge_aws_solutions(self) -> None:
        acknowledge(
            self.idempotency_table,
            [
                (
                    "AwsSolutions-DDB3",
                    "Idempotency records of the rollback function: each expires by TTL within two "
                    "days and only deduplicates concurrent invocations; a restore would bring back "
                    "nothing anyone needs.",
                )
            ],
        )
        acknowledge(
            self.dead_letter_queue,
            [
                (
                    "AwsSolutions-SQS3",
                    "This queue is the dead-letter queue: EventBridge's target DLQ and the function's "
                    "on-failure destination. cdk-nag only recognizes DLQs named in a redrive policy.",
                )
            ],
        )
        if not self.target.reads_metrics:
            return
        policy = (
            self.function.role.node.try_find_child("DefaultPolicy") if self.function.role else None
        )
        acknowledge(
            policy or self.function,
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "cloudwatch:GetMetricData, read-only, supports no resource-level permissions; the "
                    "diagnosis reads ALB metrics with it. Every other statement names its resource.",
                ),
            ],
        )

    def _acknowledge_control_tower(self) -> None:
        acknowledge(
            self.dead_letter_queue,
            [
                control_tower(
                    "sqs_dlq_check",
                    "CT.SQS.PR.1: this queue is a dead-letter queue (EventBridge target DLQ and "
                    "the function's on-failure destination). Its RedriveAllowPolicy is denyAll "
                    "because no SQS queue redrives into it; the control accepts only allowAll or "
                    "byQueue, both wider.",
                )
            ],
        )
        acknowledge(self.function, [NOT_IN_VPC])
        logs = self.node.find_child("FunctionLogs")
        acknowledge(
            logs,
            [
                retention("The rollback function's decision log."),
                control_tower(
                    "cloudwatch_log_group_encrypted_check",
                    "CT.CLOUDWATCH.PR.3: holds the rollback decisions (deployment ids, alarm "
                    "names, metric figures), no client data; CloudWatch Logs encrypts it at rest "
                    "with its own key.",
                ),
            ],
        )

    def _acknowledge_idempotency_table(self) -> None:
        acknowledge(
            self.idempotency_table,
            [
                control_tower(
                    "dynamodb_table_pitr_enabled_check",
                    "CT.DYNAMODB.PR.1: claim records that expire after two days (TTL) and only "
                    "stop a second rollback of the same release; losing them costs nothing a "
                    "restore would bring back.",
                ),
                control_tower(
                    "dynamodb_table_encrypted_kms_check",
                    "CT.DYNAMODB.PR.2: holds deployment ids, alarm ARNs and times, no client data; "
                    "DynamoDB encrypts it at rest with an AWS owned key.",
                ),
            ],
        )
