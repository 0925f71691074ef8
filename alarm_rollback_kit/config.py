"""The props the kit's constructs take: frozen, keyword-only, and checked when built.

Every value with an AWS limit is checked in the dataclass's ``__post_init__``, so
``RollbackConfig(bake_minutes=0)`` raises ``ConfigError`` in the user's own stack, naming
the field, the value, the allowed range and where that range is documented, instead of
failing inside the rollback function during an incident or as a CloudFormation rollback
twenty minutes into a deploy. The edge's props live in ``edge_config`` and the error type
in ``config_checks``; both are re-exported here, so this stays the one import. Checks that
need two sections (the edge's TTLs against the service's restore time, the origin timeout
against the ALB's idle timeout) belong to whoever composes the sections: the sample app's
``StageConfig``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from alarm_rollback_kit import timing
from alarm_rollback_kit.config_checks import CheckedConfig, ranged
from alarm_rollback_kit.config_checks import ConfigError as ConfigError
from alarm_rollback_kit.config_checks import check_range as _check_range
from alarm_rollback_kit.edge_config import (
    CLOUDFRONT_CUSTOMIZABLE_CODES as CLOUDFRONT_CUSTOMIZABLE_CODES,
)
from alarm_rollback_kit.edge_config import (
    CLOUDFRONT_NEVER_CACHED_CODES as CLOUDFRONT_NEVER_CACHED_CODES,
)
from alarm_rollback_kit.edge_config import (
    CLOUDFRONT_NO_STANDARD_LOG_REGIONS as CLOUDFRONT_NO_STANDARD_LOG_REGIONS,
)
from alarm_rollback_kit.edge_config import (
    DEFAULT_ENABLED_REGIONS as DEFAULT_ENABLED_REGIONS,
)
from alarm_rollback_kit.edge_config import ORIGIN_KEEPALIVE_SECONDS as ORIGIN_KEEPALIVE_SECONDS
from alarm_rollback_kit.edge_config import EdgeConfig as EdgeConfig
from alarm_rollback_kit.edge_config import check_standard_logging as check_standard_logging

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


_TARGET_GROUP_LIMITS = "ELB API Reference, CreateTargetGroup"


@dataclass(frozen=True, kw_only=True)
class HealthCheckConfig(CheckedConfig):
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
    interval_seconds: int = ranged(10, 5, 300, _TARGET_GROUP_LIMITS)
    timeout_seconds: int = ranged(5, 2, 120, _TARGET_GROUP_LIMITS)
    healthy_threshold: int = ranged(2, 2, 10, _TARGET_GROUP_LIMITS)
    unhealthy_threshold: int = ranged(2, 2, 10, _TARGET_GROUP_LIMITS)

    section = "health_check"

    def validate(self) -> None:
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
        super().validate()
        if self.timeout_seconds >= self.interval_seconds:
            raise ConfigError(
                "health_check.timeout_seconds",
                self.timeout_seconds,
                f"less than health_check.interval_seconds={self.interval_seconds} "
                f"({_TARGET_GROUP_LIMITS})",
            )

    @property
    def accepted_codes(self) -> frozenset[int]:
        return parse_success_codes(self.success_codes)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig(CheckedConfig):
    """The deployable service: VPC, ALB, target group, Auto Scaling group, CodeDeploy."""

    service_name: str = "order-api"
    # arm64 Graviton burstable: the cheapest size that runs the sample app and the agent.
    instance_type: str = "t4g.small"
    # 1..100 keeps a sandbox a sandbox; the ASG API itself allows far more.
    min_capacity: int = ranged(2, 1, 100, "kit limit")
    max_capacity: int = 2
    # 0 keeps the sandbox cheap: instances sit in public subnets (inbound only from the
    # ALB's security group) so the CodeDeploy agent can download without a NAT gateway.
    nat_gateways: int = 0
    max_azs: int = ranged(2, 2, 6, "an ALB needs subnets in 2+ AZs")
    # Only for a stage with an explicit account and region: naming the zones avoids the
    # availability-zone look-up CDK would otherwise make (and need credentials or a
    # committed cdk.context.json for). Environment-agnostic stacks never look up.
    availability_zones: tuple[str, ...] = ()
    app_port: int = ranged(8080, 1, 65535, "a TCP port")
    health_check: HealthCheckConfig = field(default_factory=HealthCheckConfig)
    # Every in-place batch waits this long in BlockTraffic before stopping the app
    # (AWS default 300 s). order-api requests finish in well under a second, so 30 s of
    # draining is generous and saves 270 s per batch on every deploy and rollback.
    deregistration_delay_seconds: int = ranged(
        30, 0, 3600, "ELB User Guide, target group attributes"
    )
    # Must stay below the app's keep-alive timeout (the sample app uses 75 s), or the ALB
    # reuses connections the app has closed and answers 502. AWS default 60 s.
    idle_timeout_seconds: int = ranged(
        60, 1, 4000, "ELB API Reference, LoadBalancerAttribute idle_timeout.timeout_seconds"
    )
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

    section = "service"

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
        super().validate()
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
        if self.availability_zones and len(self.availability_zones) < 2:
            raise ConfigError(
                "service.availability_zones",
                self.availability_zones,
                "empty, or two or more zones (an ALB needs subnets in 2+ AZs)",
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
class RollbackConfig(CheckedConfig):
    """Alarms that roll a release back, and the guard rails on the rollback function."""

    # The reference incident's post-mortem alarm: HTTPCode_ELB_5XX_Count, 1 minute, > 50.
    elb_5xx_threshold: int = ranged(50, 1, 1_000_000, "1..1000000 errors per period")
    # A fixed count does not scale with traffic: at 1,000,000 requests a minute, 0.01 %
    # background 502s (keep-alive races) are 100 a minute and would page, block every
    # deployment and roll back healthy releases. The count alarm ignores minutes whose
    # ELB 5xx stay below this share of requests (the P2 line of the severity tiers,
    # 0.1 %). 0 gives a plain count alarm.
    elb_5xx_count_min_rate_percent: float = ranged(
        0.1, 0, 100, "0..100 percent (0 = a plain count alarm)"
    )
    # Severity tiers (docs/incident.md): 5xx > 1 % is P1. Evaluated as ELB 5xx / RequestCount.
    elb_5xx_rate_percent: float = ranged(1.0, 0.01, 100, "0.01..100 percent")
    # Below this many requests a minute the rate alarms stay quiet: 1 error in 3 requests
    # is 33 % but not an outage. 20 still catches a quiet service failing 30 % of 40
    # requests a minute.
    min_requests_per_minute: int = ranged(20, 1, 10_000_000, "1..10000000")
    # Low-traffic tier: below min_requests_per_minute the rate alarm is guarded off and
    # the count alarm needs > 50 errors a minute, so a service at 10 requests a minute can
    # fail every request unseen. A second rate alarm sums ELB 5xx and requests over a
    # longer period (CloudWatch still evaluates it every minute, over the period ending
    # then) with its own guard and a higher threshold. 0 minutes turns it off.
    low_traffic_window_minutes: int = 5
    low_traffic_min_requests: int = ranged(20, 1, 1_000_000, "requests per low-traffic window")
    low_traffic_rate_percent: float = ranged(25.0, 1, 100, "percent of the window's requests")
    # Errors the application itself returns. Notify-only by default: a buggy endpoint is
    # not always a bad release, and CodeDeploy cannot fix a dependency outage.
    target_5xx_rate_percent: float = ranged(5.0, 0.01, 100, "0.01..100 percent")
    target_5xx_triggers_rollback: bool = False
    # Alarm period and M-of-N. One 60 s datapoint is the fastest CloudWatch offers for
    # ALB metrics (they are published per minute).
    period_seconds: int = 60
    evaluation_periods: int = ranged(1, 1, 5, "1..5 (a slower alarm defeats the purpose)")
    datapoints_to_alarm: int = 1
    # An alarm within this many minutes after a deployment completed is blamed on it.
    bake_minutes: int = ranged(30, 1, 1440, "1..1440 minutes")
    max_rollbacks_per_hour: int = ranged(1, 1, 10, "1..10")
    dry_run: bool = False
    # CodeDeploy refuses to deploy while an attached alarm is in ALARM. Set this to ship a
    # fix while the alarm still fires; unset it again afterwards.
    ignore_alarm_configuration: bool = False
    notification_email: str = ""
    # Reserved concurrency of the rollback function; 0 = none. A new account's concurrency
    # quota can be 10 and Lambda keeps 10 unreserved, so any reservation fails its deploy.
    # Exactly one rollback holds without it (the idempotency record and CodeDeploy's
    # one-active-deployment rule).
    reserved_concurrency: int = ranged(
        0,
        0,
        1000,
        "0 = no reservation; a reservation must leave the account's unreserved minimum "
        "free (Lambda Developer Guide, configuring reserved concurrency)",
    )

    section = "rollback"

    def validate(self) -> None:
        super().validate()
        if self.low_traffic_window_minutes:
            _check_range(
                "rollback.low_traffic_window_minutes",
                self.low_traffic_window_minutes,
                2,
                15,
                "minutes, or 0 to turn the tier off; 1 minute is the rate alarm itself",
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
            "rollback.datapoints_to_alarm",
            self.datapoints_to_alarm,
            1,
            self.evaluation_periods,
            "1..rollback.evaluation_periods",
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


# --- Severity-tiered alarms ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SeverityAlarmsConfig(CheckedConfig):
    """The severity tiers of docs/incident.md as alarms; P1 pages, P2 and P3 go to a low-priority topic."""

    five_xx_rate_p2_percent: float = ranged(0.1, 0.01, 100, "0.01..100")
    five_xx_rate_p1_percent: float = 1.0
    # 2xx share of requests below this (with enough traffic) is P1: traffic shifting to
    # errors shows up here even when a proxy in front rewrites codes.
    two_xx_floor_percent: float = ranged(90.0, 1, 100, "1..100")
    four_xx_spike_percent: float = ranged(10.0, 0.1, 100, "0.1..100")
    elb_503_threshold: int = ranged(10, 1, 1_000_000, "1..1e6")
    elb_504_threshold: int = ranged(10, 1, 1_000_000, "1..1e6")
    target_p99_seconds: float = ranged(
        2.0, 0.01, 4000, "0.01..4000 s (the ALB idle timeout maximum)"
    )

    section = "alarms"

    def validate(self) -> None:
        super().validate()
        _check_range(
            "alarms.five_xx_rate_p1_percent",
            self.five_xx_rate_p1_percent,
            self.five_xx_rate_p2_percent,
            100,
            "alarms.five_xx_rate_p2_percent..100 (P1 is the stricter tier)",
        )
