"""CloudFront in front of the ALB: the edge's props and the CloudFront facts they are checked against.

Error caching that cannot outlive a rollback: the 5xx TTLs default to seconds, the codes
are only those CloudFront lets you customize, and the origin timeouts stay inside
CloudFront's ranges. Each value is checked in ``EdgeConfig.__post_init__`` (see
``config_checks``); the check of the TTLs against the service's restore time spans two
sections and belongs to the sample's stage config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from alarm_rollback_kit.config_checks import CheckedConfig, ConfigError, ranged

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

# Regions CloudFront names as taking no standard logs (legacy): a log bucket there gets
# nothing (CloudFront Developer Guide, "Configure standard logging (legacy)", choosing an
# S3 bucket), as the guide listed them when this was written. Every one is an opt-in Region.
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
# The Regions an account has without opting in, those launched before 20 March 2019 (AWS
# Account Management Reference Guide, "Enable or disable AWS Regions in your account"). AWS
# does not say whether CloudFront delivers standard logs to opt-in Regions launched after
# the list above was taken, so the kit allows standard logs only in these: a bucket that
# silently stays empty is the worse outcome than a clear refusal at synth.
DEFAULT_ENABLED_REGIONS = (
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)


def check_standard_logging(enabled: bool, region: str, field_name: str) -> None:
    """Refuse standard logs (legacy) to a bucket in ``region`` unless CloudFront is known to
    deliver them there (``DEFAULT_ENABLED_REGIONS``); an empty ``region`` cannot be checked."""
    if enabled and region and region not in DEFAULT_ENABLED_REGIONS:
        raise ConfigError(
            field_name,
            enabled,
            f"false in region {region}: CloudFront delivers no standard logs to buckets in the "
            "opt-in Regions it lists (" + ", ".join(CLOUDFRONT_NO_STANDARD_LOG_REGIONS) + "; "
            "CloudFront Developer Guide, standard logging (legacy)), and the kit treats every "
            "opt-in Region alike; true only in the Regions enabled by default: "
            + ", ".join(DEFAULT_ENABLED_REGIONS),
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
class EdgeConfig(CheckedConfig):
    """CloudFront in front of the ALB, with error caching that cannot outlive a rollback."""

    enabled: bool = True
    error_caching_min_ttl: Mapping[int, int] = field(default_factory=_default_error_ttls)
    # Allow a 5xx TTL longer than detection + restore. Only for origins that are
    # expensive to hit while broken; cached errors will then outlive the rollback.
    allow_error_ttl_beyond_rollback: bool = False
    # CloudFront origin read timeout, 1-60 s (CloudFront Developer Guide, origin settings).
    origin_read_timeout_seconds: int = ranged(
        30, 1, 60, "CloudFront Developer Guide, origin response timeout"
    )
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

    section = "edge"

    def validate(self) -> None:
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
        super().validate()
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
