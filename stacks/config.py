"""Typed, validated configuration for one stage of the sample app.

Every stage is one frozen ``StageConfig`` built from embedded defaults (a cheap sandbox of
the reference incident's ``order-api``, docs/incident.md) plus overrides from ``cdk.json``
context or ``cdk synth -c``. Its sections are the library's props
(``alarm_rollback_kit.config``), which check their own fields when built; the sample's own
sections (the API, the chat channel) do the same here, and ``StageConfig`` adds the checks
that need two sections. Either way a bad value raises ``ConfigError`` naming the field,
the value and the allowed range before any construct exists, so a typo fails at synth
with a readable message instead of as a CloudFormation rollback twenty minutes into a
deploy. ``app.py`` is the only caller of ``load_config``; constructs receive the typed
objects.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alarm_rollback_kit.config import (
    ORIGIN_KEEPALIVE_SECONDS,
    ConfigError,
    EdgeConfig,
    RollbackConfig,
    ServiceConfig,
    SeverityAlarmsConfig,
    check_standard_logging,
)
from alarm_rollback_kit.config_checks import CheckedConfig, ranged
from alarm_rollback_kit.hardening import LOG_RETENTION
from alarm_rollback_kit.rollback_targets import LAMBDA_ALL_AT_ONCE

# The stage's own sections and the loader; the library's props are imported from
# ``alarm_rollback_kit`` (``ConfigError`` is here too, for callers that catch it).
__all__ = [
    "APIGW_INTEGRATION_TIMEOUT_S",
    "LAMBDA_DEPLOYMENT_CONFIGS",
    "ApiConfig",
    "ChatConfig",
    "ConfigError",
    "StageConfig",
    "load_config",
]


# --- API -----------------------------------------------------------------------------------

# REST API integration timeout default maximum (API Gateway quotas). Regional APIs can
# raise it by quota request; the kit stays under the default.
APIGW_INTEGRATION_TIMEOUT_S = 29

# The predefined deployment configurations for the Lambda compute platform (CodeDeploy
# User Guide, "Deployment configurations on an AWS Lambda compute platform"). A custom
# one would need its own AWS::CodeDeploy::DeploymentConfig; the kit offers these.
LAMBDA_DEPLOYMENT_CONFIGS = (
    "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    "CodeDeployDefault.LambdaCanary10Percent15Minutes",
    "CodeDeployDefault.LambdaCanary10Percent30Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
    "CodeDeployDefault.LambdaLinear10PercentEvery10Minutes",
    LAMBDA_ALL_AT_ONCE,
)


@dataclass(frozen=True, kw_only=True)
class ApiConfig(CheckedConfig):
    """The order-api on API Gateway (REST) + Lambda, whose handlers never answer 502."""

    enabled: bool = True
    stage_name: str = "v1"
    # Must end before API Gateway's 29 s, so the client gets the handler's own answer,
    # not a gateway 504.
    handler_timeout_seconds: int = ranged(
        10,
        1,
        APIGW_INTEGRATION_TIMEOUT_S - 1,
        f"1..{APIGW_INTEGRATION_TIMEOUT_S - 1}, below API Gateway's "
        f"{APIGW_INTEGRATION_TIMEOUT_S} s integration timeout",
    )
    handler_memory_mb: int = ranged(256, 128, 10240, "Lambda memory 128..10240 MB")
    throttle_rate_per_second: int = ranged(50, 1, 10000, "1..10000 (account default limit)")
    throttle_burst: int = ranged(100, 1, 5000, "1..5000 (account default burst)")
    retry_after_seconds: int = ranged(1, 1, 3600, "1..3600")
    # Alarm when the handlers' own 5xx answers (invisible to Lambda Errors) exceed this
    # per minute.
    http_5xx_alarm_threshold: int = ranged(5, 1, 100000, "1..100000")
    log_retention_days: int = 30
    # Most export-worker invocations the SQS event source runs at once (Lambda: 2-1000).
    worker_max_concurrency: int = ranged(
        5, 2, 1000, "Lambda Developer Guide, maximum concurrency for Amazon SQS event sources"
    )
    # Set the Region's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account). The
    # stage's access and execution logs need one; turn this off where the account
    # already has one, since the kit's replaces it for every REST API in the Region.
    manage_account_cloudwatch_role: bool = True
    # How CodeDeploy shifts the handler's and the worker's ``live`` alias to a new version.
    # Ten minutes, not five: detection takes up to 5 minutes at the drill's worst assumed
    # metric delay, so a 5-minute canary moves all traffic just as the stop lands (README,
    # "Lambda releases: drill and restore comparison").
    deployment_config_name: str = "CodeDeployDefault.LambdaCanary10Percent10Minutes"
    # Caught 5xx per minute from the new version that stop its deployment. Low, because
    # during a 10 % canary the new version sees a tenth of the traffic.
    canary_http_5xx_threshold: int = ranged(1, 1, 100000, "1..100000")

    section = "api"

    def validate(self) -> None:
        if self.deployment_config_name not in LAMBDA_DEPLOYMENT_CONFIGS:
            raise ConfigError(
                "api.deployment_config_name",
                self.deployment_config_name,
                "one of " + ", ".join(LAMBDA_DEPLOYMENT_CONFIGS) + " (CodeDeploy User Guide, "
                "Deployment configurations on an AWS Lambda compute platform)",
            )
        super().validate()
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", self.stage_name or ""):
            raise ConfigError("api.stage_name", self.stage_name, "1-64 of A-Z a-z 0-9 _")
        if self.log_retention_days not in LOG_RETENTION:
            raise ConfigError(
                "api.log_retention_days",
                self.log_retention_days,
                "one of CloudWatch Logs' retention values, e.g. 7, 30, 90",
            )


# --- Chat ----------------------------------------------------------------------------------

# AWS::Chatbot::SlackChannelConfiguration (CloudFormation Template Reference): SlackWorkspaceId
# matches ^[0-9A-Z]{1,255}$ (e.g. T012ABCDEFG, shown in the Amazon Q Developer in chat
# applications console once the workspace is authorized), SlackChannelId ^[A-Za-z0-9]+$,
# at most 255 characters (e.g. C0123ABCDEF, the end of the channel's copied link).
SLACK_WORKSPACE_ID = re.compile(r"[0-9A-Z]{1,255}")
SLACK_CHANNEL_ID = re.compile(r"[A-Za-z0-9]{1,255}")
_CHATBOT_SOURCE = "AWS::Chatbot::SlackChannelConfiguration"


@dataclass(frozen=True, kw_only=True)
class ChatConfig(CheckedConfig):
    """An optional Slack channel (AWS Chatbot) that receives what the paging topic gets."""

    slack_workspace_id: str = ""
    slack_channel_id: str = ""

    section = "chat"

    @property
    def enabled(self) -> bool:
        return bool(self.slack_workspace_id or self.slack_channel_id)

    def validate(self) -> None:
        if not self.enabled:
            return
        for name, value, pattern, example in (
            ("chat.slack_workspace_id", self.slack_workspace_id, SLACK_WORKSPACE_ID, "T012ABCDEFG"),
            ("chat.slack_channel_id", self.slack_channel_id, SLACK_CHANNEL_ID, "C0123ABCDEF"),
        ):
            if not pattern.fullmatch(value):
                raise ConfigError(
                    name,
                    value,
                    f"{pattern.pattern} such as {example!r}, set together with the other "
                    f"chat id ({_CHATBOT_SOURCE})",
                )


# --- Stage ---------------------------------------------------------------------------------


SANDBOX_STAGE = "sandbox"


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """Everything one stage deploys. ``account``/``region`` empty = environment-agnostic."""

    stage: str = "sandbox"
    account: str = ""
    region: str = ""
    service: ServiceConfig = field(default_factory=ServiceConfig)
    rollback: RollbackConfig = field(default_factory=RollbackConfig)
    edge: EdgeConfig = field(default_factory=EdgeConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    alarms: SeverityAlarmsConfig = field(default_factory=SeverityAlarmsConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)

    def __post_init__(self) -> None:
        self.validate()
        if self.service.deletion_protection is None:
            # Frozen: resolve the stage default once, so constructs read a plain bool.
            resolved = dataclasses.replace(self.service, deletion_protection=not self.sandbox)
            object.__setattr__(self, "service", resolved)

    @property
    def sandbox(self) -> bool:
        """The one stage allowed the cheap, less protected defaults."""
        return self.stage == SANDBOX_STAGE

    def validate(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", self.stage or ""):
            raise ConfigError("stage", self.stage, "1-20 lowercase letters, digits or '-'")
        if self.account and not re.fullmatch(r"\d{12}", self.account):
            raise ConfigError("account", self.account, "a 12-digit AWS account id or ''")
        if self.region and not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", self.region):
            raise ConfigError("region", self.region, "an AWS region such as 'eu-west-1' or ''")
        for zone in self.service.availability_zones:
            if not (self.region and zone.startswith(self.region)):
                raise ConfigError(
                    "service.availability_zones",
                    zone,
                    f"zones of the configured region ({self.region or 'none set'}), e.g. "
                    f"'{self.region or 'eu-west-1'}a'; only used with account and region",
                )
        # Each section checked its own fields when it was built; what follows needs two.
        self._validate_edge_against_service()
        self._validate_edge_for_stage()

    def _validate_edge_against_service(self) -> None:
        edge, idle_timeout_seconds = self.edge, self.service.idle_timeout_seconds
        rollback_window_seconds = self.rollback_window_seconds
        alb_has_certificate = bool(self.service.certificate_arn)
        if edge.enabled and alb_has_certificate and not edge.origin_domain_name:
            raise ConfigError(
                "edge.origin_domain_name",
                edge.origin_domain_name,
                "a DNS name on service.certificate_arn that points at the ALB, required "
                "when the ALB has a certificate (CloudFront verifies the origin's certificate)",
            )
        if idle_timeout_seconds <= ORIGIN_KEEPALIVE_SECONDS and edge.enabled:
            raise ConfigError(
                "service.idle_timeout_seconds",
                idle_timeout_seconds,
                f"> {ORIGIN_KEEPALIVE_SECONDS} s (CloudFront's origin keep-alive) with the edge on",
            )
        for code, ttl in edge.error_caching_min_ttl.items():
            name = f"edge.error_caching_min_ttl.{code}"
            if (
                500 <= code <= 599
                and ttl > rollback_window_seconds
                and not edge.allow_error_ttl_beyond_rollback
            ):
                raise ConfigError(
                    name,
                    ttl,
                    f"<= {rollback_window_seconds} s, the kit's detection-plus-restore time; "
                    "a longer TTL keeps serving the bad release's errors after the rollback "
                    "(set edge.allow_error_ttl_beyond_rollback=true to accept that)",
                )
        if edge.origin_read_timeout_seconds > idle_timeout_seconds:
            # The ALB would cut the connection first and CloudFront would see it as a
            # failed origin, not a timeout.
            raise ConfigError(
                "edge.origin_read_timeout_seconds",
                edge.origin_read_timeout_seconds,
                f"<= service.idle_timeout_seconds={idle_timeout_seconds}",
            )

    def _validate_edge_for_stage(self) -> None:
        if not self.edge.enabled:
            return
        if not self.sandbox and not self.service.certificate_arn:
            # Without an ALB certificate CloudFront reaches the ALB over http-only, and the
            # X-Origin-Verify secret crosses the internet in clear text on every request.
            raise ConfigError(
                "service.certificate_arn",
                self.service.certificate_arn,
                f"an ACM certificate ARN for the ALB when stage={self.stage!r}: outside the "
                f"'{SANDBOX_STAGE}' stage CloudFront must reach the ALB over HTTPS (with "
                "edge.origin_domain_name), or the origin-verify header travels in clear text",
            )
        check_standard_logging(self.edge.standard_logging, self.region, "edge.standard_logging")

    @property
    def rollback_window_seconds(self) -> int:
        """Detection plus modelled restore: how long a bad release can keep serving errors."""
        return self.rollback.detection_seconds + self.service.restore_estimate().total_s


# --- Loading from CDK context --------------------------------------------------------------

SECTIONS: dict[str, type[Any]] = {
    "service": ServiceConfig,
    "rollback": RollbackConfig,
    "edge": EdgeConfig,
    "api": ApiConfig,
    "alarms": SeverityAlarmsConfig,
    "chat": ChatConfig,
}
_SCALARS = {"stage", "account", "region"}


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValueError


def _to_int(raw: object) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError
    value: int = int(raw)  # type: ignore[call-overload]
    return value


def _to_float(raw: object) -> float:
    if isinstance(raw, bool):
        raise ValueError
    return float(raw)  # type: ignore[arg-type]


def _to_str(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError
    return raw


def _to_tuple(raw: object) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise ValueError
    return tuple(str(item).strip() for item in items if str(item).strip())


def _to_code_map(name: str, raw: object) -> dict[int, int]:
    mapping = raw
    if isinstance(raw, str):
        # "502=5,404=60" on the command line
        mapping = dict(part.split("=", 1) for part in raw.split(",") if part)
    if not isinstance(mapping, Mapping):
        raise ValueError
    return {int(k): _coerce(f"{name}.{k}", v, int) for k, v in mapping.items()}


_CONVERTERS: dict[Any, Any] = {bool: _to_bool, int: _to_int, float: _to_float, str: _to_str}


def _coerce(name: str, raw: object, annotation: Any) -> Any:
    """Turn a context value (JSON from cdk.json, or a string from ``-c``) into ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        # ``bool | None``: None is the unset default, a context value is always the type.
        (inner,) = (arg for arg in typing.get_args(annotation) if arg is not type(None))
        return _coerce(name, raw, inner)
    try:
        if annotation in _CONVERTERS:
            return _CONVERTERS[annotation](raw)
        if origin is tuple:
            return _to_tuple(raw)
        if origin in (Mapping, dict, types.MappingProxyType):
            return _to_code_map(name, raw)
    except ConfigError:
        raise
    except (TypeError, ValueError):
        pass
    raise ConfigError(name, raw, f"a value of type {getattr(annotation, '__name__', annotation)}")


def _build_section(section: str, cls: type[Any], overrides: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    known = {f.name for f in dataclasses.fields(cls)}
    for key, raw in overrides.items():
        head, _, rest = key.partition(".")
        if head not in known:
            raise ConfigError(f"{section}.{key}", raw, "one of " + ", ".join(sorted(known)))
        hint = hints[head]
        if dataclasses.is_dataclass(hint):
            if rest:
                nested.setdefault(head, {})[rest] = raw
            elif isinstance(raw, Mapping):
                nested.setdefault(head, {}).update(raw)
            else:
                raise ConfigError(f"{section}.{key}", raw, "an object of settings")
        elif rest and typing.get_origin(hint) in (Mapping, dict):
            # Dotted key into a mapping: edge.error_caching_min_ttl.502=5
            merged = dict(kwargs.get(head) or getattr(cls(), head))
            merged.update(_coerce(f"{section}.{key}", {rest: raw}, hint))
            kwargs[head] = merged
        elif rest:
            raise ConfigError(f"{section}.{key}", raw, f"'{section}.{head}' has no sub-fields")
        else:
            kwargs[head] = _coerce(f"{section}.{key}", raw, hint)
    for head, sub in nested.items():
        kwargs[head] = _build_section(f"{section}.{head}", hints[head], sub)
    return cls(**kwargs)


def _flatten(prefix: str, value: object, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and prefix.count(".") < 1:
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    else:
        out[prefix] = value


def load_config(context: Mapping[str, Any]) -> StageConfig:
    """Build the validated config for the selected stage from CDK context.

    Precedence, lowest first: embedded defaults; ``cdk.json`` ``"kit"`` object's
    ``"stages"`` entry for the stage; any ``-c section.field=value`` on the command line.
    """
    stage = str(context.get("stage", "sandbox"))
    layered: dict[str, Any] = {}
    kit = context.get("kit") or {}
    stages = kit.get("stages", {}) if isinstance(kit, Mapping) else {}
    stage_overrides = stages.get(stage, {}) if isinstance(stages, Mapping) else {}
    for section, values in stage_overrides.items():
        _flatten(section, values, layered)
    for key, value in context.items():
        head = key.split(".", 1)[0]
        if (head in SECTIONS and "." in key) or key in _SCALARS - {"stage"}:
            layered[key] = value

    sections: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    scalars: dict[str, Any] = {"stage": stage}
    for key, value in layered.items():
        head, _, rest = key.partition(".")
        if head in SECTIONS and rest:
            sections[head][rest] = value
        elif head in _SCALARS:
            scalars[head] = _coerce(head, value, str)
        else:
            raise ConfigError(key, value, "a key under one of " + ", ".join(SECTIONS))
    built = {name: _build_section(name, cls, sections[name]) for name, cls in SECTIONS.items()}
    return StageConfig(**scalars, **built)
