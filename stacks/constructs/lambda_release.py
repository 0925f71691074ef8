"""A Lambda function released through CodeDeploy: versions behind an alias, shifted by canary.

Deploying a function in place sends a bad release to every request at once, and nothing
takes it back. ``LambdaRelease`` publishes a version per change (``current_version``),
points a ``live`` alias at it and lets a CodeDeploy deployment group for the Lambda compute
platform shift the alias from the old version to the new one by a predefined deployment
configuration (CodeDeploy User Guide, "Deployment configurations on an AWS Lambda compute
platform"). Callers invoke the alias, never the function, so only the alias's weights
decide which version answers.

The group stops the deployment and CodeDeploy moves the alias back to the old version
when one of its alarms goes to ALARM while the deployment runs (``DEPLOYMENT_STOP_ON_ALARM``)
or the deployment fails, e.g. because the ``BeforeAllowTraffic`` hook reported Failed
(CodeDeploy User Guide, "AppSpec 'hooks' section for an AWS Lambda deployment"). The
construct alarms on Lambda ``Errors`` and ``Throttles`` of the alias itself (dimensions
``FunctionName`` and ``Resource`` = ``function:alias``); callers add the alarms only they
can build (the API's caught 5xx of the new version, the stage's 5XXError) with
``add_alarm``.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from alarm_rollback_kit.alarms import threshold_alarm

ALIAS_NAME = "live"


class LambdaRelease(Construct):
    """``function``'s ``live`` alias and the CodeDeploy group that moves it between versions.

    ``deployment_config_name`` must be one of the predefined Lambda configurations
    (``stacks.config.LAMBDA_DEPLOYMENT_CONFIGS``; ``ApiConfig`` checks it).
    ``pre_traffic_hook`` runs as ``BeforeAllowTraffic`` before any traffic reaches the new
    version. Attributes: ``version``, ``alias``, ``deployment_group``, ``errors_alarm``,
    ``throttles_alarm``, ``alarms`` (everything the group watches, in order).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function: lambda_.Function,
        application: codedeploy.ILambdaApplication,
        deployment_config_name: str,
        description: str,
        pre_traffic_hook: lambda_.IFunction | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.version = function.current_version
        self.alias = lambda_.Alias(self, "Alias", alias_name=ALIAS_NAME, version=self.version)
        minute = Duration.minutes(1)
        self.errors_alarm = self._alarm(
            "AliasErrorsAlarm",
            self.alias.metric_errors(period=minute, statistic="Sum"),
            f"{description}: a function error (exception, timeout, out of memory) through the "
            f"{ALIAS_NAME} alias during or after a release. While a CodeDeploy deployment runs "
            "it stops and the alias goes back to the previous version.",
        )
        self.throttles_alarm = self._alarm(
            "AliasThrottlesAlarm",
            self.alias.metric_throttles(period=minute, statistic="Sum"),
            f"{description}: invocations through the {ALIAS_NAME} alias were throttled. A new "
            "version that runs longer can exhaust concurrency; a running deployment stops.",
        )
        self.alarms: list[cw.IAlarm] = [self.errors_alarm, self.throttles_alarm]
        self.deployment_group = codedeploy.LambdaDeploymentGroup(
            self,
            "DeploymentGroup",
            application=application,
            alias=self.alias,
            deployment_config=codedeploy.LambdaDeploymentConfig.from_lambda_deployment_config_name(
                self, "Config", deployment_config_name
            ),
            alarms=list(self.alarms),
            # Failed (the hook said so), stopped, or in alarm: CodeDeploy points the alias
            # back at the version it had (CodeDeploy User Guide, "Redeploy and roll back a
            # deployment with CodeDeploy").
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
            pre_hook=pre_traffic_hook,
        )

    def add_alarm(self, alarm: cw.IAlarm) -> None:
        """Watch ``alarm`` too while a deployment runs (CodeDeploy allows 10 per group)."""
        self.deployment_group.add_alarm(alarm)
        self.alarms.append(alarm)

    def _alarm(self, id_: str, metric: cw.IMetric, description: str) -> cw.Alarm:
        return threshold_alarm(self, id_, metric, threshold=1, description=description)
