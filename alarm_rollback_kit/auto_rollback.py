"""Roll a CodeDeploy release back when the ALB starts generating 5xx: alarm, event, Lambda.

``AutoRollback`` is the one-line composition of the two parts the kit also offers apart:
the alarm set with its EventBridge rule (``RollbackAlarms``, which it extends) and the
function the rule invokes (``RollbackFunction``, its child). The function also handles
what CodeDeploy cannot: a release that has already *succeeded* when the errors begin
(the reference 502 incident in docs/incident.md: deploy at 14:44, 502s from 14:45).

Drop it into any stack that has an ALB, its target group and a server deployment group,
created there or imported by attributes:
``AutoRollback(self, "AutoRollback", load_balancer=alb, target_group=tg,
deployment_group=dg, config=RollbackConfig())``.
"""

from __future__ import annotations

from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from constructs import Construct

from alarm_rollback_kit.alarms import RollbackAlarms
from alarm_rollback_kit.config import RollbackConfig
from alarm_rollback_kit.rollback_function import RollbackFunction, notifications_topic


class AutoRollback(RollbackAlarms):
    """The rollback alarms and rule (inherited) plus the ``RollbackFunction`` they invoke.

    It extends ``RollbackAlarms`` instead of holding one so every resource keeps the
    logical id it had before the split (the alarms and rule are direct children, as
    before). The function part has the id ``Default``, which CDK leaves out of logical ids
    (CDK Developer Guide, "Logical IDs"), so the function, its retained log group and its
    dead-letter queue keep theirs too.

    Attributes: those of ``RollbackAlarms``, ``rollback`` (the ``RollbackFunction``), and
    from it ``function``, ``idempotency_table``, ``dead_letter_queue``, ``topic``,
    ``dead_letter_alarm``, ``function_errors_alarm``, ``deployment_failed_rule``.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        target_group: elbv2.IApplicationTargetGroup,
        deployment_group: codedeploy.IServerDeploymentGroup,
        config: RollbackConfig | None = None,
        topic: sns.ITopic | None = None,
        distribution_id: str | None = None,
        invalidation_paths: tuple[str, ...] = ("/*",),
    ) -> None:
        config = config or RollbackConfig()
        super().__init__(
            scope,
            id_,
            load_balancer=load_balancer,
            config=config,
            deployment_group=deployment_group,
        )
        self.topic = topic or notifications_topic(self, config)
        self.notify(self.topic)
        self.rollback = RollbackFunction(
            self,
            "Default",
            load_balancer=load_balancer,
            target_group=target_group,
            deployment_group=deployment_group,
            alarms=self.rollback_alarms,
            rule=self.rule,
            config=config,
            topic=self.topic,
            distribution_id=distribution_id,
            invalidation_paths=invalidation_paths,
        )
        self.function = self.rollback.function
        self.idempotency_table = self.rollback.idempotency_table
        self.dead_letter_queue = self.rollback.dead_letter_queue
        self.dead_letter_alarm = self.rollback.dead_letter_alarm
        self.function_errors_alarm = self.rollback.function_errors_alarm
        self.deployment_failed_rule = self.rollback.deployment_failed_rule
