"""The rollback function's settings, read and validated once from its environment.

The CDK construct sets these variables; a wrong one is a deployment mistake, so it fails the
invocation loudly with the variable, the value and what is allowed, rather than letting the
function guess during an incident. ``TARGET_TYPE`` says what the deployment group releases:
``EC2`` (an in-place server group behind an ALB: ``LOAD_BALANCER_FULL_NAME`` and
``TARGET_GROUP_FULL_NAME`` are required for the diagnosis) or ``LAMBDA`` (a Lambda group
shifting an alias: ``LAMBDA_FUNCTION_NAME`` and ``LAMBDA_ALIAS_NAME`` are required, and the
function only undoes deployments that move that alias).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The marker the kit writes into the description of every deployment it creates, so later
# invocations recognise their own rollbacks (never roll back a rollback; the hourly budget).
KIT_MARKER = "[alarm-rollback-kit]"
EC2 = "EC2"
LAMBDA = "LAMBDA"
TARGET_TYPES = (EC2, LAMBDA)


class ConfigError(ValueError):
    """An environment variable is missing or outside its allowed values."""


@dataclass(frozen=True, kw_only=True)
class Config:
    target_type: str
    application_name: str
    deployment_group_name: str
    topic_arn: str
    bake_minutes: int
    dry_run: bool
    rollback_alarm_names: tuple[str, ...]
    max_rollbacks_per_hour: int
    load_balancer_full_name: str | None
    target_group_full_name: str | None
    diagnosis_minutes: int
    distribution_id: str | None
    invalidation_paths: tuple[str, ...]
    idempotency_table: str
    # Only for the page's console links; a missing one leaves its link out.
    dashboard_name: str | None = None
    log_group_name: str | None = None
    # LAMBDA only: the function and alias the group's deployments shift.
    lambda_function_name: str | None = None
    lambda_alias_name: str | None = None

    @property
    def is_lambda(self) -> bool:
        return self.target_type == LAMBDA

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Config:
        target_type = _choice(env, "TARGET_TYPE", TARGET_TYPES)
        ec2 = target_type == EC2
        return cls(
            target_type=target_type,
            application_name=_required(env, "APPLICATION_NAME"),
            deployment_group_name=_required(env, "DEPLOYMENT_GROUP_NAME"),
            topic_arn=_topic_arn(env),
            bake_minutes=_integer(env, "BAKE_MINUTES", low=1, high=1440),
            dry_run=_boolean(env, "DRY_RUN"),
            rollback_alarm_names=_names(env, "ROLLBACK_ALARM_NAMES"),
            max_rollbacks_per_hour=_integer(
                env, "MAX_ROLLBACKS_PER_HOUR", low=1, high=10, default=1
            ),
            load_balancer_full_name=(
                _full_name(env, "LOAD_BALANCER_FULL_NAME", prefix="app/") if ec2 else None
            ),
            target_group_full_name=(
                _full_name(env, "TARGET_GROUP_FULL_NAME", prefix="targetgroup/") if ec2 else None
            ),
            diagnosis_minutes=_integer(env, "DIAGNOSIS_MINUTES", low=1, high=60, default=5),
            distribution_id=env.get("DISTRIBUTION_ID", "").strip() or None,
            invalidation_paths=_paths(env, "INVALIDATION_PATHS"),
            idempotency_table=_required(env, "IDEMPOTENCY_TABLE"),
            dashboard_name=env.get("DASHBOARD_NAME", "").strip() or None,
            # Set by Lambda itself (defined runtime environment variables).
            log_group_name=env.get("AWS_LAMBDA_LOG_GROUP_NAME", "").strip() or None,
            lambda_function_name=None if ec2 else _required(env, "LAMBDA_FUNCTION_NAME"),
            lambda_alias_name=None if ec2 else _required(env, "LAMBDA_ALIAS_NAME"),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required and must not be empty (got {env.get(name)!r})")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, "").strip()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is invalid: allowed values are {', '.join(allowed)}")
    return value


def _topic_arn(env: Mapping[str, str]) -> str:
    value = _required(env, "TOPIC_ARN")
    parts = value.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns":
        raise ConfigError(
            f"TOPIC_ARN={value!r} is invalid: expected an SNS topic ARN "
            "arn:<partition>:sns:<region>:<account>:<topic>"
        )
    return value


def _integer(
    env: Mapping[str, str], name: str, *, low: int, high: int, default: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is invalid: expected an integer from {low} to {high}"
        ) from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range: allowed {low} to {high}")
    return value


def _boolean(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip()
    if raw.lower() not in {"true", "false"}:
        raise ConfigError(f"{name}={raw!r} is invalid: allowed values are 'true' and 'false'")
    return raw.lower() == "true"


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in env.get(name, "").split(",") if n.strip())
    if not names:
        raise ConfigError(
            f"{name}={env.get(name)!r} is invalid: expected one or more comma-separated alarm names"
        )
    return names


def _full_name(env: Mapping[str, str], name: str, *, prefix: str) -> str:
    value = _required(env, name)
    # CloudWatch's ALB dimensions are "<prefix><name>/<id>" (ELB User Guide, ALB metrics).
    if not value.startswith(prefix) or len(value.split("/")) != 3:
        raise ConfigError(
            f"{name}={value!r} is invalid: expected '{prefix}<name>/<id>' "
            "(the CloudWatch dimension value, CDK's *_full_name)"
        )
    return value


def _paths(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").strip() or "/*"
    paths = tuple(p.strip() for p in raw.split(",") if p.strip())
    bad = [p for p in paths if not p.startswith("/")]
    if not paths or bad:
        raise ConfigError(
            f"{name}={raw!r} is invalid: expected comma-separated paths starting with '/' "
            "(CloudFront invalidation paths, e.g. '/*')"
        )
    return paths
