"""Detection and time-to-restore models for an in-place CodeDeploy deployment behind an ALB.

Config validation uses the restore model (a CloudFront error TTL must not outlive
detection plus restore) and the offline drill prints it for the synthesized config beside
AWS defaults. It is plain arithmetic on numbers so both callers can feed it from wherever
they read them.

Detection: ALB publishes a minute's metrics when the minute ends; AWS publishes no figure
for how long they take to reach CloudWatch alarms, and field reports show a 1-minute ELB
5xx alarm in ALARM about 4 minutes after the errored minute began. The kit therefore
models the delay as a range, ``METRIC_DELAY_RANGE_S`` (60-240 s), never as one number;
CloudWatch evaluates every minute (CloudWatch User Guide, "Evaluating an alarm"), so a
1-of-1 rollback alarm enters ALARM 2 to 5 minutes after the first errored minute begins
(``detection_seconds``; the drill shows it per delay; docs/aws-behaviours.md).

With traffic control, CodeDeploy takes each batch of instances out of the target group
(BlockTraffic waits for the deregistration delay), runs the lifecycle hooks, and puts
the batch back (AllowTraffic waits until the target is healthy: interval x healthy
threshold). Batches run one after another.
Sources: CodeDeploy User Guide, "Integrating CodeDeploy with Elastic Load Balancing" and
"Deployment configurations on an EC2/On-Premises compute platform"; ELB User Guide,
"Health checks for your target groups" and "Deregistration delay".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Predefined EC2/on-premises deployment configurations and the share of the fleet each
# takes out of service per batch. Source: CodeDeploy User Guide, deployment configurations.
PREDEFINED_DEPLOYMENT_CONFIGS: dict[str, str] = {
    "CodeDeployDefault.OneAtATime": "one",
    "CodeDeployDefault.HalfAtATime": "half",
    "CodeDeployDefault.AllAtOnce": "all",
}

# AWS defaults, for the comparison the drill prints and for what a template leaves out.
# CodeDeploy's default deployment configuration:
AWS_DEFAULT_DEPLOYMENT_CONFIG = "CodeDeployDefault.OneAtATime"
# restore_estimate's target-group inputs, keyword -> AWS default (ELB API Reference,
# CreateTargetGroup and target group attributes).
AWS_DEFAULT_TARGET_GROUP: Mapping[str, int] = MappingProxyType(
    {
        "deregistration_delay_s": 300,  # attribute deregistration_delay.timeout_seconds
        "health_check_interval_s": 30,  # HealthCheckIntervalSeconds
        "healthy_threshold": 5,  # HealthyThresholdCount
    }
)

# Seconds from the end of a minute until its ALB datapoints can be seen by an alarm
# evaluation: best and worst case the kit assumes (stated, not published by AWS).
METRIC_DELAY_RANGE_S = (60, 240)
# CloudWatch evaluates alarms with a period of a minute or more once a minute.
EVALUATION_INTERVAL_S = 60

# Stated, not measured: ApplicationStop + BeforeInstall + ApplicationStart + ValidateService
# for the sample app on a small instance (download, unzip, restart a systemd unit).
DEFAULT_LIFECYCLE_SECONDS = 30


def detection_seconds(*, period_s: int, datapoints_to_alarm: int, delay_s: int) -> int:
    """Onset until a rollback alarm enters ALARM when every minute from onset breaches.

    The M-th errored period must end and land (``delay_s`` later); the next once-a-minute
    evaluation then judges it.
    """
    if delay_s < 0:
        raise ValueError(f"delay_s must be >= 0, got {delay_s}")
    landed = period_s * datapoints_to_alarm + delay_s
    return math.ceil(landed / EVALUATION_INTERVAL_S) * EVALUATION_INTERVAL_S


def batch_count(instances: int, deployment_config_name: str) -> int:
    """How many sequential batches an in-place deployment of ``instances`` needs."""
    if instances < 1:
        raise ValueError(f"instances must be >= 1, got {instances}")
    share = PREDEFINED_DEPLOYMENT_CONFIGS.get(deployment_config_name)
    if share == "all":
        return 1
    if share == "half":
        # HalfAtATime keeps at least half the fleet healthy: at most floor(n/2) per batch.
        return math.ceil(instances / max(1, instances // 2))
    # OneAtATime, and custom configs we cannot see into, are modelled pessimistically.
    return instances


@dataclass(frozen=True, kw_only=True)
class RestoreEstimate:
    """A modelled restore time and the terms it was built from, for printing."""

    batches: int
    deregistration_delay_s: int
    lifecycle_s: int
    health_check_s: int

    @property
    def per_batch_s(self) -> int:
        return self.deregistration_delay_s + self.lifecycle_s + self.health_check_s

    @property
    def total_s(self) -> int:
        return self.batches * self.per_batch_s

    @property
    def formula(self) -> str:
        return (
            f"{self.batches} batches x ({self.deregistration_delay_s} s draining"
            f" + {self.lifecycle_s} s lifecycle + {self.health_check_s} s health checks)"
            f" = {self.total_s} s"
        )


def restore_estimate(
    *,
    instances: int,
    deployment_config_name: str,
    deregistration_delay_s: int,
    health_check_interval_s: int,
    healthy_threshold: int,
    lifecycle_s: int = DEFAULT_LIFECYCLE_SECONDS,
) -> RestoreEstimate:
    """Model the time from rollback start until every instance serves the old revision."""
    return RestoreEstimate(
        batches=batch_count(instances, deployment_config_name),
        deregistration_delay_s=deregistration_delay_s,
        lifecycle_s=lifecycle_s,
        health_check_s=health_check_interval_s * healthy_threshold,
    )


def aws_default_restore_estimate(
    instances: int, lifecycle_s: int = DEFAULT_LIFECYCLE_SECONDS
) -> RestoreEstimate:
    """The same model at AWS defaults: ``AWS_DEFAULT_DEPLOYMENT_CONFIG`` and the target-group
    values of ``AWS_DEFAULT_TARGET_GROUP``."""
    return restore_estimate(
        instances=instances,
        deployment_config_name=AWS_DEFAULT_DEPLOYMENT_CONFIG,
        lifecycle_s=lifecycle_s,
        **AWS_DEFAULT_TARGET_GROUP,
    )
