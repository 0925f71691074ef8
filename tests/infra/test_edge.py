"""The CloudFront edge: error caching bounded by config, no masking, ALB reachable only via it.

Two small apps are synthesized once each (module-scoped): the sandbox defaults (no
certificate, HTTP to the ALB, no geo or WAF) and a hardened edge (certificate + aliases,
HTTPS to the ALB, geo allowlist, web ACL, non-default TTLs). Each is a parent stack with a
VPC, an ALB and its security group, and the ``EdgeStack`` nested in it holding the
``Edge`` (and its verify-header secret), the way the service stack uses it. The config
checks for ``EdgeConfig`` are in ``test_edge_config.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk.assertions import Match, Template

from alarm_rollback_kit.config import (
    CLOUDFRONT_CUSTOMIZABLE_CODES,
    CLOUDFRONT_NEVER_CACHED_CODES,
    ORIGIN_KEEPALIVE_SECONDS,
    ConfigError,
    EdgeConfig,
)
from alarm_rollback_kit.edge import LOG_PREFIX, ORIGIN_FACING_PREFIX_LIST, Edge
from stacks.config import StageConfig, load_config
from stacks.edge_stack import EdgeStack
from tests.support.bare import public_vpc
from tests.support.nested_stacks import through_outputs
from tests.support.origin_verify import header_cloudfront_sends
from tests.support.templates import only

# Managed policy ids (CloudFront Developer Guide, "Use managed cache policies" and "Use
# managed origin request policies").
CACHING_DISABLED_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER_ID = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-1234"
WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/edge/1a2b3c4d"
HARDENED_TTLS = {
    400: 15,
    403: 20,
    404: 300,
    405: 120,
    414: 90,
    500: 3,
    501: 4,
    502: 2,
    503: 1,
    504: 6,
}


@dataclass(frozen=True)
class Synthesized:
    config: EdgeConfig
    edge: Edge
    parent: Template
    nested: Template


def _synthesize(
    config: EdgeConfig, *, origin_port: int, origin_domain_name: str | None = None
) -> Synthesized:
    app = cdk.App()
    parent = cdk.Stack(app, "Parent")
    vpc = public_vpc(parent)
    security_group = ec2.SecurityGroup(
        parent, "AlbSecurityGroup", vpc=vpc, allow_all_outbound=False
    )
    alb = elbv2.ApplicationLoadBalancer(
        parent, "Alb", vpc=vpc, internet_facing=True, security_group=security_group
    )
    nested = EdgeStack(parent, "Edge")
    edge = Edge(
        nested,
        "Edge",
        config=config,
        load_balancer=alb,
        load_balancer_security_group=security_group,
        origin_port=origin_port,
        origin_domain_name=origin_domain_name,
    )
    # What the service stack does with it: hand the id to the rollback function and the
    # verify value to the ALB listener (an output stands in for the listener rule here).
    cdk.CfnOutput(parent, "DistributionId", value=edge.distribution_id)
    cdk.CfnOutput(parent, "OriginVerify", value=edge.origin_verify_value)
    return Synthesized(
        config=config,
        edge=edge,
        parent=Template.from_stack(parent),
        nested=Template.from_stack(nested),
    )


@pytest.fixture(scope="module")
def default() -> Synthesized:
    return _synthesize(StageConfig().edge, origin_port=80)


@pytest.fixture(scope="module")
def hardened() -> Synthesized:
    config = StageConfig(
        edge=EdgeConfig(
            error_caching_min_ttl=HARDENED_TTLS,
            origin_read_timeout_seconds=45,
            certificate_arn=CERTIFICATE_ARN,
            domain_names=("api.example.com", "www.example.com"),
            geo_allow_countries=("DE", "FR"),
            web_acl_arn=WEB_ACL_ARN,
            price_class="PriceClass_All",
        )
    ).edge
    return _synthesize(config, origin_port=443, origin_domain_name="origin.example.com")


def _distribution_config(template: Template) -> dict[str, Any]:
    found = template.find_resources("AWS::CloudFront::Distribution")
    assert len(found) == 1, sorted(found)
    config: dict[str, Any] = next(iter(found.values()))["Properties"]["DistributionConfig"]
    return config


def _origin(template: Template) -> dict[str, Any]:
    origins = _distribution_config(template)["Origins"]
    assert len(origins) == 1
    origin: dict[str, Any] = origins[0]
    return origin


def _error_responses(template: Template) -> dict[int, dict[str, Any]]:
    return {r["ErrorCode"]: r for r in _distribution_config(template)["CustomErrorResponses"]}


# --- Error caching --------------------------------------------------------------------------


CACHEABLE_CODES = [
    c for c in CLOUDFRONT_CUSTOMIZABLE_CODES if c not in CLOUDFRONT_NEVER_CACHED_CODES
]


@pytest.mark.parametrize("code", CACHEABLE_CODES)
def test_each_error_code_is_cached_for_exactly_its_configured_ttl(
    default: Synthesized, code: int
) -> None:
    responses = _error_responses(default.nested)
    assert responses[code]["ErrorCachingMinTTL"] == default.config.error_caching_min_ttl[code]


def test_416_gets_no_error_response_because_cloudfront_never_caches_it(
    default: Synthesized,
) -> None:
    assert 416 not in _error_responses(default.nested)


def test_a_ttl_for_416_fails_at_synth_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"edge\.error_caching_min_ttl\.416=0.*never caches"):
        load_config({"edge.error_caching_min_ttl.416": "0"})


def test_configured_ttls_reach_the_distribution_not_the_defaults(hardened: Synthesized) -> None:
    ttls = {code: r["ErrorCachingMinTTL"] for code, r in _error_responses(hardened.nested).items()}
    assert ttls == HARDENED_TTLS


def test_error_responses_pass_the_origin_status_and_body_through(default: Synthesized) -> None:
    # No page and no replacement code: a 502 reaches the viewer as the origin's 502, never
    # as a 200 with an error page.
    for code, response in _error_responses(default.nested).items():
        assert "ResponsePagePath" not in response, code
        assert "ResponseCode" not in response, code


def test_api_behaviour_uses_the_managed_caching_disabled_policy(default: Synthesized) -> None:
    behavior = _distribution_config(default.nested)["DefaultCacheBehavior"]
    assert behavior["CachePolicyId"] == CACHING_DISABLED_ID


# --- Origin: the ALB, guarded by the secret header ---------------------------------------------


def test_origin_is_the_alb_over_http_when_the_alb_has_no_certificate(
    default: Synthesized,
) -> None:
    origin = _origin(default.nested)
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert origin["CustomOriginConfig"]["HTTPPort"] == 80
    alb_id, _ = only(default.parent, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    _, stack = only(default.parent, "AWS::CloudFormation::Stack")
    parameter = origin["DomainName"]["Ref"]
    assert stack["Properties"]["Parameters"][parameter] == {"Fn::GetAtt": [alb_id, "DNSName"]}


def test_origin_is_https_only_to_the_certificate_name_when_port_443(hardened: Synthesized) -> None:
    origin = _origin(hardened.nested)
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert origin["DomainName"] == "origin.example.com"


@pytest.mark.parametrize(("fixture", "expected"), [("default", 30), ("hardened", 45)])
def test_origin_read_timeout_comes_from_config(
    request: pytest.FixtureRequest, fixture: str, expected: int
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    assert _origin(synthesized.nested)["CustomOriginConfig"]["OriginReadTimeout"] == expected


def test_origin_keepalive_is_shorter_than_the_alb_idle_timeout(default: Synthesized) -> None:
    keepalive = _origin(default.nested)["CustomOriginConfig"]["OriginKeepaliveTimeout"]
    assert keepalive == ORIGIN_KEEPALIVE_SECONDS
    assert keepalive < StageConfig().service.idle_timeout_seconds


def test_origin_verify_header_is_a_dynamic_reference_to_the_edge_own_secret(
    default: Synthesized,
) -> None:
    secret_id, _ = only(default.nested, "AWS::SecretsManager::Secret")
    # A literal string here would be the secret in plain text in the template.
    assert header_cloudfront_sends(default.nested) == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]
    }


def test_the_secret_is_generated_without_punctuation_for_a_header_value(
    default: Synthesized,
) -> None:
    default.nested.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": Match.object_like(
                {"ExcludePunctuation": True, "PasswordLength": 32}
            )
        },
    )


def test_the_parent_reads_the_secret_arn_not_its_value_from_the_nested_stack(
    default: Synthesized,
) -> None:
    _, stack = only(default.parent, "AWS::CloudFormation::Stack")
    assert "resolve:secretsmanager" not in json.dumps(stack["Properties"].get("Parameters", {}))
    assert default.parent.find_resources("AWS::SecretsManager::Secret") == {}
    # The value the parent uses resolves, through the nested output, to the same
    # reference CloudFront sends.
    used = default.parent.find_outputs("OriginVerify")["OriginVerify"]["Value"]
    assert through_outputs(used, default.parent, default.nested) == header_cloudfront_sends(
        default.nested
    )


# --- Viewer side --------------------------------------------------------------------------------


def _has_default_behavior(template: Template, behavior: dict[str, Any]) -> None:
    template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {"DefaultCacheBehavior": Match.object_like(behavior)}
            )
        },
    )


def test_viewers_are_redirected_to_https(default: Synthesized) -> None:
    _has_default_behavior(default.nested, {"ViewerProtocolPolicy": "redirect-to-https"})


def test_api_behaviour_accepts_post_and_delete(default: Synthesized) -> None:
    _has_default_behavior(
        default.nested,
        {
            "AllowedMethods": Match.array_with(["POST", "DELETE"]),
            "CachedMethods": ["GET", "HEAD"],
        },
    )


def test_all_viewer_headers_except_host_are_forwarded(default: Synthesized) -> None:
    _has_default_behavior(
        default.nested, {"OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER_ID}
    )


def test_compression_is_enabled(default: Synthesized) -> None:
    _has_default_behavior(default.nested, {"Compress": True})


def test_http2_and_http3_are_served(default: Synthesized) -> None:
    assert _distribution_config(default.nested)["HttpVersion"] == "http2and3"


@pytest.mark.parametrize(
    ("fixture", "expected"), [("default", "PriceClass_100"), ("hardened", "PriceClass_All")]
)
def test_price_class_comes_from_config(
    request: pytest.FixtureRequest, fixture: str, expected: str
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    assert _distribution_config(synthesized.nested)["PriceClass"] == expected


def test_without_a_certificate_the_default_cloudfront_certificate_is_used(
    default: Synthesized,
) -> None:
    default.nested.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {"ViewerCertificate": Match.absent(), "Aliases": Match.absent()}
            )
        },
    )


def test_with_a_certificate_viewers_need_tls12_2021_on_the_aliases(hardened: Synthesized) -> None:
    hardened.nested.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "ViewerCertificate": {
                        "AcmCertificateArn": CERTIFICATE_ARN,
                        "MinimumProtocolVersion": "TLSv1.2_2021",
                        "SslSupportMethod": "sni-only",
                    },
                    "Aliases": ["api.example.com", "www.example.com"],
                }
            )
        },
    )


def test_geo_allowlist_is_applied_when_configured(hardened: Synthesized) -> None:
    assert _distribution_config(hardened.nested)["Restrictions"] == {
        "GeoRestriction": {"RestrictionType": "whitelist", "Locations": ["DE", "FR"]}
    }


def test_no_geo_restriction_when_none_is_configured(default: Synthesized) -> None:
    assert "Restrictions" not in _distribution_config(default.nested)


def test_web_acl_is_attached_when_configured(hardened: Synthesized) -> None:
    assert _distribution_config(hardened.nested)["WebACLId"] == WEB_ACL_ARN


def test_no_web_acl_when_none_is_configured(default: Synthesized) -> None:
    assert "WebACLId" not in _distribution_config(default.nested)


# --- Logging ------------------------------------------------------------------------------------


def test_standard_logs_go_to_the_edge_log_bucket_under_a_prefix(default: Synthesized) -> None:
    bucket_id, _ = only(default.nested, "AWS::S3::Bucket")
    assert _distribution_config(default.nested)["Logging"] == {
        "Bucket": {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]},
        "Prefix": LOG_PREFIX,
    }


def test_standard_logging_off_leaves_no_log_bucket_and_no_logging_config() -> None:
    synthesized = _synthesize(
        StageConfig(edge=EdgeConfig(standard_logging=False)).edge, origin_port=80
    )

    assert synthesized.edge.log_bucket is None
    assert synthesized.nested.find_resources("AWS::S3::Bucket") == {}
    assert "Logging" not in _distribution_config(synthesized.nested)


def test_log_bucket_has_acls_enabled_for_cloudfront_log_delivery(default: Synthesized) -> None:
    _, bucket = only(default.nested, "AWS::S3::Bucket")
    ownership = bucket["Properties"]["OwnershipControls"]["Rules"][0]["ObjectOwnership"]
    assert ownership in ("BucketOwnerPreferred", "ObjectWriter")


def test_log_bucket_is_private_and_encrypted(default: Synthesized) -> None:
    _, bucket = only(default.nested, "AWS::S3::Bucket")
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_log_bucket_refuses_plain_http(default: Synthesized) -> None:
    default.nested.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


# --- ALB reachable from CloudFront only ---------------------------------------------------------


@pytest.mark.parametrize(("fixture", "port"), [("default", 80), ("hardened", 443)])
def test_alb_security_group_admits_the_cloudfront_prefix_list_on_the_origin_port(
    request: pytest.FixtureRequest, fixture: str, port: int
) -> None:
    synthesized: Synthesized = request.getfixturevalue(fixture)
    lookup_id, _ = only(synthesized.nested, "Custom::AWS")
    _, ingress = only(synthesized.nested, "AWS::EC2::SecurityGroupIngress")
    props = ingress["Properties"]
    assert props["SourcePrefixListId"] == {"Fn::GetAtt": [lookup_id, "PrefixLists.0.PrefixListId"]}
    assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", port, port)
    assert "CidrIp" not in props


def test_ingress_rule_targets_the_parent_alb_security_group(default: Synthesized) -> None:
    _, ingress = only(default.nested, "AWS::EC2::SecurityGroupIngress")
    parameter = ingress["Properties"]["GroupId"]["Ref"]
    sg_id, _ = only(default.parent, "AWS::EC2::SecurityGroup")
    _, stack = only(default.parent, "AWS::CloudFormation::Stack")
    assert stack["Properties"]["Parameters"][parameter] == {"Fn::GetAtt": [sg_id, "GroupId"]}


def test_prefix_list_is_found_by_name_at_deploy_time(default: Synthesized) -> None:
    _, lookup = only(default.nested, "Custom::AWS")
    for phase in ("Create", "Update"):
        call = json.loads(lookup["Properties"][phase])
        assert call["service"] == "EC2"
        assert call["action"] == "DescribeManagedPrefixLists"
        assert call["parameters"]["Filters"] == [
            {"Name": "prefix-list-name", "Values": [ORIGIN_FACING_PREFIX_LIST]}
        ]
        assert call["outputPaths"] == ["PrefixLists.0.PrefixListId"]


def test_prefix_list_lookup_does_not_install_an_sdk_from_npm(default: Synthesized) -> None:
    _, lookup = only(default.nested, "Custom::AWS")
    assert lookup["Properties"]["InstallLatestAwsSdk"] is False


def test_prefix_list_lookup_may_only_describe_prefix_lists(default: Synthesized) -> None:
    _, policy = only(default.nested, "AWS::IAM::Policy")
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "ec2:DescribeManagedPrefixLists", "Effect": "Allow", "Resource": "*"}
    ]


# --- Wiring -------------------------------------------------------------------------------------


def test_distribution_id_reaches_the_parent_through_a_nested_stack_output(
    default: Synthesized,
) -> None:
    stack_id, _ = only(default.parent, "AWS::CloudFormation::Stack")
    output = default.parent.find_outputs("DistributionId")["DistributionId"]
    target, attribute = output["Value"]["Fn::GetAtt"]
    assert target == stack_id
    assert attribute.startswith("Outputs.")
