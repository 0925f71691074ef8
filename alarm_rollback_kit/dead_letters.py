"""Dead-letter queues, and the alarm that fires as soon as one message waits in one.

A message in a dead-letter queue is work that failed every retry (an alarm event the
rollback function could not decide, an export that never finished): nobody sees it unless
something pages, so one visible message for one minute is enough. The queues are
encrypted, refuse plain HTTP and keep a message for SQS's maximum of 14 days, time for a
human to read it. Each says which queues may use it as their dead-letter queue
(``RedriveAllowPolicy``): none by default, since EventBridge and Lambda deliver to a
dead-letter queue without a redrive policy, or exactly the queue that redrives into it
(SQS Developer Guide, "Using dead-letter queues in Amazon SQS").
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from alarm_rollback_kit.hardening import private_queue


def dead_letter_queue(
    scope: Construct, id_: str, *, source_queue_arns: Sequence[str] = ()
) -> sqs.Queue:
    """A DLQ only ``source_queue_arns`` may redrive into (no SQS queue when empty)."""
    redrive_allow = (
        sqs.RedriveAllowPolicy(
            redrive_permission=sqs.RedrivePermission.BY_QUEUE,
            source_queues=[
                sqs.Queue.from_queue_arn(scope, f"{id_}Source{i}", arn)
                for i, arn in enumerate(source_queue_arns)
            ],
        )
        if source_queue_arns
        else sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.DENY_ALL)
    )
    return private_queue(
        scope,
        id_,
        retention_period=Duration.days(14),
        redrive_allow_policy=redrive_allow,
    )


def messages_waiting_alarm(
    scope: Construct, id_: str, *, queue: sqs.IQueue, description: str
) -> cw.Alarm:
    """``ApproximateNumberOfMessagesVisible`` (Maximum, 1 minute) >= 1, missing = OK."""
    return cw.Alarm(
        scope,
        id_,
        alarm_description=description,
        metric=queue.metric_approximate_number_of_messages_visible(
            period=Duration.minutes(1), statistic="Maximum"
        ),
        threshold=1,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
