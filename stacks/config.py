"""Typed, validated configuration for one stage of the kit.

Every stage is one frozen ``StageConfig`` built from embedded defaults (a cheap sandbox of
the reference incident's ``order-api``, docs/incident.md) plus overrides from ``cdk.json`` context or ``cdk synth -c``.
Every value with an AWS limit is checked here, before any construct exists, and a bad one
raises ``ConfigError`` naming the field, the value and the allowed range, so a typo fails
at synth with a readable message instead of as a CloudFormation rollback twenty minutes
into a deploy. ``app.py`` is the only caller of ``load_config``; constructs receive the
typed objects.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stacks import timing


class ConfigError(ValueError):
    """A configuration value is outside what AWS (or the kit) accepts."""

    def __init__(self, field_name: str, value: object, allowed: str) -> None:
        super().__init__(f"invalid config {field_name}={value!r}: allowed {allowed}")
        self.field_name = field_name
        self.value = value
        self.allowed = allowed


def _check_range(name: str, value: float, low: float, high: float, source: str) -> None:
    if not low <= value <= high:
        raise ConfigError(name, value, f"{low}..{high} ({source})")


# --- ALB health-check matcher ------------------------------------------------------------

# ALB Matcher.HttpCode: 200-499, a comma list or a dash range; default "200".
# Source: Elastic Load Balancing API Reference, Matcher.
ALB_MATCHER_LOW, ALB_MATCHER_HIGH = 200, 499
_MATCHER_PART = re.compile(r"^(\d{3})(?:-(\d{3}))?$")


def parse_success_codes(
    spec: str, field_name: str = "health_check.success_codes"
) -> frozenset[int]:
    """Expand an ALB matcher (``"200,204"``, ``"200-299"``) into the codes it accepts."""
    codes: set[int] = set()
    allowed = f"a list like '200,204' or a range like '200-299' within {ALB_MATCHER_LOW}-{ALB_MATCHER_HIGH} (ELB API Reference, Matcher)"
    parts = spec.split(",") if isinstance(spec, str) and spec else []
    if not parts:
        raise ConfigError(field_name, spec, allowed)
    for part in parts:
        match = _MATCHER_PART.match(part.strip())
        if not match:
            raise ConfigError(field_name, spec, allowed)
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if low > high or low < ALB_MATCHER_LOW or high > ALB_MATCHER_HIGH:
            raise ConfigError(field_name, spec, allowed)
        codes.update(range(low, high + 1))
    return frozenset(codes)


# --- Service -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class HealthCheckConfig:
    """Target-group health check, tuned so a deploy or rollback batch rejoins quickly.

    An instance rejoins after ``interval_seconds * healthy_threshold`` of passing checks
    (kit: 10 s x 2 = 20 s; AWS default 30 s x 5 = 150 s) and is pulled after
    ``interval_seconds * unhealthy_threshold`` of failures (20 s). Every deploy and every
    rollback batch pays the healthy term once, so it sits directly in time to restore.
    """

    path: str = "/health"
    # The sample app's /health answers 204 No Content; the AWS default matcher "200" would
    # mark every instance unhealthy (docs/incident.md), so the default accepts both.
    success_codes: str = "200,204"
    interval_seconds: int = 10
    timeout_seconds: int = 5
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2

    def validate(self) -> None:
        # Limits: ELB API Reference, CreateTargetGroup.
        if not (
            isinstance(self.path, str)
            and self.path.startswith("/")
            and len(self.path) <= 1024
            and " " not in self.path
        ):
            raise ConfigError(
                "health_check.path",
                self.path,
                "a path starting with '/', no spaces, at most 1024 characters "
                "(ELB API Reference, CreateTargetGroup HealthCheckPath)",
            )
        parse_success_codes(self.success_codes)
        src = "ELB API Reference, CreateTargetGroup"
        _check_range("health_check.interval_seconds", self.interval_seconds, 5, 300, src)
        _check_range("health_check.timeout_seconds", self.timeout_seconds, 2, 120, src)
        if self.timeout_seconds >= self.interval_seconds:
            raise ConfigError(
                "health_check.timeout_seconds",
                self.timeout_seconds,
                f"less than health_check.interval_seconds={self.interval_seconds} ({src})",
            )
        _check_range("health_check.healthy_threshold", self.healthy_threshold, 2, 10, src)
        _check_range("health_check.unhealthy_threshold", self.unhealthy_threshold, 2, 10, src)

    @property
    def accepted_codes(self) -> frozenset[int]:
        return parse_success_codes(self.success_codes)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """The deployable service: VPC, ALB, target group, Auto Scaling group, CodeDeploy."""

    service_name: str = "order-api"
    # arm64 Graviton burstable: the cheapest size that runs the sample app and the agent.
    instance_type: str = "t4g.small"
    min_capacity: int = 2
    max_capacity: int = 2
    # 0 keeps the sandbox cheap: instances sit in public subnets (inbound only from the
    # ALB's security group) so the CodeDeploy agent can download without a NAT gateway.
    nat_gateways: int = 0
    max_azs: int = 2
    # Only for a stage with an explicit account and region: naming the zones avoids the
    # availability-zone look-up CDK would otherwise make (and need credentials or a
    # committed cdk.context.json for). Environment-agnostic stacks never look up.
    availability_zones: tuple[str, ...] = ()
    app_port: int = 8080
    health_check: HealthCheckConfig = field(default_factory=HealthCheckConfig)
    # Every in-place batch waits this long in BlockTraffic before stopping the app
    # (AWS default 300 s). order-api requests finish in well under a second, so 30 s of
    # draining is generous and saves 270 s per batch on every deploy and rollback.
    deregistration_delay_seconds: int = 30
    # Must stay below the app's keep-alive timeout (the sample app uses 75 s), or the ALB
    # reuses connections the app has closed and answers 502. AWS default 60 s.
    idle_timeout_seconds: int = 60
    # HalfAtATime keeps half the fleet serving while each half is replaced; with two
    # instances it is one at a time, and a rollback finishes in two batches.
    deployment_config_name: str = "CodeDeployDefault.HalfAtATime"
    certificate_arn: str = ""
    enable_waf: bool = False
    access_logs: bool = True
    # The stack deploys the sample's good revision (2.3.1, uploaded as an asset) once, when
    # it is created, so a new sandbox serves with no manual push. Off: bring your own.
    initial_release: bool = True
    # Auto Scaling also replaces instances the target group calls unhealthy. Off by
    # default: nothing answers /health until a release is installed, and no deployment is
    # guaranteed to finish within the 5-minute grace period of instances launched with the
    # stack, so they would be terminated mid-install. Turn on once every launch installs a
    # revision before it is in service (CodeDeploy's Auto Scaling lifecycle hook does, for
    # instances launched after the deployment group exists).
    elb_health_check: bool = False
    # ALB deletion protection. None: on for every stage but sandbox (StageConfig resolves
    # it); a ServiceConfig used on its own treats None as off.
    deletion_protection: bool | None = None

    def validate(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", self.service_name or ""):
            raise ConfigError(
                "service.service_name",
                self.service_name,
                "2-31 lowercase letters, digits or '-', starting with a letter",
            )
        if not re.fullmatch(r"[a-z][a-z0-9]*\.[a-z0-9]+", self.instance_type or ""):
            raise ConfigError(
                "service.instance_type", self.instance_type, "an EC2 type such as 't4g.small'"
            )
        # 1..100 keeps a sandbox a sandbox; the ASG API itself allows far more.
        _check_range("service.min_capacity", self.min_capacity, 1, 100, "kit limit")
        _check_range(
            "service.max_capacity",
            self.max_capacity,
            self.min_capacity,
            100,
            "at least service.min_capacity, kit limit 100",
        )
        _check_range(
            "service.nat_gateways", self.nat_gateways, 0, self.max_azs, "0..service.max_azs"
        )
        _check_range("service.max_azs", self.max_azs, 2, 6, "an ALB needs subnets in 2+ AZs")
        _check_range("service.app_port", self.app_port, 1, 65535, "a TCP port")
        if self.availability_zones and len(self.availability_zones) < 2:
            raise ConfigError(
                "service.availability_zones",
                self.availability_zones,
                "empty, or two or more zones (an ALB needs subnets in 2+ AZs)",
            )
        self.health_check.validate()
        _check_range(
            "service.deregistration_delay_seconds",
            self.deregistration_delay_seconds,
            0,
            3600,
            "ELB User Guide, target group attributes",
        )
        _check_range(
            "service.idle_timeout_seconds",
            self.idle_timeout_seconds,
            1,
            4000,
            "ELB API Reference, LoadBalancerAttribute idle_timeout.timeout_seconds",
        )
        if self.deployment_config_name not in timing.PREDEFINED_DEPLOYMENT_CONFIGS:
            raise ConfigError(
                "service.deployment_config_name",
                self.deployment_config_name,
                "one of "
                + ", ".join(sorted(timing.PREDEFINED_DEPLOYMENT_CONFIGS))
                + " (CodeDeploy User Guide, EC2/On-Premises deployment configurations)",
            )
        if self.certificate_arn and not self.certificate_arn.startswith("arn:aws"):
            raise ConfigError(
                "service.certificate_arn", self.certificate_arn, "an ACM certificate ARN or ''"
            )

    def restore_estimate(self) -> timing.RestoreEstimate:
        return timing.restore_estimate(
            instances=self.min_capacity,
            deployment_config_name=self.deployment_config_name,
            deregistration_delay_s=self.deregistration_delay_seconds,
            health_check_interval_s=self.health_check.interval_seconds,
            healthy_threshold=self.health_check.healthy_threshold,
        )


# --- Auto-rollback -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RollbackConfig:
    """Alarms that roll a release back, and the guard rails on the rollback function."""

    # The reference incident's post-mortem alarm: HTTPCode_ELB_5XX_Count, 1 minute, > 50.
    elb_5xx_threshold: int = 50
    # A fixed count does not scale with traffic: at 1,000,000 requests a minute, 0.01 %
    # background 502s (keep-alive races) are 100 a minute and would page, block every
    # deployment and roll back healthy releases. The count alarm ignores minutes whose
    # ELB 5xx stay below this share of requests (the P2 line of the severity tiers,
    # 0.1 %). 0 gives a plain count alarm.
    elb_5xx_count_min_rate_percent: float = 0.1
    # Severity tiers (docs/incident.md): 5xx > 1 % is P1. Evaluated as ELB 5xx / RequestCount.
    elb_5xx_rate_percent: float = 1.0
    # Below this many requests a minute the rate alarms stay quiet: 1 error in 3 requests
    # is 33 % but not an outage. 20 still catches a quiet service failing 30 % of 40
    # requests a minute.
    min_requests_per_minute: int = 20
    # Low-traffic tier: below min_requests_per_minute the rate alarm is guarded off and
    # the count alarm needs > 50 errors a minute, so a service at 10 requests a minute can
    # fail every request unseen. A second rate alarm sums ELB 5xx and requests over a
    # longer period (CloudWatch still evaluates it every minute, over the period ending
    # then) with its own guard and a higher threshold. 0 minutes turns it off.
    low_traffic_window_minutes: int = 5
    low_traffic_min_requests: int = 20
    low_traffic_rate_percent: float = 25.0
    # Errors the application itself returns. Notify-only by default: a buggy endpoint is
    # not always a bad release, and CodeDeploy cannot fix a dependency outage.
    target_5xx_rate_percent: float = 5.0
    target_5xx_triggers_rollback: bool = False
    # Alarm period and M-of-N. One 60 s datapoint is the fastest CloudWatch offers for
    # ALB metrics (they are published per minute).
    period_seconds: int = 60
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    # An alarm within this many minutes after a deployment completed is blamed on it.
    bake_minutes: int = 30
    max_rollbacks_per_hour: int = 1
    dry_run: bool = False
    # CodeDeploy refuses to deploy while an attached alarm is in ALARM. Set this to ship a
    # fix while the alarm still fires; unset it again afterwards.
    ignore_alarm_configuration: bool = False
    notification_email: str = ""
    # Reserved concurrency of the rollback function; 0 = none. A new account's concurrency
    # quota can be 10 and Lambda keeps 10 unreserved, so any reservation fails its deploy.
    # Exactly one rollback holds without it (the idempotency record and CodeDeploy's
    # one-active-deployment rule).
    reserved_concurrency: int = 0

    def validate(self) -> None:
        _check_range(
            "rollback.elb_5xx_threshold",
            self.elb_5xx_threshold,
            1,
            1_000_000,
            "1..1000000 errors per period",
        )
        _check_range(
            "rollback.elb_5xx_count_min_rate_percent",
            self.elb_5xx_count_min_rate_percent,
            0,
            100,
            "0..100 percent (0 = a plain count alarm)",
        )
        _check_range(
            "rollback.elb_5xx_rate_percent",
            self.elb_5xx_rate_percent,
            0.01,
            100,
            "0.01..100 percent",
        )
        _check_range(
            "rollback.min_requests_per_minute",
            self.min_requests_per_minute,
            1,
            10_000_000,
            "1..10000000",
        )
        if self.low_traffic_window_minutes:
            _check_range(
                "rollback.low_traffic_window_minutes",
                self.low_traffic_window_minutes,
                2,
                15,
                "minutes, or 0 to turn the tier off; 1 minute is the rate alarm itself",
            )
        _check_range(
            "rollback.low_traffic_min_requests",
            self.low_traffic_min_requests,
            1,
            1_000_000,
            "requests per low-traffic window",
        )
        _check_range(
            "rollback.low_traffic_rate_percent",
            self.low_traffic_rate_percent,
            1,
            100,
            "percent of the window's requests",
        )
        _check_range(
            "rollback.target_5xx_rate_percent",
            self.target_5xx_rate_percent,
            0.01,
            100,
            "0.01..100 percent",
        )
        # CloudWatch alarm periods: 10, 20, 30 or a multiple of 60 (CloudWatch API
        # Reference, PutMetricAlarm); ALB metrics are per minute, so multiples of 60.
        if self.period_seconds % 60 or not 60 <= self.period_seconds <= 3600:
            raise ConfigError(
                "rollback.period_seconds",
                self.period_seconds,
                "a multiple of 60 from 60 to 3600 (ALB metrics are per minute)",
            )
        _check_range(
            "rollback.evaluation_periods",
            self.evaluation_periods,
            1,
            5,
            "1..5 (a slower alarm defeats the purpose)",
        )
        _check_range(
            "rollback.datapoints_to_alarm",
            self.datapoints_to_alarm,
            1,
            self.evaluation_periods,
            "1..rollback.evaluation_periods",
        )
        _check_range("rollback.bake_minutes", self.bake_minutes, 1, 1440, "1..1440 minutes")
        _check_range("rollback.max_rollbacks_per_hour", self.max_rollbacks_per_hour, 1, 10, "1..10")
        _check_range(
            "rollback.reserved_concurrency",
            self.reserved_concurrency,
            0,
            1000,
            "0 = no reservation; a reservation must leave the account's unreserved minimum "
            "free (Lambda Developer Guide, configuring reserved concurrency)",
        )
        if self.notification_email and not re.fullmatch(
            r"[^@\s]+@[^@\s]+\.[^@\s]+", self.notification_email
        ):
            raise ConfigError(
                "rollback.notification_email", self.notification_email, "an e-mail address or ''"
            )

    @property
    def detection_seconds(self) -> int:
        """Worst case from onset until the rollback alarm enters ALARM."""
        return self.period_seconds * self.evaluation_periods


# --- Edge ----------------------------------------------------------------------------------

# CloudFront's origin keep-alive (1-60 s; CloudFront Developer Guide, origin settings). It
# must stay below the ALB idle timeout, or CloudFront reuses connections the ALB has
# already closed and answers 502.
ORIGIN_KEEPALIVE_SECONDS = 5

# Codes CloudFront lets you customize. Source: CloudFront Developer Guide, "Creating a
# custom error page for specific HTTP status codes".
CLOUDFRONT_CUSTOMIZABLE_CODES = (400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504)
# Customizable, but never cached (same guide, "Control how long CloudFront caches
# errors"): an ErrorCachingMinTTL for it has no effect, so the kit refuses one.
CLOUDFRONT_NEVER_CACHED_CODES = (416,)

# Regions CloudFront does not deliver standard logs (legacy) to: a log bucket there gets
# nothing (CloudFront Developer Guide, "Configure standard logging (legacy)", choosing an
# S3 bucket). Opt-in Regions added after this list was taken may belong here too.
CLOUDFRONT_NO_STANDARD_LOG_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
)


def _default_error_ttls() -> dict[int, int]:
    # 5xx: a few seconds, so a recovered origin shows within seconds even without an
    # invalidation (CloudFront's default is 10 s; CloudFront Developer Guide, "Control how long
    # CloudFront caches errors").
    # 404/405/414: stable answers, cache a minute to shield the origin.
    # 416 is absent: CloudFront never caches it, so a TTL for it would change nothing.
    ttls = {400: 10, 403: 10, 404: 60, 405: 60, 414: 60}
    ttls.update({code: 5 for code in (500, 501, 502, 503, 504)})
    return ttls


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    """CloudFront in front of the ALB, with error caching that cannot outlive a rollback."""

    enabled: bool = True
    error_caching_min_ttl: Mapping[int, int] = field(default_factory=_default_error_ttls)
    # Allow a 5xx TTL longer than detection + restore. Only for origins that are
    # expensive to hit while broken; cached errors will then outlive the rollback.
    allow_error_ttl_beyond_rollback: bool = False
    # CloudFront origin read timeout, 1-60 s (CloudFront Developer Guide, origin settings).
    origin_read_timeout_seconds: int = 30
    certificate_arn: str = ""
    domain_names: tuple[str, ...] = ()
    # With an ALB certificate CloudFront connects over HTTPS and checks the ALB's
    # certificate against this name (never *.elb.amazonaws.com): a DNS name on that
    # certificate that resolves to the ALB.
    origin_domain_name: str = ""
    geo_allow_countries: tuple[str, ...] = ()
    web_acl_arn: str = ""
    price_class: str = "PriceClass_100"
    # CloudFront standard logs (legacy) to a bucket in the stack's Region; off where
    # CloudFront cannot deliver them (CLOUDFRONT_NO_STANDARD_LOG_REGIONS).
    standard_logging: bool = True

    def validate(
        self,
        *,
        idle_timeout_seconds: int,
        rollback_window_seconds: int,
        alb_has_certificate: bool = False,
    ) -> None:
        if self.enabled and alb_has_certificate and not self.origin_domain_name:
            raise ConfigError(
                "edge.origin_domain_name",
                self.origin_domain_name,
                "a DNS name on service.certificate_arn that points at the ALB, required "
                "when the ALB has a certificate (CloudFront verifies the origin's certificate)",
            )
        if idle_timeout_seconds <= ORIGIN_KEEPALIVE_SECONDS and self.enabled:
            raise ConfigError(
                "service.idle_timeout_seconds",
                idle_timeout_seconds,
                f"> {ORIGIN_KEEPALIVE_SECONDS} s (CloudFront's origin keep-alive) with the edge on",
            )
        for code, ttl in self.error_caching_min_ttl.items():
            name = f"edge.error_caching_min_ttl.{code}"
            if code not in CLOUDFRONT_CUSTOMIZABLE_CODES:
                raise ConfigError(
                    name,
                    code,
                    "one of "
                    + ", ".join(map(str, CLOUDFRONT_CUSTOMIZABLE_CODES))
                    + " (CloudFront Developer Guide)",
                )
            if code in CLOUDFRONT_NEVER_CACHED_CODES:
                raise ConfigError(
                    name,
                    ttl,
                    "no entry: CloudFront never caches a 416, so a TTL for it has no effect "
                    "(CloudFront Developer Guide, controlling how long errors are cached)",
                )
            if not isinstance(ttl, int) or ttl < 0:
                raise ConfigError(name, ttl, "an integer number of seconds >= 0")
            if (
                500 <= code <= 599
                and ttl > rollback_window_seconds
                and not self.allow_error_ttl_beyond_rollback
            ):
                raise ConfigError(
                    name,
                    ttl,
                    f"<= {rollback_window_seconds} s, the kit's detection-plus-restore time; "
                    "a longer TTL keeps serving the bad release's errors after the rollback "
                    "(set edge.allow_error_ttl_beyond_rollback=true to accept that)",
                )
        _check_range(
            "edge.origin_read_timeout_seconds",
            self.origin_read_timeout_seconds,
            1,
            60,
            "CloudFront Developer Guide, origin response timeout",
        )
        if self.origin_read_timeout_seconds > idle_timeout_seconds:
            # The ALB would cut the connection first and CloudFront would see it as a
            # failed origin, not a timeout.
            raise ConfigError(
                "edge.origin_read_timeout_seconds",
                self.origin_read_timeout_seconds,
                f"<= service.idle_timeout_seconds={idle_timeout_seconds}",
            )
        if self.domain_names and not self.certificate_arn:
            raise ConfigError(
                "edge.domain_names",
                self.domain_names,
                "empty unless edge.certificate_arn (us-east-1 ACM) is set",
            )
        if self.certificate_arn and not self.certificate_arn.startswith("arn:aws:acm:us-east-1:"):
            raise ConfigError(
                "edge.certificate_arn",
                self.certificate_arn,
                "an ACM certificate ARN in us-east-1 (CloudFront requirement)",
            )
        if self.web_acl_arn and not re.fullmatch(
            r"arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/.+", self.web_acl_arn
        ):
            raise ConfigError(
                "edge.web_acl_arn",
                self.web_acl_arn,
                "a CLOUDFRONT-scope WAFv2 web ACL ARN (arn:aws:wafv2:us-east-1:<account>:"
                "global/webacl/...) or ''",
            )
        for country in self.geo_allow_countries:
            if not re.fullmatch(r"[A-Z]{2}", country):
                raise ConfigError(
                    "edge.geo_allow_countries", country, "ISO 3166-1 alpha-2 codes such as 'DE'"
                )
        if self.price_class not in ("PriceClass_100", "PriceClass_200", "PriceClass_All"):
            raise ConfigError(
                "edge.price_class",
                self.price_class,
                "PriceClass_100, PriceClass_200 or PriceClass_All",
            )


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
    "CodeDeployDefault.LambdaAllAtOnce",
)


@dataclass(frozen=True, kw_only=True)
class ApiConfig:
    """The order-api on API Gateway (REST) + Lambda, whose handlers never answer 502."""

    enabled: bool = True
    stage_name: str = "v1"
    # Must end before API Gateway's 29 s, so the client gets the handler's own answer,
    # not a gateway 504.
    handler_timeout_seconds: int = 10
    handler_memory_mb: int = 256
    throttle_rate_per_second: int = 50
    throttle_burst: int = 100
    retry_after_seconds: int = 1
    # Alarm when the handlers' own 5xx answers (invisible to Lambda Errors) exceed this
    # per minute.
    http_5xx_alarm_threshold: int = 5
    log_retention_days: int = 30
    # Most export-worker invocations the SQS event source runs at once (Lambda: 2-1000).
    worker_max_concurrency: int = 5
    # Set the Region's API Gateway CloudWatch Logs role (AWS::ApiGateway::Account). The
    # stage's access and execution logs need one; turn this off where the account
    # already has one, since the kit's replaces it for every REST API in the Region.
    manage_account_cloudwatch_role: bool = True
    # How CodeDeploy shifts the handler's and the worker's ``live`` alias to a new version.
    deployment_config_name: str = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    # Caught 5xx per minute from the new version that stop its deployment. Low, because
    # during a 10 % canary the new version sees a tenth of the traffic.
    canary_http_5xx_threshold: int = 1

    def validate(self) -> None:
        if self.deployment_config_name not in LAMBDA_DEPLOYMENT_CONFIGS:
            raise ConfigError(
                "api.deployment_config_name",
                self.deployment_config_name,
                "one of " + ", ".join(LAMBDA_DEPLOYMENT_CONFIGS) + " (CodeDeploy User Guide, "
                "Deployment configurations on an AWS Lambda compute platform)",
            )
        _check_range(
            "api.canary_http_5xx_threshold", self.canary_http_5xx_threshold, 1, 100000, "1..100000"
        )
        if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", self.stage_name or ""):
            raise ConfigError("api.stage_name", self.stage_name, "1-64 of A-Z a-z 0-9 _")
        _check_range(
            "api.handler_timeout_seconds",
            self.handler_timeout_seconds,
            1,
            APIGW_INTEGRATION_TIMEOUT_S - 1,
            f"1..{APIGW_INTEGRATION_TIMEOUT_S - 1}, below API Gateway's "
            f"{APIGW_INTEGRATION_TIMEOUT_S} s integration timeout",
        )
        _check_range(
            "api.handler_memory_mb",
            self.handler_memory_mb,
            128,
            10240,
            "Lambda memory 128..10240 MB",
        )
        _check_range(
            "api.throttle_rate_per_second",
            self.throttle_rate_per_second,
            1,
            10000,
            "1..10000 (account default limit)",
        )
        _check_range(
            "api.throttle_burst", self.throttle_burst, 1, 5000, "1..5000 (account default burst)"
        )
        _check_range("api.retry_after_seconds", self.retry_after_seconds, 1, 3600, "1..3600")
        _check_range(
            "api.worker_max_concurrency",
            self.worker_max_concurrency,
            2,
            1000,
            "Lambda Developer Guide, maximum concurrency for Amazon SQS event sources",
        )
        _check_range(
            "api.http_5xx_alarm_threshold", self.http_5xx_alarm_threshold, 1, 100000, "1..100000"
        )
        allowed_retention = (
            1,
            3,
            5,
            7,
            14,
            30,
            60,
            90,
            120,
            150,
            180,
            365,
            400,
            545,
            731,
            1096,
            1827,
            2192,
            2557,
            2922,
            3288,
            3653,
        )
        if self.log_retention_days not in allowed_retention:
            raise ConfigError(
                "api.log_retention_days",
                self.log_retention_days,
                "one of CloudWatch Logs' retention values, e.g. 7, 30, 90",
            )


# --- Severity-tiered alarms ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SeverityAlarmsConfig:
    """The severity tiers of docs/incident.md as alarms; P1 pages, P2 and P3 go to a low-priority topic."""

    five_xx_rate_p2_percent: float = 0.1
    five_xx_rate_p1_percent: float = 1.0
    # 2xx share of requests below this (with enough traffic) is P1: traffic shifting to
    # errors shows up here even when a proxy in front rewrites codes.
    two_xx_floor_percent: float = 90.0
    four_xx_spike_percent: float = 10.0
    elb_503_threshold: int = 10
    elb_504_threshold: int = 10
    target_p99_seconds: float = 2.0

    def validate(self) -> None:
        _check_range(
            "alarms.five_xx_rate_p2_percent", self.five_xx_rate_p2_percent, 0.01, 100, "0.01..100"
        )
        _check_range(
            "alarms.five_xx_rate_p1_percent",
            self.five_xx_rate_p1_percent,
            self.five_xx_rate_p2_percent,
            100,
            "alarms.five_xx_rate_p2_percent..100 (P1 is the stricter tier)",
        )
        _check_range("alarms.two_xx_floor_percent", self.two_xx_floor_percent, 1, 100, "1..100")
        _check_range(
            "alarms.four_xx_spike_percent", self.four_xx_spike_percent, 0.1, 100, "0.1..100"
        )
        _check_range("alarms.elb_503_threshold", self.elb_503_threshold, 1, 1_000_000, "1..1e6")
        _check_range("alarms.elb_504_threshold", self.elb_504_threshold, 1, 1_000_000, "1..1e6")
        _check_range(
            "alarms.target_p99_seconds",
            self.target_p99_seconds,
            0.01,
            4000,
            "0.01..4000 s (the ALB idle timeout maximum)",
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
class ChatConfig:
    """An optional Slack channel (AWS Chatbot) that receives what the paging topic gets."""

    slack_workspace_id: str = ""
    slack_channel_id: str = ""

    def __post_init__(self) -> None:
        self.validate()

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
        self.service.validate()
        self.rollback.validate()
        self.edge.validate(
            idle_timeout_seconds=self.service.idle_timeout_seconds,
            rollback_window_seconds=self.rollback_window_seconds,
            alb_has_certificate=bool(self.service.certificate_arn),
        )
        self.api.validate()
        self.alarms.validate()
        self.chat.validate()
        self._validate_edge_for_stage()

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
        if self.edge.standard_logging and self.region in CLOUDFRONT_NO_STANDARD_LOG_REGIONS:
            raise ConfigError(
                "edge.standard_logging",
                self.edge.standard_logging,
                f"false in region {self.region}: CloudFront delivers no standard logs to "
                "buckets in " + ", ".join(CLOUDFRONT_NO_STANDARD_LOG_REGIONS) + " (CloudFront "
                "Developer Guide, standard logging (legacy))",
            )

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


def _coerce(name: str, raw: object, annotation: Any) -> Any:
    """Turn a context value (JSON from cdk.json, or a string from ``-c``) into ``annotation``."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        # ``bool | None``: None is the unset default, a context value is always the type.
        (inner,) = (arg for arg in typing.get_args(annotation) if arg is not type(None))
        return _coerce(name, raw, inner)
    try:
        if annotation is bool:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ValueError
        if annotation is int:
            if isinstance(raw, bool):
                raise ValueError
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            return int(raw)  # type: ignore[call-overload]
        if annotation is float:
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)  # type: ignore[arg-type]
        if annotation is str:
            if not isinstance(raw, str):
                raise ValueError
            return raw
        if origin is tuple:
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, list | tuple):
                raise ValueError
            return tuple(str(item).strip() for item in items if str(item).strip())
        if origin in (Mapping, dict) or origin is getattr(types, "MappingProxyType", None):
            mapping = raw
            if isinstance(raw, str):
                # "502=5,404=60" on the command line
                mapping = dict(part.split("=", 1) for part in raw.split(",") if part)
            if not isinstance(mapping, Mapping):
                raise ValueError
            return {int(k): _coerce(f"{name}.{k}", v, int) for k, v in mapping.items()}
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
