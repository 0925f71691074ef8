"""Config validation: every AWS limit fails at synth with the field, value and range."""

from __future__ import annotations

from typing import Any

import pytest

from alarm_rollback_kit.config import HealthCheckConfig, ServiceConfig, parse_success_codes
from stacks.config import ConfigError, StageConfig, load_config
from tests.support.config_errors import config_error


@pytest.mark.parametrize(
    ("key", "value", "allowed_fragment"),
    [
        ("service.health_check.success_codes", "100", "200-499"),
        ("service.health_check.success_codes", "200-500", "200-499"),
        ("service.health_check.success_codes", "299-200", "200-499"),
        ("service.health_check.success_codes", "2xx", "200-499"),
        ("service.health_check.success_codes", "", "200-499"),
        ("service.health_check.path", "health", "starting with '/'"),
        ("service.health_check.interval_seconds", "4", "5..300"),
        ("service.health_check.interval_seconds", "301", "5..300"),
        ("service.health_check.timeout_seconds", "1", "2..120"),
        ("service.health_check.timeout_seconds", "10", "less than health_check.interval"),
        ("service.health_check.healthy_threshold", "1", "2..10"),
        ("service.health_check.unhealthy_threshold", "11", "2..10"),
        ("service.deregistration_delay_seconds", "3601", "0..3600"),
        ("service.deregistration_delay_seconds", "-1", "0..3600"),
        ("service.idle_timeout_seconds", "0", "1..4000"),
        ("service.idle_timeout_seconds", "4001", "1..4000"),
        ("service.min_capacity", "0", "1..100"),
        ("service.max_capacity", "1", "at least service.min_capacity"),
        ("service.deployment_config_name", "CodeDeployDefault.Fastest", "OneAtATime"),
        ("service.nat_gateways", "3", "0..service.max_azs"),
        ("rollback.elb_5xx_threshold", "0", "1..1000000"),
        ("rollback.period_seconds", "30", "multiple of 60"),
        ("rollback.datapoints_to_alarm", "2", "1..rollback.evaluation_periods"),
        ("rollback.bake_minutes", "0", "1..1440"),
        ("rollback.low_traffic_window_minutes", "1", "2..15"),
        ("rollback.low_traffic_window_minutes", "16", "2..15"),
        ("rollback.low_traffic_min_requests", "0", "1..1000000"),
        ("rollback.low_traffic_rate_percent", "0.5", "1..100"),
        ("api.handler_timeout_seconds", "29", "below API Gateway's 29 s"),
        ("edge.origin_read_timeout_seconds", "61", "1..60"),
    ],
)
def test_out_of_range_value_fails_naming_field_value_and_range(
    key: str, value: str, allowed_fragment: str
) -> None:
    error = config_error(lambda: load_config({key: value}))
    message = str(error)
    field = key.split(".", 1)[1] if key.startswith("service.") else key
    assert field in message or key in message
    assert repr(value) in message or value in message
    assert allowed_fragment in message


def test_alb_certificate_behind_the_edge_needs_an_origin_domain_name() -> None:
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    with pytest.raises(ConfigError, match=r"edge\.origin_domain_name"):
        load_config({"service.certificate_arn": arn})
    assert load_config({"service.certificate_arn": arn, "edge.enabled": "false"})


def test_limits_cite_their_aws_source() -> None:
    with pytest.raises(ConfigError, match=r"ELB API Reference, CreateTargetGroup"):
        load_config({"service.health_check.interval_seconds": "400"})


def test_unknown_key_is_rejected_rather_than_silently_ignored() -> None:
    with pytest.raises(ConfigError, match=r"service\.health_chek"):
        load_config({"service.health_chek.path": "/x"})


def test_wrong_type_names_the_expected_type() -> None:
    with pytest.raises(ConfigError, match=r"rollback\.dry_run.*'maybe'.*bool"):
        load_config({"rollback.dry_run": "maybe"})


def test_command_line_strings_are_coerced_to_field_types() -> None:
    config = load_config(
        {
            "service.min_capacity": "3",
            "service.max_capacity": "4",
            "rollback.dry_run": "true",
            "rollback.elb_5xx_rate_percent": "2.5",
            "edge.error_caching_min_ttl.404": "30",
        }
    )
    assert config.service.min_capacity == 3
    assert config.rollback.dry_run is True
    assert config.rollback.elb_5xx_rate_percent == 2.5
    assert config.edge.error_caching_min_ttl[404] == 30
    # The other codes keep their defaults when one is overridden.
    assert config.edge.error_caching_min_ttl[502] == 5


def test_stage_overrides_from_cdk_json_apply_beneath_command_line() -> None:
    context: dict[str, Any] = {
        "stage": "prod",
        "kit": {
            "stages": {
                "prod": {
                    # Outside the sandbox the edge needs HTTPS to the ALB.
                    "service": {
                        "min_capacity": 4,
                        "max_capacity": 8,
                        "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/alb",
                    },
                    "edge": {"origin_domain_name": "origin.example.com"},
                    "rollback": {"bake_minutes": 60},
                }
            }
        },
        "rollback.bake_minutes": "45",
    }
    config = load_config(context)
    assert config.stage == "prod"
    assert config.service.min_capacity == 4
    assert config.rollback.bake_minutes == 45


def test_defaults_are_a_valid_cheap_sandbox() -> None:
    config = StageConfig()
    assert config.service.service_name == "order-api"
    assert config.service.min_capacity == 2
    assert config.service.nat_gateways == 0


def test_health_check_matcher_expands_lists_and_ranges() -> None:
    assert parse_success_codes("200,204") == {200, 204}
    assert parse_success_codes("200-204") == {200, 201, 202, 203, 204}
    assert parse_success_codes("200-202,404") == {200, 201, 202, 404}


def test_aws_default_matcher_would_mark_a_204_health_endpoint_unhealthy() -> None:
    # /health answers 204 and the default matcher is "200".
    assert 204 not in parse_success_codes("200")
    assert 204 in HealthCheckConfig().accepted_codes


def test_restore_estimate_uses_batches_draining_lifecycle_and_health_checks() -> None:
    estimate = ServiceConfig().restore_estimate()
    # 2 instances, HalfAtATime: 2 batches of (30 s drain + 30 s lifecycle + 10 s x 2).
    assert estimate.batches == 2
    assert estimate.total_s == 2 * (30 + 30 + 20)


def test_default_error_ttls_cover_every_customizable_code_as_the_issue_asks() -> None:
    ttls = StageConfig().edge.error_caching_min_ttl
    # Every customizable code but 416, which CloudFront never caches.
    assert set(ttls) == {400, 403, 404, 405, 414, 500, 501, 502, 503, 504}
    five_xx = [ttls[c] for c in (500, 501, 502, 503, 504)]
    # 5xx a few seconds (CloudFront's default is 10 s), 404 longer.
    assert all(0 < ttl <= 10 for ttl in five_xx)
    assert ttls[404] > max(five_xx)


def test_a_5xx_ttl_beyond_detection_plus_restore_fails_unless_overridden() -> None:
    window = StageConfig().rollback_window_seconds
    with pytest.raises(ConfigError, match=r"edge\.error_caching_min_ttl\.502"):
        load_config({"edge.error_caching_min_ttl.502": str(window + 1)})
    relaxed = load_config(
        {
            "edge.error_caching_min_ttl.502": str(window + 1),
            "edge.allow_error_ttl_beyond_rollback": "true",
        }
    )
    assert relaxed.edge.error_caching_min_ttl[502] == window + 1
