"""CloudFront in front of the service's ALB, with error caching that cannot outlive a rollback.

Trap 2 of the reference incident: CloudFront caches an origin's 4xx/5xx answers, so a
release that was rolled back can keep being served as cached 502s. Every code CloudFront lets you tune gets
its own ``ErrorCachingMinTTL`` from ``EdgeConfig`` (whose validation keeps 5xx TTLs inside
the kit's detection-plus-restore window), and no error is masked: there is no response
page and no response code, so the viewer sees the origin's own status and body. The API
behaviour uses the managed CachingDisabled policy, whose maximum TTL of 0 also caps any
``Cache-Control: max-age`` an error response carries, so the configured TTL is the
longest an error can live at the edge (CloudFront Developer Guide, "Control how long
CloudFront caches errors"). The ALB answers only requests that carry the secret
``X-Origin-Verify`` header and, at the network level, only CloudFront's origin-facing
addresses, found at deploy time so the stack stays environment-agnostic.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

from alarm_rollback_kit.compliance import (
    LOG_BUCKET_LOGGING,
    LOG_BUCKET_VERSIONING,
    S3_NOTIFICATIONS,
    S3_OBJECT_LOCK,
    Finding,
    KitConstruct,
    acknowledge,
    acknowledge_custom_resource_provider,
    control_tower,
)
from alarm_rollback_kit.config import (
    ORIGIN_KEEPALIVE_SECONDS,
    EdgeConfig,
    check_standard_logging,
)
from alarm_rollback_kit.hardening import private_bucket
from alarm_rollback_kit.origin_verify import ORIGIN_VERIFY_HEADER, OriginVerifySecret

# AWS-managed prefix list of CloudFront's origin-facing servers; its id differs per region
# (VPC User Guide, "AWS-managed prefix lists").
ORIGIN_FACING_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
PREFIX_LIST_ID_PATH = "PrefixLists.0.PrefixListId"
LOG_PREFIX = "cloudfront/"
LOG_RETENTION_DAYS = 90

_PRICE_CLASSES = {
    "PriceClass_100": cloudfront.PriceClass.PRICE_CLASS_100,
    "PriceClass_200": cloudfront.PriceClass.PRICE_CLASS_200,
    "PriceClass_All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}
_ORIGIN_PROTOCOLS = {
    80: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
    443: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
}


class Edge(KitConstruct):
    """A CloudFront distribution whose only origin is the service's ALB.

    The edge owns the ``X-Origin-Verify`` secret (``origin_verify``) and sends it on every
    request; hand ``origin_verify_value`` (a Secrets Manager dynamic reference, never the
    value) to the service's listener, which must require it. ``origin_port`` is
    the ALB listener port: 80 (HTTP to the ALB) or 443 (HTTPS); with 443,
    ``origin_domain_name`` must be a name on the ALB's certificate, because CloudFront
    checks the origin certificate against the origin domain name and the ALB's own
    ``*.elb.amazonaws.com`` name is never on it. The construct opens the ALB's security
    group to CloudFront on ``origin_port``.

    CloudFront standard logs (legacy) need a bucket with ACLs enabled, which the kit's
    BUCKET_OWNER_ENFORCED log bucket is not, and logging v2 must be configured in
    us-east-1, which an environment-agnostic stack in another region cannot do; so the
    construct owns a small ACL-enabled log bucket (``log_bucket``), unless
    ``config.standard_logging`` is off (``log_bucket`` is then None): CloudFront delivers
    no standard logs to buckets in opt-in Regions, so a stack whose Region is known and
    not one enabled by default is refused here (``check_standard_logging``), as the
    sample's ``StageConfig`` refuses it at load; an environment-agnostic stack cannot be.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EdgeConfig,
        load_balancer: elbv2.IApplicationLoadBalancer,
        load_balancer_security_group: ec2.ISecurityGroup,
        origin_port: int,
        origin_domain_name: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        if origin_port not in _ORIGIN_PROTOCOLS:
            raise ValueError(f"origin_port={origin_port!r}: allowed 80 or 443")
        region = Stack.of(self).region
        check_standard_logging(
            config.standard_logging,
            "" if Token.is_unresolved(region) else region,
            "EdgeConfig.standard_logging",
        )
        self.config = config
        self.origin_port = origin_port
        self.log_bucket = self._log_bucket() if config.standard_logging else None
        self._open_to_cloudfront(load_balancer_security_group)
        self.origin_verify = OriginVerifySecret(
            self, "OriginVerify", description="X-Origin-Verify value CloudFront sends the ALB"
        )
        # The header value for the ALB listener rule to require (a deploy-time reference).
        self.origin_verify_value = self.origin_verify.value
        self.distribution = self._distribution(
            self._origin(origin_domain_name or load_balancer.load_balancer_dns_name)
        )
        self.distribution_id = self.distribution.distribution_id
        self.distribution_arn = self.distribution.distribution_arn
        self.distribution_domain_name = self.distribution.distribution_domain_name

    def _open_to_cloudfront(self, load_balancer_security_group: ec2.ISecurityGroup) -> None:
        self.prefix_list_lookup = self._prefix_list_lookup()
        self.prefix_list_id = self.prefix_list_lookup.get_response_field(PREFIX_LIST_ID_PATH)
        # Exposed so compliance.py can acknowledge findings on exactly these two: the
        # lookup's own policy and the provider function's role (one per stack, shared by
        # every AwsCustomResource in it).
        self.prefix_list_lookup_policy = self.prefix_list_lookup.node.find_child(
            "CustomResourcePolicy"
        )
        role = self.prefix_list_lookup.grant_principal
        if not isinstance(role, iam.Role):
            raise TypeError(f"expected the provider's iam.Role, got {type(role).__name__}")
        self.prefix_list_lookup_role = role
        # A standalone rule, not add_ingress_rule: the group lives in the parent stack and
        # an inline rule there would reference this (nested) stack, which already depends
        # on the ALB, a cycle. The prefix list counts as its max-entries weight (55)
        # against the group's rule quota (60 by default), leaving room for 5 more rules
        # (VPC User Guide, "AWS-managed prefix list weight").
        self.ingress = ec2.CfnSecurityGroupIngress(
            self,
            "AlbIngressFromCloudFront",
            group_id=load_balancer_security_group.security_group_id,
            ip_protocol="tcp",
            from_port=self.origin_port,
            to_port=self.origin_port,
            source_prefix_list_id=self.prefix_list_id,
            description="CloudFront origin-facing servers to the ALB listener",
        )

    def _origin(self, domain_name: str) -> origins.HttpOrigin:
        return origins.HttpOrigin(
            domain_name,
            protocol_policy=_ORIGIN_PROTOCOLS[self.origin_port],
            http_port=80,
            https_port=443,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
            read_timeout=Duration.seconds(self.config.origin_read_timeout_seconds),
            keepalive_timeout=Duration.seconds(ORIGIN_KEEPALIVE_SECONDS),
            custom_headers={ORIGIN_VERIFY_HEADER: self.origin_verify_value},
        )

    def _distribution(self, origin: origins.HttpOrigin) -> cloudfront.Distribution:
        config = self.config
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", config.certificate_arn)
            if config.certificate_arn
            else None
        )
        return cloudfront.Distribution(
            self,
            "Distribution",
            comment="ALB origin: errors pass through, cached no longer than a rollback takes",
            default_behavior=_api_behavior(origin),
            error_responses=self._error_responses(config),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=_PRICE_CLASSES[config.price_class],
            enable_logging=self.log_bucket is not None,
            log_bucket=self.log_bucket,
            log_file_prefix=LOG_PREFIX if self.log_bucket is not None else None,
            certificate=certificate,
            domain_names=list(config.domain_names) or None,
            # Only applies with a certificate of one's own; on *.cloudfront.net CloudFront
            # fixes the policy itself and the setting is not allowed.
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None
            ),
            geo_restriction=(
                cloudfront.GeoRestriction.allowlist(*config.geo_allow_countries)
                if config.geo_allow_countries
                else None
            ),
            web_acl_id=config.web_acl_arn or None,
        )

    @staticmethod
    def _error_responses(config: EdgeConfig) -> list[cloudfront.ErrorResponse]:
        # TTL only: no response_page_path and no response_http_status, so the origin's
        # status code and body reach the viewer unchanged (no error masked as 200).
        return [
            cloudfront.ErrorResponse(http_status=code, ttl=Duration.seconds(ttl))
            for code, ttl in sorted(config.error_caching_min_ttl.items())
        ]

    def _log_bucket(self) -> s3.Bucket:
        # CloudFront delivers legacy standard logs by granting itself an ACL, so ACLs must
        # be enabled; BUCKET_OWNER_PREFERRED enables them and keeps the objects ours
        # (CloudFront Developer Guide, "Configure standard logging (legacy)"). Such a
        # bucket cannot be in a Region CloudFront does not deliver legacy logs to (some
        # opt-in Regions).
        return private_bucket(
            self,
            "Logs",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(LOG_RETENTION_DAYS))],
        )

    def _prefix_list_lookup(self) -> cr.AwsCustomResource:
        call = cr.AwsSdkCall(
            service="EC2",
            action="DescribeManagedPrefixLists",
            parameters={
                "Filters": [{"Name": "prefix-list-name", "Values": [ORIGIN_FACING_PREFIX_LIST]}]
            },
            physical_resource_id=cr.PhysicalResourceId.from_response(PREFIX_LIST_ID_PATH),
            output_paths=[PREFIX_LIST_ID_PATH],
        )
        return cr.AwsCustomResource(
            self,
            "OriginFacingPrefixList",
            on_create=call,
            on_update=call,
            # DescribeManagedPrefixLists supports no resource-level permissions (Service
            # Authorization Reference, Amazon EC2), hence "*" on a read-only action.
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ec2:DescribeManagedPrefixLists"], resources=["*"])]
            ),
            # The SDK bundled with the Lambda runtime has the call; fetching the latest
            # from npm at deploy time would add a network dependency and a moving version.
            install_latest_aws_sdk=False,
        )

    def acknowledge_nag_findings(self) -> None:
        self._acknowledge_aws_solutions()
        self._acknowledge_control_tower()

    def _acknowledge_aws_solutions(self) -> None:
        cfg = self.config
        distribution: list[Finding] = []
        if not cfg.certificate_arn:
            distribution.append(
                (
                    "AwsSolutions-CFR4",
                    "No self.certificate_arn: viewers reach the *.cloudfront.net name on CloudFront's "
                    "default certificate, whose security policy CloudFront fixes (TLSv1) and does not "
                    "let us raise. With self.certificate_arn and self.domain_names the kit sets "
                    "TLSv1.2_2021.",
                )
            )
        if self.origin_port == 80:
            distribution.append(
                (
                    "AwsSolutions-CFR5",
                    "No service.certificate_arn: the ALB has no certificate, so CloudFront reaches it "
                    "over HTTP. The ALB admits only CloudFront's origin-facing prefix list and requests "
                    "carrying the secret X-Origin-Verify header; with an ALB certificate the origin is "
                    "HTTPS-only with TLSv1.2.",
                )
            )
        if self.log_bucket is None:
            distribution.append(
                (
                    "AwsSolutions-CFR3",
                    "self.standard_logging=false: CloudFront delivers no standard logs (legacy) to "
                    "buckets in some opt-in Regions, and the stage turned them off rather than keep "
                    "a bucket that stays empty. The ALB's access logs still record every request "
                    "that reaches the origin.",
                )
            )
        if not cfg.geo_allow_countries:
            distribution.append(
                (
                    "AwsSolutions-CFR1",
                    "The order API has no country restriction requirement; self.geo_allow_countries "
                    "turns on an allowlist when one exists.",
                )
            )
        if not cfg.web_acl_arn:
            distribution.append(
                (
                    "AwsSolutions-CFR2",
                    "No self.web_acl_arn: a CloudFront-scope web ACL must be created in us-east-1 and "
                    "this stack deploys to the service's Region; set self.web_acl_arn to attach one.",
                )
            )
        if distribution:
            acknowledge(self.distribution, distribution)
        if self.log_bucket is not None:
            acknowledge(
                self.log_bucket,
                [
                    (
                        "AwsSolutions-S1",
                        "This bucket is itself a log bucket (CloudFront standard logs); its server access "
                        "logs would need yet another bucket and would record only CloudFront's deliveries.",
                    )
                ],
            )
        acknowledge(
            self.prefix_list_lookup_policy,
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "ec2:DescribeManagedPrefixLists, read-only, supports no resource-level permissions; "
                    "it finds CloudFront's origin-facing prefix list, whose id differs per Region.",
                )
            ],
        )
        acknowledge(
            self.prefix_list_lookup_role,
            [
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                    "AWSLambdaBasicExecutionRole]",
                    "Role of CDK's AwsCustomResource provider function: the AWS-managed minimum for a "
                    "function to write its own logs. Its one permission beyond that is the prefix-list "
                    "read above.",
                )
            ],
        )

    def _acknowledge_control_tower(self) -> None:
        cfg = self.config
        findings = [
            control_tower(
                "cloudfront_default_root_object_configured_check",
                "CT.CLOUDFRONT.PR.1: the origin is an API, not a website; '/' is not an object.",
            ),
            control_tower(
                "cloudfront_origin_failover_enabled_check",
                "CT.CLOUDFRONT.PR.4: one ALB origin; an origin group would fail over only GET, "
                "HEAD and OPTIONS, never the POST /orders the kit protects, and would hide the "
                "ALB's 5xx that the rollback alarms need to see.",
            ),
        ]
        if not cfg.certificate_arn:
            for rule, control in (
                ("cloudfront_custom_ssl_certificate_check", "CT.CLOUDFRONT.PR.6"),
                ("cloudfront_sni_enabled_check", "CT.CLOUDFRONT.PR.7"),
                ("cloudfront_security_policy_check", "CT.CLOUDFRONT.PR.9"),
            ):
                findings.append(
                    control_tower(
                        rule,
                        f"{control}: no self.certificate_arn, so viewers use *.cloudfront.net on "
                        "CloudFront's default certificate, whose TLS settings CloudFront fixes; "
                        "with a certificate the kit serves it by SNI with TLSv1.2_2021.",
                    )
                )
        if self.log_bucket is None:
            findings.append(
                control_tower(
                    "cloudfront_access_logs_enabled_check",
                    "CT.CLOUDFRONT.PR.5: self.standard_logging=false, for a Region CloudFront "
                    "delivers no standard logs (legacy) to; the ALB's access logs still record "
                    "every request that reaches the origin.",
                )
            )
        if self.origin_port == 80:
            findings.append(
                control_tower(
                    "cloudfront_traffic_to_origin_encrypted_check",
                    "CT.CLOUDFRONT.PR.8: sandbox only (any other stage must set "
                    "service.certificate_arn, which makes the origin HTTPS-only with TLSv1.2). "
                    "Without an ALB certificate CloudFront reaches the ALB over HTTP and the "
                    "X-Origin-Verify header crosses the internet in clear text.",
                )
            )
        acknowledge(self.distribution, findings)
        if self.log_bucket is not None:
            acknowledge(
                self.log_bucket,
                [
                    control_tower(
                        "s3_bucket_default_encryption_kms_check",
                        "CT.S3.PR.10: CloudFront standard logs (legacy) are written through a "
                        "bucket ACL grant to CloudFront's log-delivery account; SSE-S3 needs no "
                        "key policy for that writer.",
                    ),
                    S3_NOTIFICATIONS,
                    S3_OBJECT_LOCK,
                    LOG_BUCKET_VERSIONING,
                    LOG_BUCKET_LOGGING,
                ],
            )
        acknowledge_custom_resource_provider(
            self.prefix_list_lookup_role, "the prefix-list look-up at deploy time"
        )


def _api_behavior(origin: origins.HttpOrigin) -> cloudfront.BehaviorOptions:
    return cloudfront.BehaviorOptions(
        origin=origin,
        viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        # The API takes POST and DELETE; only GET/HEAD could ever be cached.
        allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
        cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
        # An API: nothing is cached unless an error response is (error caching follows
        # ErrorCachingMinTTL, see Edge._error_responses). Max TTL 0 also stops a bad
        # release's Cache-Control from stretching an error past its TTL.
        cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
        # Every viewer header, cookie and query string except Host: the ALB routes on the
        # verify header, not the host, and with an HTTPS origin CloudFront checks the
        # ALB's certificate against the Host it sends, so a forwarded viewer Host (the
        # distribution's name) would fail it.
        origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        # CloudFront compresses only with a caching policy that allows Gzip and Brotli
        # (CachingDisabled does not); until then the origin compresses, as
        # Accept-Encoding is forwarded. Kept on for behaviours that cache.
        compress=True,
    )
