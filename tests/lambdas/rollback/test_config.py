"""Environment validation: good settings parse, and each bad one names variable, value, range."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from rollback.config import Config, ConfigError
from rollback.handler import lambda_handler
from tests.support.lambda_world import environment
from tests.support.rollback_world import BASE_ENV


def test_base_environment_parses_with_defaults() -> None:
    config = Config.from_environ(
        {
            k: v
            for k, v in BASE_ENV.items()
            if k not in {"MAX_ROLLBACKS_PER_HOUR", "DIAGNOSIS_MINUTES"}
        }
    )

    assert config.max_rollbacks_per_hour == 1
    assert config.diagnosis_minutes == 5
    assert config.distribution_id is None
    assert config.invalidation_paths == ("/*",)
    assert config.rollback_alarm_names == (
        "order-api-prod-elb-5xx",
        "order-api-prod-elb-5xx-guarded",
    )


def test_list_settings_are_split_on_commas_and_trimmed() -> None:
    config = Config.from_environ(
        {**BASE_ENV, "ROLLBACK_ALARM_NAMES": " a , b,,", "INVALIDATION_PATHS": "/*, /api/*"}
    )

    assert config.rollback_alarm_names == ("a", "b")
    assert config.invalidation_paths == ("/*", "/api/*")


def test_dry_run_accepts_any_case() -> None:
    assert Config.from_environ({**BASE_ENV, "DRY_RUN": "TRUE"}).dry_run is True


def test_empty_distribution_id_means_no_edge() -> None:
    assert Config.from_environ({**BASE_ENV, "DISTRIBUTION_ID": "  "}).distribution_id is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("APPLICATION_NAME", "", "APPLICATION_NAME is required"),
        ("DEPLOYMENT_GROUP_NAME", None, "DEPLOYMENT_GROUP_NAME is required"),
        ("TOPIC_ARN", "on-call", "TOPIC_ARN='on-call' is invalid"),
        ("TOPIC_ARN", "arn:aws:sqs:us-east-1:1:q", "expected an SNS topic ARN"),
        ("BAKE_MINUTES", "thirty", "BAKE_MINUTES='thirty' is invalid: expected an integer from 1"),
        ("BAKE_MINUTES", "0", "BAKE_MINUTES=0 is out of range: allowed 1 to 1440"),
        ("BAKE_MINUTES", None, "BAKE_MINUTES='' is invalid"),
        ("DRY_RUN", "yes", "DRY_RUN='yes' is invalid: allowed values are 'true' and 'false'"),
        ("DRY_RUN", None, "DRY_RUN='' is invalid"),
        ("ROLLBACK_ALARM_NAMES", " , ", "ROLLBACK_ALARM_NAMES=' , ' is invalid"),
        (
            "MAX_ROLLBACKS_PER_HOUR",
            "0",
            "MAX_ROLLBACKS_PER_HOUR=0 is out of range: allowed 1 to 10",
        ),
        ("MAX_ROLLBACKS_PER_HOUR", "1.5", "MAX_ROLLBACKS_PER_HOUR='1.5' is invalid"),
        ("LOAD_BALANCER_FULL_NAME", "my-alb", "expected 'app/<name>/<id>'"),
        ("LOAD_BALANCER_FULL_NAME", "net/nlb/123", "LOAD_BALANCER_FULL_NAME='net/nlb/123'"),
        ("TARGET_GROUP_FULL_NAME", "targetgroup/tg", "expected 'targetgroup/<name>/<id>'"),
        ("DIAGNOSIS_MINUTES", "61", "DIAGNOSIS_MINUTES=61 is out of range: allowed 1 to 60"),
        ("INVALIDATION_PATHS", "index.html", "INVALIDATION_PATHS='index.html' is invalid"),
    ],
)
def test_invalid_setting_names_the_variable_value_and_allowed_values(
    name: str, value: str | None, expected: str
) -> None:
    env = (
        {**BASE_ENV, name: value}
        if value is not None
        else {k: v for k, v in BASE_ENV.items() if k != name}
    )

    with pytest.raises(ConfigError) as raised:
        Config.from_environ(env)

    assert expected in str(raised.value)


def test_handler_refuses_to_run_with_an_invalid_environment(
    set_env: Callable[..., None], lambda_context: Any
) -> None:
    set_env(BAKE_MINUTES="-5")

    with pytest.raises(ConfigError, match="BAKE_MINUTES=-5"):
        lambda_handler({}, lambda_context)


def _lambda_env(**changes: str | None) -> dict[str, str]:
    merged = {**BASE_ENV, **environment(), **changes}
    return {k: v for k, v in merged.items() if v is not None}


def test_lambda_target_needs_function_and_alias_but_no_load_balancer() -> None:
    config = Config.from_environ(_lambda_env())

    assert config.is_lambda
    assert (config.lambda_function_name, config.lambda_alias_name) == ("order-api", "live")
    assert config.load_balancer_full_name is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"TARGET_TYPE": None}, "TARGET_TYPE='' is invalid: allowed values are EC2, LAMBDA"),
        ({"TARGET_TYPE": "ecs"}, "TARGET_TYPE='ecs' is invalid: allowed values are EC2, LAMBDA"),
        ({"LAMBDA_ALIAS_NAME": None}, "LAMBDA_ALIAS_NAME is required"),
        ({"LAMBDA_FUNCTION_NAME": " "}, "LAMBDA_FUNCTION_NAME is required"),
    ],
)
def test_bad_target_settings_name_the_variable_and_the_allowed_values(
    changes: dict[str, str | None], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_environ(_lambda_env(**changes))


def test_ec2_target_still_requires_the_load_balancer() -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != "LOAD_BALANCER_FULL_NAME"}

    with pytest.raises(ConfigError, match="LOAD_BALANCER_FULL_NAME is required"):
        Config.from_environ(env)
