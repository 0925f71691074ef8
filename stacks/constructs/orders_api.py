"""The order-api on API Gateway (REST) + Lambda, built so a failure is never a bare 502.

Trap 3 of the reference incident: an uncaught exception, a timeout or a malformed answer
from a Lambda proxy integration reaches the client as API Gateway's 502, which tells
neither the client nor the on-call what happened (API Gateway Developer Guide, "Set up
Lambda proxy integrations in API Gateway"). This construct keeps that case rare and
visible:

* the handler times out before the 29 s integration timeout (``ApiConfig`` checks it), so
  a slow request gets the handler's own answer, not a gateway 504;
* errors API Gateway answers by itself (throttling, auth, integration timeout, unknown
  paths, the 502 of a crashed handler) are shaped by gateway responses into the same
  RFC 9457 ``application/problem+json`` document the handler sends, with
  ``$context.requestId`` (also in the access log) as ``trace_id``;
* the handler's own 5xx answers, invisible to Lambda's ``Errors`` metric, are alarmed on
  from the EMF metric it emits, next to alarms on Lambda ``Errors`` (a 502) and the
  stage's ``5XXError``;
* work that may outlast the integration timeout runs in an SQS-fed worker behind a 202.

Routes: each known path is an explicit resource with a method per documented operation
(per-operation metrics and access-log lines) plus ``ANY``, so HEAD, OPTIONS and a wrong
method still reach the handler, which answers 405 with ``Allow`` from its own route
table. Unknown paths never invoke the function: API Gateway's
``MISSING_AUTHENTICATION_TOKEN`` (its answer for a path with no method on a public API)
is turned into a 404 problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from alarm_rollback_kit.dead_letters import dead_letter_queue, messages_waiting_alarm
from alarm_rollback_kit.hardening import LOG_RETENTION, private_queue
from alarm_rollback_kit.keys import LogsKey
from alarm_rollback_kit.lambda_code import function_code
from alarm_rollback_kit.own_function import own_function
from stacks.config import ApiConfig
from stacks.constructs import api_alarms
from stacks.constructs.api_alarms import canary_alarm, http_alarms
from stacks.constructs.gateway_answers import (
    ACCESS_LOG_FIELDS,
    PROBLEM_JSON,
    SERVICE_NAME,
    GatewayProblem,
    gateway_problems,
    literal,
    problem_template,
)
from stacks.constructs.lambda_release import LambdaRelease
from stacks.constructs.pre_traffic_hook import LAMBDAS_DIR, PreTrafficHook

# What Powertools 3 needs at import for the REST resolver, Logger, Metrics and the batch
# utility: the package and its two unconditional requirements (its other dependencies are
# extras). boto3/botocore come with the Lambda Python runtime.
# The sample API's handlers live in the repository beside the stacks, not in the library.
API_CODE = LAMBDAS_DIR / "api"
VENDORED_DISTRIBUTIONS = ("aws-lambda-powertools", "jmespath", "typing_extensions")

# Paths and the operations each documents, mirroring lambdas/api/routing.py. HEAD and
# OPTIONS are served by the handler through the ANY method on the same resource.
ROUTES: Mapping[str, tuple[str, ...]] = {
    "/health": ("GET",),
    "/orders": ("POST",),
    "/orders/{order_id}": ("GET", "DELETE"),
    "/orders/{order_id}/export": ("POST",),
    "/jobs/{job_id}": ("GET",),
}

# The DynamoDB calls each function makes (lambdas/api/store.py): nothing more is granted.
HANDLER_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
WORKER_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")

# An export reads one order and updates one job; a minute is ample and keeps a stuck
# message from hiding for long.
WORKER_TIMEOUT_SECONDS = 60
# Lambda Developer Guide, "Using Lambda with Amazon SQS": set the queue's visibility
# timeout to at least six times the function timeout, so retries of a throttled batch do
# not make a message visible again while it is still being worked on.
VISIBILITY_TIMEOUT_FACTOR = 6
# Three attempts, then a human looks at the message in the dead-letter queue.
MAX_RECEIVE_COUNT = 3


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention for ``days`` (one of the values ApiConfig accepts)."""
    try:
        return LOG_RETENTION[days]
    except KeyError:
        raise ValueError(f"no CloudWatch Logs retention of {days} days") from None


class OrdersApi(Construct):
    """REST API, handler and worker functions, orders table, export queue and alarms.

    ``alarm_topic``: alarm and OK notifications go there when given.
    ``manage_account_cloudwatch_role`` (default ``config.manage_account_cloudwatch_role``):
    API Gateway writes a REST stage's execution and access logs through one role per
    account and Region, set in its account settings (``AWS::ApiGateway::Account``), and
    refuses a stage with logging while none is set (API Gateway Developer Guide, "Set up
    CloudWatch logging for REST APIs in API Gateway"). With True the construct creates a
    role and sets it, replacing whatever role the Region had, and retains it on delete
    because other APIs log through it too. Pass False where the account already has one.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: ApiConfig,
        alarm_topic: sns.ITopic | None = None,
        manage_account_cloudwatch_role: bool | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.config = config
        log_retention = retention(config.log_retention_days)
        if manage_account_cloudwatch_role is None:
            manage_account_cloudwatch_role = config.manage_account_cloudwatch_role
        # Access logs carry client addresses; every log group of the API shares one key.
        self.logs_key = LogsKey(
            self, "LogsKey", description="Encrypts the order-api's log groups"
        ).key

        self._storage()
        self._functions(config, log_retention)
        self._api(config, manage_account_cloudwatch_role, log_retention)
        self._alarms(config, alarm_topic)

    # --- steps of the constructor ---------------------------------------------------------

    def _storage(self) -> None:
        """The orders table, the export queue and its dead-letter queue."""
        # Orders and export jobs. AWS managed key: encryption at rest with every use of
        # the key in CloudTrail, no key policy to keep right and no monthly key charge; a
        # customer managed key would add those for sample order data that needs no
        # cross-account sharing or key-level revocation.
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

        # Only the export queue may redrive into its DLQ. Naming the queue (unique per
        # construct path, like the API's name) lets the DLQ name its ARN without a
        # reference back to the queue, which already references the DLQ: a cycle.
        export_queue_name = Names.unique_resource_name(self, max_length=72, separator="-")
        export_queue_name = f"{export_queue_name}-export"
        self.dead_letter_queue = dead_letter_queue(
            self,
            "ExportDeadLetters",
            source_queue_arns=[
                Stack.of(self).format_arn(
                    service="sqs",
                    resource=export_queue_name,
                    arn_format=ArnFormat.NO_RESOURCE_NAME,
                )
            ],
        )
        self.queue = private_queue(
            self,
            "ExportQueue",
            queue_name=export_queue_name,
            visibility_timeout=Duration.seconds(WORKER_TIMEOUT_SECONDS * VISIBILITY_TIMEOUT_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )

    def _functions(self, config: ApiConfig, log_retention: logs.RetentionDays) -> None:
        """Handler and worker, each released behind ``live``, and the pre-traffic hook."""
        self.handler = self._function(
            "Handler",
            handler="api.handler.lambda_handler",
            description="order-api: answers API Gateway REST proxy requests",
            # Ends before API Gateway's 29 s integration timeout, so the client gets the
            # handler's answer, not a gateway 504 (ApiConfig.validate enforces it).
            timeout=Duration.seconds(config.handler_timeout_seconds),
            environment={
                "TABLE_NAME": self.table.table_name,
                "EXPORT_QUEUE_URL": self.queue.queue_url,
            },
            table_actions=HANDLER_TABLE_ACTIONS,
            log_retention=log_retention,
        )
        self.queue.grant_send_messages(self.handler)
        # Versions behind a ``live`` alias, shifted by CodeDeploy: API Gateway and the SQS
        # event source invoke the alias, so a bad version can be taken back.
        self.application = codedeploy.LambdaApplication(self, "Releases")
        self.handler_release = self._release(
            "HandlerRelease", self.handler, "order-api handler", config
        )
        # A version whose answers API Gateway could not use never takes traffic.
        self.pre_traffic_hook = PreTrafficHook(
            self,
            "PreTrafficHook",
            target=self.handler,
            version=self.handler_release.version,
            logs_key=self.logs_key,
            log_retention=log_retention,
        )
        self.handler_release.deployment_group.add_pre_hook(self.pre_traffic_hook.function)
        self.pre_traffic_hook.allow_reading(self.handler_release.deployment_group)

        self.worker = self._function(
            "Worker",
            handler="api.worker.lambda_handler",
            description="order-api: runs export jobs from the export queue",
            timeout=Duration.seconds(WORKER_TIMEOUT_SECONDS),
            environment={"TABLE_NAME": self.table.table_name},
            table_actions=WORKER_TABLE_ACTIONS,
            log_retention=log_retention,
        )
        self.worker_release = self._release(
            "WorkerRelease", self.worker, "order-api export worker", config
        )
        self.worker_release.alias.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=10,
                # The worker reports failed messages in batchItemFailures; without this the
                # whole batch would be retried for one failure (Lambda Developer Guide,
                # "Handling errors for an SQS event source").
                report_batch_item_failures=True,
                # Caps the worker's share of the account's concurrency; without it a burst
                # of exports scales the poller up to 1,250 concurrent invocations (Lambda
                # Developer Guide, "Configuring maximum concurrency for Amazon SQS event
                # sources").
                max_concurrency=config.worker_max_concurrency,
            )
        )

    def _api(
        self, config: ApiConfig, manage_account_role: bool, log_retention: logs.RetentionDays
    ) -> None:
        """The REST API with its stage, logs, routes to the alias and gateway responses."""
        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention,
            encryption_key=self.logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.rest_api = self._rest_api(config, manage_account_role)
        # The account-level logging role CDK creates for ``cloud_watch_role=True`` (None
        # when the account's setting is left alone), for compliance acknowledgments.
        role = self.rest_api.node.try_find_child("CloudWatchRole")
        self.account_cloudwatch_role = role if isinstance(role, iam.Role) else None
        self._routes()
        for problem in gateway_problems(config):
            self._gateway_response(problem)
        self.execution_log_group = self._execution_log_group(config, log_retention)

    def _alarms(self, config: ApiConfig, alarm_topic: sns.ITopic | None) -> None:
        """The API's alarms, the release group's extra ones, and where they notify."""
        self.http_5xx_alarm, self.handler_errors_alarm, self.api_5xx_alarm = http_alarms(
            self,
            config,
            handler=self.handler,
            stage=self.rest_api.deployment_stage,
            api_5xx_alarm_name=self.api_5xx_alarm_name,
        )
        self.canary_http_5xx_alarm = canary_alarm(self, config, self.handler_release)
        self.handler_release.add_alarm(self.canary_http_5xx_alarm)
        self.handler_release.add_alarm(
            cw.Alarm.from_alarm_name(self, "Api5xxAlarmForRelease", self.api_5xx_alarm_name)
        )
        self.dead_letter_alarm = messages_waiting_alarm(
            self,
            "ExportDeadLettersWaiting",
            queue=self.dead_letter_queue,
            description=(
                "An export message failed every attempt and waits in the dead-letter "
                "queue; its job stays queued or running until someone looks."
            ),
        )
        self.alarms = (
            self.http_5xx_alarm,
            self.handler_errors_alarm,
            self.api_5xx_alarm,
            self.dead_letter_alarm,
            # A stopped canary is news too: the topic hears why CodeDeploy took it back.
            self.canary_http_5xx_alarm,
            self.handler_release.errors_alarm,
            self.handler_release.throttles_alarm,
            self.worker_release.errors_alarm,
            self.worker_release.throttles_alarm,
        )
        if alarm_topic is not None:
            action = cw_actions.SnsAction(alarm_topic)
            for alarm in self.alarms:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)

    # --- functions ------------------------------------------------------------------------

    def _release(
        self, id_: str, function: lambda_.Function, description: str, config: ApiConfig
    ) -> LambdaRelease:
        """``function``'s versions behind ``live``, shifted by the API's CodeDeploy application."""
        return LambdaRelease(
            self,
            id_,
            function=function,
            application=self.application,
            deployment_config_name=config.deployment_config_name,
            description=description,
        )

    def _function(
        self,
        id_: str,
        *,
        handler: str,
        description: str,
        timeout: Duration,
        environment: Mapping[str, str],
        table_actions: tuple[str, ...],
        log_retention: logs.RetentionDays,
    ) -> lambda_.Function:
        function = own_function(
            self,
            id_,
            logs_id=f"{id_}Logs",
            role_id=f"{id_}Role",
            role_description=f"{description}: its log group, table and queue only",
            retention=log_retention,
            encryption_key=self.logs_key,
            description=description,
            code=function_code(API_CODE, vendored=VENDORED_DISTRIBUTIONS),
            handler=handler,
            memory_size=self.config.handler_memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": api_alarms.METRICS_NAMESPACE,
            },
        ).function
        self.table.grant(function, *table_actions)
        return function

    # --- REST API ---------------------------------------------------------------------------

    def _rest_api(self, config: ApiConfig, manage_account_role: bool) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "RestApi",
            # API Gateway's metrics are keyed by API name and stage, so two kit APIs in one
            # account must not share the construct id CDK would otherwise use as the name.
            rest_api_name=Names.unique_resource_name(self, max_length=64, separator="-"),
            description="order-api: orders and export jobs",
            # Regional: no hidden CloudFront distribution whose error caching nobody can
            # configure, and the integration timeout can be raised by quota if ever needed.
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=manage_account_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if manage_account_role else None,
            deploy_options=apigw.StageOptions(
                stage_name=config.stage_name,
                tracing_enabled=True,
                # Applied to every method ("*/*"); above it clients get the THROTTLED
                # gateway response, 429 with Retry-After.
                throttling_rate_limit=config.throttle_rate_per_second,
                throttling_burst_limit=config.throttle_burst,
                # Execution logs for errors only; the access log has a line per request.
                # Data trace stays off: it would write request and response bodies.
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
            ),
        )

    def _routes(self) -> None:
        integration = apigw.LambdaIntegration(self.handler_release.alias, proxy=True)
        for path, methods in ROUTES.items():
            resource = self.rest_api.root.resource_for_path(path)
            for method in (*methods, "ANY"):
                resource.add_method(method, integration)

    def _gateway_response(self, problem: GatewayProblem) -> None:
        headers = {"Content-Type": PROBLEM_JSON, "Cache-Control": "no-store", **problem.headers}
        name = "".join(part.title() for part in problem.response_type.split("_"))
        self.rest_api.add_gateway_response(
            name,
            type=apigw.ResponseType.of(problem.response_type),
            status_code=str(problem.status) if problem.status is not None else None,
            response_headers={key: literal(value) for key, value in headers.items()},
            # One template, under the content type API Gateway selects by default.
            templates={"application/json": problem_template(problem)},
        )

    def _execution_log_group(
        self,
        config: ApiConfig,
        log_retention: logs.RetentionDays,
    ) -> logs.LogGroup:
        # API Gateway writes execution logs to this fixed name and would create it itself
        # with no retention; creating it first bounds what ERROR logs keep.
        group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=(
                f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{config.stage_name}"
            ),
            retention=log_retention,
            encryption_key=self.logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.rest_api.deployment_stage.node.add_dependency(group)
        return group

    # --- alarms ---------------------------------------------------------------------------

    @property
    def api_5xx_alarm_name(self) -> str:
        return Names.unique_resource_name(self, max_length=200, separator="-") + "-Api5xx"
