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

from aws_cdk import Duration
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from alarm_rollback_kit.lambda_code import function_code
from alarm_rollback_kit.own_function import own_function

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
        made = own_function(
            self,
            "Function",
            logs_id="Logs",
            role_id="Role",
            role_description=(
                "order-api pre-traffic hook: invokes the new version, reports to CodeDeploy"
            ),
            retention=log_retention,
            encryption_key=logs_key,
            description="order-api: BeforeAllowTraffic check of a new handler version",
            code=function_code(LAMBDAS_DIR / "pretraffic", data=bundled_events()),
            handler="pretraffic.handler.lambda_handler",
            # A dozen invocations of a handler that times out within 28 s each, at most;
            # CodeDeploy waits up to an hour for the status.
            timeout=Duration.minutes(5),
            memory_size=256,
            environment={
                "TARGET_FUNCTION": target.function_name,
                "TARGET_VERSION": version.version,
            },
        )
        self.function, self.role, self.log_group = made.function, made.role, made.log_group
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                # Qualified ARNs only: the hook tests a version, never $LATEST.
                resources=[f"{target.function_arn}:*"],
            )
        )

    def allow_reading(self, group: codedeploy.ILambdaDeploymentGroup) -> None:
        """GetDeployment on ``group`` (its deployments are authorized on the group's ARN) and
        GetApplicationRevision on its application: GetDeployment never returns the AppSpec's
        content, only its sha256 (CodeDeploy API Reference, GetDeployment)."""
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["codedeploy:GetDeployment"], resources=[group.deployment_group_arn]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["codedeploy:GetApplicationRevision"],
                resources=[group.application.application_arn],
            )
        )
