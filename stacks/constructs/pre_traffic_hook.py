"""The order-api's BeforeAllowTraffic hook function (``lambdas/pretraffic``) and its role.

CodeDeploy invokes it before a new handler version gets any traffic; it invokes that
version directly with the documented API Gateway events (bundled from ``tests/events``)
and malformed ones, and reports ``Succeeded`` or ``Failed``
(``PutLifecycleEventHookExecutionStatus``). Its role may invoke only the target
function's qualified ARNs (versions and aliases, ``<function ARN>:*``), write its own log
group, and report on the deployment group it belongs to (CDK's ``add_pre_hook`` grants that
one action on the group's ARN) and read that group's deployments (``allow_reading``), whose
AppSpec names the version under test.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from alarm_rollback_kit.lambda_code import function_code

REPO_ROOT = Path(__file__).resolve().parents[2]
# The sample's own functions (the kit's rollback function ships inside alarm_rollback_kit).
LAMBDAS_DIR = REPO_ROOT / "lambdas"
EVENTS_DIR = REPO_ROOT / "tests" / "events"
EVENT_GLOB = "apigw-rest-*.json"


def bundled_events() -> tuple[tuple[Path, str], ...]:
    """The documented REST proxy events, copied to ``pretraffic/events/`` in the asset."""
    return tuple(
        (path, f"pretraffic/events/{path.name}") for path in sorted(EVENTS_DIR.glob(EVENT_GLOB))
    )


class PreTrafficHook(Construct):
    """``function``: the hook; ``role``: its role. ``target`` is checked at ``version``."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        target: lambda_.IFunction,
        version: lambda_.IVersion,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="order-api pre-traffic hook: invokes the new version, reports to CodeDeploy",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                # Qualified ARNs only: the hook tests a version, never $LATEST.
                resources=[f"{target.function_arn}:*"],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            role=self.role,
            description="order-api: BeforeAllowTraffic check of a new handler version",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            code=function_code(LAMBDAS_DIR / "pretraffic", data=bundled_events()),
            handler="pretraffic.handler.lambda_handler",
            # A dozen invocations of a handler that times out within 28 s each, at most;
            # CodeDeploy waits up to an hour for the status.
            timeout=Duration.minutes(5),
            memory_size=256,
            log_group=self.log_group,
            environment={
                "TARGET_FUNCTION": target.function_name,
                "TARGET_VERSION": version.version,
            },
        )

    def allow_reading(self, group: codedeploy.ILambdaDeploymentGroup) -> None:
        """GetDeployment on ``group`` (its deployments are authorized on the group's ARN)."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["codedeploy:GetDeployment"], resources=[group.deployment_group_arn]
            )
        )
