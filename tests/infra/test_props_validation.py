"""Every props dataclass checks its own fields when it is built, in a user's bare stack.

Each case builds one construct in a bare ``cdk.Stack`` with one invalid value. The
``ConfigError`` (field, value, allowed range and its source, the message the stage config
gives) is raised while the construct's arguments are built, so the construct never
exists: not at synth of another stack, not in the rollback function during an incident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from alarm_rollback_kit import (
    AutoRollback,
    EdgeConfig,
    HealthCheckConfig,
    HealthCheckedService,
    RollbackAlarms,
    RollbackConfig,
    RollbackFunction,
    ServiceConfig,
    SeverityAlarms,
    SeverityAlarmsConfig,
)
from tests.support.bare import bare_edge, bare_stack, imported_service
from tests.support.config_errors import assert_names, config_error

Props = Callable[[], Any]


def _auto_rollback(stack: cdk.Stack, props: Props) -> None:
    AutoRollback(stack, "AutoRollback", **imported_service(stack), config=props())


def _rollback_alarms(stack: cdk.Stack, props: Props) -> None:
    service = imported_service(stack)
    RollbackAlarms(stack, "Alarms", load_balancer=service["load_balancer"], config=props())


def _rollback_function(stack: cdk.Stack, props: Props) -> None:
    service = imported_service(stack)
    alarm = RollbackAlarms(
        stack, "Alarms", load_balancer=service["load_balancer"], config=RollbackConfig()
    ).elb_5xx_count_alarm
    RollbackFunction(stack, "Rollback", **service, alarms=[alarm], config=props())


def _vpc(stack: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        public_subnet_ids=["subnet-0a", "subnet-0b"],
    )


def _health_checked_service(stack: cdk.Stack, props: Props) -> None:
    HealthCheckedService(
        stack,
        "Service",
        vpc=_vpc(stack),
        instance_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
        config=props(),
        access_log_bucket=s3.Bucket.from_bucket_name(stack, "Logs", "logs"),
    )


def _edge(stack: cdk.Stack, props: Props) -> None:
    bare_edge(stack, config=props())


def _severity_alarms(stack: cdk.Stack, props: Props) -> None:
    topic = sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:eu-west-1:111122223333:t")
    SeverityAlarms(
        stack,
        "SeverityAlarms",
        load_balancer=imported_service(stack)["load_balancer"],
        config=props(),
        min_requests_per_minute=20,
        paging_topic=topic,
        low_priority_topic=topic,
    )


# (construct builder, props, field, value, part of the allowed range)
CASES: list[tuple[Callable[[cdk.Stack, Props], None], Props, str, object, str]] = [
    (
        _auto_rollback,
        lambda: RollbackConfig(elb_5xx_threshold=-5),
        "rollback.elb_5xx_threshold",
        -5,
        "1..1000000",
    ),
    (
        _auto_rollback,
        lambda: RollbackConfig(elb_5xx_rate_percent=250),
        "rollback.elb_5xx_rate_percent",
        250,
        "0.01..100",
    ),
    (_auto_rollback, lambda: RollbackConfig(bake_minutes=0), "rollback.bake_minutes", 0, "1..1440"),
    (
        _auto_rollback,
        lambda: RollbackConfig(max_rollbacks_per_hour=0),
        "rollback.max_rollbacks_per_hour",
        0,
        "1..10",
    ),
    (
        _rollback_alarms,
        lambda: RollbackConfig(period_seconds=90),
        "rollback.period_seconds",
        90,
        "multiple of 60",
    ),
    (
        _rollback_alarms,
        lambda: RollbackConfig(evaluation_periods=3, datapoints_to_alarm=4),
        "rollback.datapoints_to_alarm",
        4,
        "1..rollback.evaluation_periods",
    ),
    (
        _rollback_function,
        lambda: RollbackConfig(notification_email="oncall"),
        "rollback.notification_email",
        "oncall",
        "e-mail",
    ),
    (
        _health_checked_service,
        lambda: ServiceConfig(health_check=HealthCheckConfig(interval_seconds=400)),
        "health_check.interval_seconds",
        400,
        "5..300 (ELB API Reference, CreateTargetGroup)",
    ),
    (
        _health_checked_service,
        lambda: ServiceConfig(health_check=HealthCheckConfig(success_codes="200,600")),
        "health_check.success_codes",
        "200,600",
        "200-499 (ELB API Reference, Matcher)",
    ),
    (
        _health_checked_service,
        lambda: ServiceConfig(deregistration_delay_seconds=4000),
        "service.deregistration_delay_seconds",
        4000,
        "0..3600 (ELB User Guide",
    ),
    (
        _edge,
        lambda: EdgeConfig(origin_read_timeout_seconds=90),
        "edge.origin_read_timeout_seconds",
        90,
        "1..60 (CloudFront Developer Guide",
    ),
    (
        _edge,
        lambda: EdgeConfig(error_caching_min_ttl={404: -1}),
        "edge.error_caching_min_ttl.404",
        -1,
        ">= 0",
    ),
    (
        _severity_alarms,
        lambda: SeverityAlarmsConfig(five_xx_rate_p2_percent=0),
        "alarms.five_xx_rate_p2_percent",
        0,
        "0.01..100",
    ),
]


@pytest.mark.parametrize(
    ("build", "props", "field", "value", "allowed"),
    CASES,
    ids=[f"{case[0].__name__.lstrip('_')}-{case[2]}" for case in CASES],
)
def test_invalid_prop_fails_when_the_construct_is_built_in_a_bare_stack(
    build: Callable[[cdk.Stack, Props], None],
    props: Props,
    field: str,
    value: object,
    allowed: str,
) -> None:
    stack = bare_stack()
    error = config_error(lambda: build(stack, props))
    assert_names(error, field=field, value=value, allowed=allowed)
    # Raised before the construct existed: nothing of it was added to the stack.
    assert not [c for c in stack.node.children if c.node.id not in _SURROUNDINGS]


# What the builders create around the construct (imports, never resources).
_SURROUNDINGS = {
    "ImportedAlb",
    "ImportedTargetGroup",
    "ImportedGroup",
    "ImportedApplication",
    "Alarms",
    "Vpc",
    "Logs",
    "Topic",
}


@pytest.mark.parametrize(
    "props",
    [RollbackConfig, ServiceConfig, HealthCheckConfig, EdgeConfig, SeverityAlarmsConfig],
)
def test_defaults_are_valid_on_their_own(props: Callable[[], object]) -> None:
    assert props() is not None
