"""The API stack synthesized once for every test module that reads it, and readers for it.

``ApiStack`` is synthesized from non-default ``api.*`` settings passed the way ``cdk synth
-c`` passes them, so every assertion on a configured value proves the value flows from
config, not from a default that happens to match. The synth is cached: the API's test
modules (split by behaviour) share one. ``orders_api`` narrows the resources to the
``OrdersApi`` construct's, so the stack's other parts (its rollback function's table, log
group and alarms) do not blur assertions about the API's own.

``tests/infra/api/conftest.py`` offers them as module-scoped fixtures.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from stacks.api_stack import ApiStack
from stacks.config import load_config
from stacks.constructs.orders_api import OrdersApi
from tests.support.templates import new_app

Resources = dict[str, dict[str, Any]]

STACK_ID = "order-api-test-api"
OVERRIDES = {
    "api.stage_name": "test",
    "api.handler_timeout_seconds": "12",
    "api.handler_memory_mb": "512",
    "api.throttle_rate_per_second": "7",
    "api.throttle_burst": "14",
    "api.retry_after_seconds": "3",
    "api.http_5xx_alarm_threshold": "9",
    "api.log_retention_days": "14",
    "api.worker_max_concurrency": "7",
    "rollback.bake_minutes": "20",
}
GIVEN_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:oncall"
# Logical-id prefix of everything the OrdersApi construct makes in the stack.
ORDERS_API_PREFIX = "OrdersApi"

RESPONSE = "AWS::ApiGateway::GatewayResponse"
ALARM = "AWS::CloudWatch::Alarm"
FUNCTION = "AWS::Lambda::Function"
HANDLER = "api.handler.lambda_handler"
WORKER = "api.worker.lambda_handler"


@functools.cache
def app_and_stack() -> tuple[cdk.App, ApiStack]:
    app = new_app(OVERRIDES)
    stack = ApiStack(app, STACK_ID, config=load_config(app.node.get_all_context()))
    return app, stack


@functools.cache
def template() -> Template:
    return Template.from_stack(app_and_stack()[1])


def resources() -> Resources:
    found: Resources = template().to_json()["Resources"]
    return found


def orders_api(found: Resources) -> Resources:
    return {k: r for k, r in found.items() if k.startswith(ORDERS_API_PREFIX)}


@functools.cache
def standalone() -> Template:
    """The construct alone in a user's stack, with their topic and their account role."""
    app = new_app()
    stack = cdk.Stack(app, "UserStack")
    OrdersApi(
        stack,
        "Api",
        config=load_config(app.node.get_all_context()).api,
        alarm_topic=sns.Topic.from_topic_arn(stack, "OnCall", GIVEN_TOPIC_ARN),
        manage_account_cloudwatch_role=False,
    )
    return Template.from_stack(stack)


def of_type(found: Resources, type_: str) -> Resources:
    return {k: r for k, r in found.items() if r["Type"] == type_}


def gateway_response(found: Resources, type_: str) -> dict[str, Any]:
    (props,) = [
        r["Properties"]
        for r in of_type(found, RESPONSE).values()
        if r["Properties"]["ResponseType"] == type_
    ]
    found_props: dict[str, Any] = props
    return found_props


def function_id(found: Resources, handler: str) -> str:
    (logical_id,) = [
        k for k, r in of_type(found, FUNCTION).items() if r["Properties"]["Handler"] == handler
    ]
    return logical_id


def alarm(found: Resources, logical_prefix: str) -> dict[str, Any]:
    (props,) = [
        r["Properties"] for k, r in of_type(found, ALARM).items() if k.startswith(logical_prefix)
    ]
    found_props: dict[str, Any] = props
    return found_props


def stage(found: Resources) -> dict[str, Any]:
    (only,) = of_type(found, "AWS::ApiGateway::Stage").values()
    return only


def statements(found: Resources) -> Iterator[dict[str, Any]]:
    for policy in of_type(found, "AWS::IAM::Policy").values():
        yield from policy["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def routes(found: Resources) -> dict[str, set[str]]:
    """``{"/orders/{order_id}": {"GET", "DELETE", "ANY"}, ...}`` from the template."""
    api_resources = of_type(found, "AWS::ApiGateway::Resource")

    def path(logical_id: str) -> str:
        props = api_resources[logical_id]["Properties"]
        parent = props["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{props['PathPart']}"

    found_routes: dict[str, set[str]] = {}
    for method in of_type(found, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        found_routes.setdefault(path(props["ResourceId"]["Ref"]), set()).add(props["HttpMethod"])
    return found_routes


def body(template_text: str) -> dict[str, Any]:
    """A gateway-response body as a client would get it, with placeholder values."""
    filled = template_text.replace("$context.error.messageString", '"Some message"')
    parsed: dict[str, Any] = json.loads(filled)
    return parsed
