"""The order-api's own alarms: caught 5xx, handler errors, the stage's 5XXError, the canary.

The handler's own 5xx answers are invisible to Lambda's ``Errors`` metric, so they are
alarmed on from the EMF metric it emits (``Http5xx``), next to alarms on Lambda ``Errors``
(a 502) and the stage's ``5XXError``; the canary alarm counts the caught 5xx of the version
being released only. ``OrdersApi`` builds them as its children, so their logical ids are
the construct's.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from alarm_rollback_kit.alarms import threshold_alarm
from stacks.config import ApiConfig
from stacks.constructs.gateway_answers import SERVICE_NAME
from stacks.constructs.lambda_release import LambdaRelease

METRICS_NAMESPACE = "OrderApi"
# EMF metric lambdas/api/handler.py records for every answer (1 for a 5xx, else 0), with
# Powertools Metrics' default dimension ``service``, and again with ``version`` (the
# function version that answered) so a canary's errors are counted apart from the old one's.
HTTP_5XX_METRIC = "Http5xx"
VERSION_DIMENSION = "version"


def http_5xx_metric(version: str | None = None) -> cw.Metric:
    """``Http5xx`` per minute, of every version or (``version``) of one."""
    dimensions = {"service": SERVICE_NAME}
    if version is not None:
        dimensions[VERSION_DIMENSION] = version
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=HTTP_5XX_METRIC,
        dimensions_map=dimensions,
        statistic="Sum",
        period=Duration.minutes(1),
    )


def http_alarms(
    scope: Construct,
    config: ApiConfig,
    *,
    handler: lambda_.IFunction,
    stage: apigw.Stage,
    api_5xx_alarm_name: str,
) -> tuple[cw.Alarm, cw.Alarm, cw.Alarm]:
    """The handler's own 5xx, its Lambda errors (API Gateway's 502) and the stage's 5XXError."""
    minute = Duration.minutes(1)
    own_5xx = http_5xx_metric()
    http_5xx = threshold_alarm(
        scope,
        "Http5xxAlarm",
        own_5xx,
        threshold=config.http_5xx_alarm_threshold,
        description=(
            f"order-api answered 5xx itself at least {config.http_5xx_alarm_threshold} "
            "times in a minute (caught failures: Lambda Errors does not count them). "
            "Search the handler log for the problem's trace_id."
        ),
    )
    handler_errors = threshold_alarm(
        scope,
        "HandlerErrorsAlarm",
        handler.metric_errors(period=minute, statistic="Sum"),
        threshold=1,
        description=(
            "The order-api handler failed (exception, timeout, out of memory): clients "
            "got API Gateway's 502. The handler is written never to raise, so this is a "
            "bug or a broken release."
        ),
    )
    api_5xx = threshold_alarm(
        scope,
        "Api5xxAlarm",
        stage.metric_server_error(period=minute, statistic="Sum"),
        # A name fixed at synth, so the handler's deployment group can name this alarm
        # without a reference: the alarm depends on the stage, the stage on the methods,
        # the methods on the alias, and the alias on the group (a cycle otherwise).
        alarm_name=api_5xx_alarm_name,
        threshold=config.http_5xx_alarm_threshold,
        description=(
            "The order-api stage returned 5xx at least "
            f"{config.http_5xx_alarm_threshold} times in a minute, from the handler or "
            "from API Gateway itself (502/504). If Http5xx is quiet, the gateway made "
            "them: check errorResponseType and integrationErrorMessage in the access log."
        ),
    )
    return http_5xx, handler_errors, api_5xx


def canary_alarm(scope: Construct, config: ApiConfig, release: LambdaRelease) -> cw.Alarm:
    """Caught 5xx of the version being released, whatever share of traffic it has.

    The dimension is the new version's number, so CloudFormation updates the alarm in
    the same stack update that publishes the version; the alias (whose update starts
    the CodeDeploy deployment) waits for it, so the deployment watches the new version
    from its first minute.
    """
    version = release.version.version
    alarm = threshold_alarm(
        scope,
        "CanaryHttp5xxAlarm",
        http_5xx_metric(version),
        threshold=config.canary_http_5xx_threshold,
        description=(
            "The order-api version being released answered 5xx itself at least "
            f"{config.canary_http_5xx_threshold} times in a minute. During a CodeDeploy "
            "deployment this stops it and the live alias returns to the previous version."
        ),
    )
    release.alias.node.add_dependency(alarm)
    return alarm
