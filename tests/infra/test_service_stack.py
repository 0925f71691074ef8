"""Synth-and-assert for the service stack: ALB, health check, instances, CodeDeploy, S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match, Template

from alarm_rollback_kit.config import parse_success_codes
from app import build_app
from stacks.config import ConfigError, load_config
from stacks.service_stack import ServiceStack
from tests.support.nested_stacks import through_outputs
from tests.support.origin_verify import header_cloudfront_sends, header_listener_requires
from tests.support.templates import new_app, only_resource, service_template

TG = "AWS::ElasticLoadBalancingV2::TargetGroup"
LB = "AWS::ElasticLoadBalancingV2::LoadBalancer"
FORBIDDEN = {"ContentType": "text/plain", "MessageBody": "Forbidden"}


PROD_CONTEXT = {
    "stage": "prod",
    "service.certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/alb",
    "edge.origin_domain_name": "origin.example.com",
}


def _attributes(resource: dict[str, Any], key: str) -> dict[str, str]:
    return {a["Key"]: a["Value"] for a in resource["Properties"][key]}


def test_health_check_accepts_204_when_health_returns_no_content(
    default_template: Template,
) -> None:
    tg = only_resource(default_template, TG)
    props = tg["Properties"]
    assert props["HealthCheckPath"] == "/health"
    assert 204 in parse_success_codes(props["Matcher"]["HttpCode"])
    assert props["Matcher"]["HttpCode"] == "200,204"


def test_health_check_timing_is_tuned_for_fast_rejoin(default_template: Template) -> None:
    default_template.has_resource_properties(
        TG,
        {
            "HealthCheckIntervalSeconds": 10,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 2,
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]
            ),
        },
    )


def test_health_check_values_follow_config() -> None:
    template = service_template(
        {
            "service.health_check.path": "/ping",
            "service.health_check.success_codes": "200-299",
            "service.deregistration_delay_seconds": "120",
        }
    )
    template.has_resource_properties(
        TG,
        {
            "HealthCheckPath": "/ping",
            "Matcher": {"HttpCode": "200-299"},
            "TargetGroupAttributes": Match.array_with(
                [{"Key": "deregistration_delay.timeout_seconds", "Value": "120"}]
            ),
        },
    )


def test_load_balancer_is_internet_facing_with_idle_timeout_and_access_logs(
    default_template: Template,
) -> None:
    lb = only_resource(default_template, LB)
    assert lb["Properties"]["Scheme"] == "internet-facing"
    attrs = _attributes(lb, "LoadBalancerAttributes")
    assert attrs["idle_timeout.timeout_seconds"] == "60"
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.prefix"] == "alb"


def test_access_log_bucket_lets_both_elb_log_delivery_principals_write(
    default_template: Template,
) -> None:
    policies = default_template.find_resources("AWS::S3::BucketPolicy")
    statements = [
        s
        for p in policies.values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Action") == "s3:PutObject"
        and (
            "elasticloadbalancing" in json.dumps(s["Principal"])
            or "ElbLogDeliveryByAccount" in json.dumps(s["Principal"])
        )
    ]
    assert statements  # CDK may merge the two principals into one statement
    principals = json.dumps([s["Principal"] for s in statements])
    assert "logdelivery.elasticloadbalancing.amazonaws.com" in principals
    assert "ElbLogDeliveryByAccount" in principals  # the regional-account branch
    for statement in statements:
        assert "/alb/AWSLogs/" in json.dumps(statement["Resource"])
    # The ALB checks the bucket policy when access logs are switched on.
    lb = next(iter(default_template.find_resources(LB).values()))
    log_policy = next(
        k
        for k, p in policies.items()
        if "logdelivery" in json.dumps(p["Properties"]["PolicyDocument"])
    )
    assert log_policy in lb["DependsOn"]
    # Regions opened before August 2022 deliver as a regional ELB account.
    mappings = default_template.to_json()["Mappings"]
    accounts = next(m for name, m in mappings.items() if name.startswith("ServiceElbLog"))
    assert accounts["us-east-1"]["account"] == "127311923021"


def test_launch_template_requires_imdsv2_and_encrypts_volumes(default_template: Template) -> None:
    user_data = Capture()
    default_template.has_resource_properties(
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": Match.object_like(
                {
                    "MetadataOptions": Match.object_like({"HttpTokens": "required"}),
                    "BlockDeviceMappings": [
                        {
                            "DeviceName": "/dev/xvda",
                            "Ebs": Match.object_like({"Encrypted": True, "VolumeType": "gp3"}),
                        }
                    ],
                    "UserData": user_data,
                }
            )
        },
    )
    script = json.dumps(user_data.as_object())
    assert "codedeploy-agent" in script
    assert "./install auto" in script


def test_auto_scaling_group_uses_a_launch_template(
    default_template: Template,
) -> None:
    # Health-check type: tests/infra/test_deployability.py (EC2 until opted in).
    default_template.has_resource_properties(
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "LaunchTemplate": Match.object_like({"Version": Match.any_value()}),
            "LaunchConfigurationName": Match.absent(),
            "MinSize": "2",
            "MaxSize": "2",
        },
    )


def test_instance_role_reads_only_revisions_of_the_artifact_bucket(
    default_template: Template,
) -> None:
    policies = default_template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"Roles": [{"Ref": Match.string_like_regexp("ServiceInstanceRole")}]}},
    )
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert len(statements) == 1
    assert statements[0]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert "/revisions/*" in json.dumps(statements[0]["Resource"])


def test_app_port_is_open_only_from_the_load_balancer(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "FromPort": 8080,
            "ToPort": 8080,
            "IpProtocol": "tcp",
            "SourceSecurityGroupId": {
                "Fn::GetAtt": [Match.string_like_regexp("AlbSecurityGroup"), "GroupId"]
            },
        },
    )


def test_alb_egress_is_only_the_app_port_inside_the_vpc(default_template: Template) -> None:
    alb_sg = only_resource(
        default_template,
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": Match.string_like_regexp("ALB: viewers in")},
    )
    # Inline: only a non-empty SecurityGroupEgress removes EC2's default allow-all rule.
    (rule,) = alb_sg["Properties"]["SecurityGroupEgress"]
    vpc = only_resource(default_template, "AWS::EC2::VPC")["Properties"]
    assert vpc["CidrBlock"] == "10.40.0.0/16"
    assert rule["CidrIp"]["Fn::GetAtt"][1] == "CidrBlock"
    assert rule["CidrIp"]["Fn::GetAtt"][0].startswith("NetworkVpc")
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 8080, 8080)
    assert "0.0.0.0/0" not in json.dumps(alb_sg["Properties"]["SecurityGroupEgress"])


def test_alb_deletion_protection_is_off_in_the_sandbox(default_template: Template) -> None:
    lb = only_resource(default_template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = _attributes(lb, "LoadBalancerAttributes")
    assert attributes.get("deletion_protection.enabled", "false") == "false"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (PROD_CONTEXT, "true"),
        ({**PROD_CONTEXT, "service.deletion_protection": "false"}, "false"),
        ({"service.deletion_protection": "true"}, "true"),
    ],
    ids=["prod-default", "prod-opted-out", "sandbox-opted-in"],
)
def test_alb_deletion_protection_is_on_outside_the_sandbox_unless_configured_off(
    context: dict[str, str], expected: str
) -> None:
    lb = only_resource(service_template(context), "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert _attributes(lb, "LoadBalancerAttributes").get("deletion_protection.enabled") == expected


def test_flow_logs_are_encrypted_with_a_key_cloudwatch_logs_may_use(
    default_template: Template,
) -> None:
    group = only_resource(default_template, "AWS::Logs::LogGroup", {"RetentionInDays": 30})
    key_ref = group["Properties"]["KmsKeyId"]["Fn::GetAtt"]
    key = default_template.to_json()["Resources"][key_ref[0]]
    sids = {s.get("Sid") for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert key_ref[1] == "Arn"
    assert {"CloudWatchLogsOfThisAccountAndRegion", "DenyGrantsExceptForAwsServices"} <= sids


def test_rollback_dead_letter_queue_accepts_no_sqs_source_queue(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::SQS::Queue", {"RedriveAllowPolicy": {"redrivePermission": "denyAll"}}
    )


def test_deployment_group_is_in_place_with_traffic_control_and_rolls_back(
    default_template: Template,
) -> None:
    dg = only_resource(default_template, "AWS::CodeDeploy::DeploymentGroup")["Properties"]
    assert dg["DeploymentStyle"]["DeploymentOption"] == "WITH_TRAFFIC_CONTROL"
    assert dg["DeploymentConfigName"] == "CodeDeployDefault.HalfAtATime"
    assert dg["LoadBalancerInfo"]["TargetGroupInfoList"]
    assert set(dg["AutoRollbackConfiguration"]["Events"]) >= {
        "DEPLOYMENT_FAILURE",
        "DEPLOYMENT_STOP_ON_ALARM",
    }


def test_deployment_configuration_comes_from_config() -> None:
    template = service_template({"service.deployment_config_name": "CodeDeployDefault.OneAtATime"})
    template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup", {"DeploymentConfigName": "CodeDeployDefault.OneAtATime"}
    )


@pytest.mark.parametrize("bucket_id", ["BucketsArtifacts", "BucketsAccessLogs"])
def test_buckets_are_encrypted_private_and_tls_only(
    default_template: Template, bucket_id: str
) -> None:
    buckets = default_template.find_resources("AWS::S3::Bucket")
    (props,) = [b["Properties"] for k, b in buckets.items() if k.startswith(bucket_id)]
    assert (
        props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"]
        == "AES256"
    )
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    policies = default_template.find_resources(
        "AWS::S3::BucketPolicy",
        {"Properties": {"Bucket": {"Ref": Match.string_like_regexp(bucket_id)}}},
    )
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        s.get("Condition") for s in statements if s["Effect"] == "Deny"
    ]


def test_artifact_bucket_is_versioned(default_template: Template) -> None:
    default_template.has_resource_properties(
        "AWS::S3::Bucket", {"VersioningConfiguration": {"Status": "Enabled"}}
    )


def test_waf_is_off_by_default_and_attached_to_the_alb_when_enabled(
    default_template: Template,
) -> None:
    assert default_template.find_resources("AWS::WAFv2::WebACL") == {}
    template = service_template({"service.enable_waf": "true"})
    acl = only_resource(template, "AWS::WAFv2::WebACL")["Properties"]
    assert acl["Scope"] == "REGIONAL"
    template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation",
        {"ResourceArn": {"Ref": Match.string_like_regexp("ServiceLoadBalancer")}},
    )


def test_https_listener_and_redirect_when_a_certificate_is_configured() -> None:
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    template = service_template(
        {"service.certificate_arn": arn, "edge.origin_domain_name": "origin.example.com"}
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "Protocol": "HTTPS", "Certificates": [{"CertificateArn": arn}]},
    )
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 80, "DefaultActions": [Match.object_like({"Type": "redirect"})]},
    )
    # Behind the edge neither listener is open to the internet.
    sg = only_resource(
        template,
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": Match.string_like_regexp("ALB: viewers")},
    )["Properties"]
    assert "SecurityGroupIngress" not in sg


def test_alb_is_reachable_only_through_cloudfront_by_default(default_template: Template) -> None:
    sg = only_resource(
        default_template,
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": Match.string_like_regexp("ALB: viewers")},
    )["Properties"]
    assert "SecurityGroupIngress" not in sg
    default_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "DefaultActions": [
                Match.object_like(
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "403", **FORBIDDEN},
                    }
                )
            ]
        },
    )
    default_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {"Priority": 1, "Actions": [Match.object_like({"Type": "forward"})]},
    )


def test_listener_requires_exactly_the_header_cloudfront_sends(
    default_service_stack: ServiceStack, default_template: Template
) -> None:
    # Given the edge in its nested stack and the listener rule in the service stack
    assert default_service_stack.edge_stack is not None
    edge_template = Template.from_stack(default_service_stack.edge_stack)
    # When the listener's required value is followed into the nested stack
    required = through_outputs(
        header_listener_requires(default_template), default_template, edge_template
    )
    # Then it is the very reference CloudFront sends: the edge's own secret
    (secret_id,) = edge_template.find_resources("AWS::SecretsManager::Secret")
    assert required == header_cloudfront_sends(edge_template)
    assert required == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id}, ":SecretString:::}}"]]
    }
    assert default_template.find_resources("AWS::SecretsManager::Secret") == {}


def test_alb_is_open_to_the_internet_without_the_edge() -> None:
    template = service_template({"edge.enabled": "false"})
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": Match.string_like_regexp("ALB: viewers"),
            "SecurityGroupIngress": [Match.object_like({"CidrIp": "0.0.0.0/0", "FromPort": 80})],
        },
    )
    assert template.find_resources("AWS::ElasticLoadBalancingV2::ListenerRule") == {}
    assert template.find_resources("AWS::CloudFormation::Stack") == {}


def test_explicit_environment_with_named_zones_needs_no_lookup() -> None:
    app = new_app(
        {
            "account": "123456789012",
            "region": "eu-west-1",
            "service.availability_zones": "eu-west-1a,eu-west-1b",
        }
    )
    build_app(load_config(app.node.get_all_context()), app=app, nag=False)
    assembly = app.synth()
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text())
    assert "missing" not in manifest  # no context look-up was needed
    (service,) = [s for s in assembly.stacks if s.stack_name.endswith("-service")]
    subnets = [r for r in service.template["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"]
    assert {s["Properties"]["AvailabilityZone"] for s in subnets} == {"eu-west-1a", "eu-west-1b"}


def test_zones_outside_the_configured_region_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"service\.availability_zones.*us-east-1a"):
        load_config(
            {
                "account": "123456789012",
                "region": "eu-west-1",
                "service.availability_zones": "us-east-1a,us-east-1b",
            }
        )
