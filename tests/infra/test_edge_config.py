"""EdgeConfig checks and the edge construct's own argument checks, before anything synthesizes.

Config checks for ``EdgeConfig`` run through ``load_config``/``StageConfig`` as ``app.py``
does: each bad value raises ``ConfigError`` naming the field, the value and the allowed
range. The last case builds the service stack as ``app.py`` does to show where the ALB
certificate sends CloudFront (HTTPS to the origin's own name).
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from alarm_rollback_kit.config import (
    CLOUDFRONT_NO_STANDARD_LOG_REGIONS,
    DEFAULT_ENABLED_REGIONS,
    EdgeConfig,
    check_standard_logging,
)
from stacks.config import ConfigError, StageConfig, load_config
from tests.support.bare import bare_edge, bare_stack
from tests.support.config_errors import assert_names, config_error
from tests.support.templates import service_stack


def test_origin_port_other_than_80_or_443_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"origin_port=8080"):
        bare_edge(bare_stack(), origin_port=8080)


# --- EdgeConfig validation ----------------------------------------------------------------------


def test_code_cloudfront_cannot_customize_is_rejected_naming_the_field() -> None:
    error = config_error(lambda: load_config({"edge.error_caching_min_ttl.418": "5"}))
    assert_names(error, field="edge.error_caching_min_ttl.418", allowed="502")


def test_negative_error_ttl_is_rejected() -> None:
    error = config_error(lambda: load_config({"edge.error_caching_min_ttl.404": "-1"}))
    assert_names(error, field="edge.error_caching_min_ttl.404", value=-1, allowed=">= 0")


def test_5xx_ttl_longer_than_detection_plus_restore_is_rejected() -> None:
    window = StageConfig().rollback_window_seconds
    error = config_error(lambda: load_config({"edge.error_caching_min_ttl.502": str(window + 1)}))
    assert_names(
        error, field="edge.error_caching_min_ttl.502", value=window + 1, allowed=f"<= {window} s"
    )


def test_5xx_ttl_equal_to_the_rollback_window_is_accepted() -> None:
    window = StageConfig().rollback_window_seconds
    config = load_config({"edge.error_caching_min_ttl.502": str(window)})
    assert config.edge.error_caching_min_ttl[502] == window


def test_5xx_ttl_beyond_the_window_is_accepted_when_explicitly_allowed() -> None:
    window = StageConfig().rollback_window_seconds
    config = load_config(
        {
            "edge.error_caching_min_ttl.503": str(window + 600),
            "edge.allow_error_ttl_beyond_rollback": "true",
        }
    )
    assert config.edge.error_caching_min_ttl[503] == window + 600


def test_4xx_ttl_is_not_bound_by_the_rollback_window() -> None:
    window = StageConfig().rollback_window_seconds
    config = load_config({"edge.error_caching_min_ttl.404": str(window + 600)})
    assert config.edge.error_caching_min_ttl[404] == window + 600


def test_origin_read_timeout_above_the_alb_idle_timeout_is_rejected() -> None:
    error = config_error(
        lambda: load_config(
            {"service.idle_timeout_seconds": "20", "edge.origin_read_timeout_seconds": "30"}
        )
    )
    assert_names(
        error,
        field="edge.origin_read_timeout_seconds",
        value=30,
        allowed="service.idle_timeout_seconds=20",
    )


def test_certificate_outside_us_east_1_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"edge\.certificate_arn.*us-east-1"):
        StageConfig(
            edge=EdgeConfig(certificate_arn="arn:aws:acm:eu-west-1:123456789012:certificate/x")
        )


def test_aliases_without_a_certificate_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"edge\.domain_names"):
        StageConfig(edge=EdgeConfig(domain_names=("api.example.com",)))


# --- HTTPS to the origin outside the sandbox ------------------------------------------------------

ALB_CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/alb"


def test_a_non_sandbox_stage_without_an_alb_certificate_fails_at_synth() -> None:
    error = config_error(lambda: load_config({"stage": "prod"}))
    assert_names(error, field="service.certificate_arn", value="", allowed="stage='prod'")
    assert "HTTPS" in error.allowed


def test_the_sandbox_stage_may_reach_the_alb_over_http() -> None:
    assert load_config({}).service.certificate_arn == ""


def test_a_non_sandbox_stage_without_the_edge_needs_no_alb_certificate() -> None:
    config = load_config({"stage": "prod", "edge.enabled": "false"})
    assert config.service.certificate_arn == ""


def test_a_non_sandbox_stage_with_an_alb_certificate_reaches_the_origin_over_https() -> None:
    # The service stack as app.py builds it: the origin port follows the ALB certificate.
    stack = service_stack(
        {
            "stage": "prod",
            "service.certificate_arn": ALB_CERTIFICATE_ARN,
            "edge.origin_domain_name": "origin.example.com",
        }
    )
    assert stack.edge is not None
    assert stack.edge_stack is not None
    assert stack.edge.origin_port == 443
    Template.from_stack(stack.edge_stack).has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Origins": [
                        Match.object_like(
                            {
                                "DomainName": "origin.example.com",
                                "CustomOriginConfig": Match.object_like(
                                    {
                                        "OriginProtocolPolicy": "https-only",
                                        "OriginSSLProtocols": ["TLSv1.2"],
                                    }
                                ),
                            }
                        )
                    ]
                }
            )
        },
    )


# --- Standard logs and the stack's Region ---------------------------------------------------
# Opt-in Regions launched after the CloudFront guide's list was taken, which it does not name.
NEWER_OPT_IN_REGIONS = (
    "ap-east-2",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "mx-central-1",
)


def test_every_region_cloudfront_lists_without_standard_logs_is_an_opt_in_region() -> None:
    assert not set(CLOUDFRONT_NO_STANDARD_LOG_REGIONS) & set(DEFAULT_ENABLED_REGIONS)


@pytest.mark.parametrize(
    "region", ["af-south-1", "eu-south-1", "me-south-1", *NEWER_OPT_IN_REGIONS]
)
def test_standard_logging_in_an_opt_in_region_fails_at_synth_naming_the_field(region: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"edge\.standard_logging=True: allowed false in region {region}"
    ):
        load_config({"account": "123456789012", "region": region})


def test_standard_logging_off_is_accepted_in_an_opt_in_region() -> None:
    config = load_config(
        {"account": "123456789012", "region": "ap-southeast-5", "edge.standard_logging": "false"}
    )
    assert config.edge.standard_logging is False


@pytest.mark.parametrize("region", ["eu-west-1", "ap-northeast-3", "us-east-1"])
def test_standard_logging_is_accepted_in_a_region_enabled_by_default(region: str) -> None:
    assert load_config({"account": "123456789012", "region": region}).edge.standard_logging


def test_edge_alone_in_a_stack_of_an_opt_in_region_refuses_standard_logging() -> None:
    stack = cdk.Stack(
        cdk.App(), "Bare", env=cdk.Environment(account="123456789012", region="mx-central-1")
    )
    with pytest.raises(
        ConfigError,
        match=r"EdgeConfig\.standard_logging=True: allowed false in region mx-central-1",
    ):
        bare_edge(stack)


def test_standard_logging_is_not_refused_without_a_region_or_when_off() -> None:
    # An environment-agnostic stack (every Edge in tests/infra/test_edge.py) cannot be
    # checked; logging off is accepted anywhere.
    check_standard_logging(True, "", "EdgeConfig.standard_logging")
    check_standard_logging(False, "mx-central-1", "EdgeConfig.standard_logging")
