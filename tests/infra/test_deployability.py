"""A default synth deploys into a brand-new sandbox account and serves the good release.

* No reserved concurrency anywhere (a new account's quota can be 10, all of it unreserved by
  rule); a reservation is opt-in and validated.
* The rollback function's idempotency table: TTL, and only PutItem/DeleteItem on it.
* The first release is part of the stack: the sample's good bundle as an asset, deployed
  once on creation by a CreateDeployment custom resource (not the group's ``Deployment``
  property, which CloudFormation says not to combine with the auto-rollback configuration),
  readable by the instances; Auto Scaling uses EC2 health checks unless told otherwise.
* CodeDeploy's FAILURE/STOP notifications reach the function too, and the page says that
  nothing was rolled back automatically after the kit's own redeploy.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk.assertions import Match, Template
from moto.events.models import EventPattern

from alarm_rollback_kit.deployment import INITIAL_RELEASE_DESCRIPTION
from app import build_app
from stacks.config import load_config
from tests.support.config_errors import assert_names, config_error
from tests.support.events import load_event
from tests.support.templates import new_app, only_resource, resources_of, service_template

LAMBDA = "AWS::Lambda::Function"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole default app written to a cloud assembly, nested stacks included."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    build_app(load_config(app.node.get_all_context()), app=app, nag=False)
    app.synth()
    return outdir


def _templates(outdir: Path) -> dict[str, dict[str, Any]]:
    templates: dict[str, dict[str, Any]] = {
        p.name: json.loads(p.read_text()) for p in outdir.glob("*.template.json")
    }
    return templates


def _function(template: Template) -> dict[str, Any]:
    return dict(
        only_resource(template, LAMBDA, {"Handler": "rollback.handler.lambda_handler"})[
            "Properties"
        ]
    )


def test_default_synth_reserves_no_concurrency_in_any_template(synthesized: Path) -> None:
    templates = _templates(synthesized)
    functions = [
        (name, logical_id)
        for name, body in templates.items()
        for logical_id, resource in body.get("Resources", {}).items()
        if resource["Type"] == LAMBDA
    ]

    assert any(name.endswith(".nested.template.json") for name in templates)
    assert len(functions) >= 3  # rollback, API handler and worker, custom-resource providers
    reserving = [
        (name, logical_id)
        for name, logical_id in functions
        if "ReservedConcurrentExecutions" in templates[name]["Resources"][logical_id]["Properties"]
    ]
    assert reserving == []


def test_reserved_concurrency_is_opt_in() -> None:
    service_template({"rollback.reserved_concurrency": "2"}).has_resource_properties(
        LAMBDA, {"Handler": "rollback.handler.lambda_handler", "ReservedConcurrentExecutions": 2}
    )


@pytest.mark.parametrize("value", ["-1", "1001"])
def test_reserved_concurrency_out_of_range_fails_naming_field_value_and_range(value: str) -> None:
    error = config_error(lambda: load_config({"rollback.reserved_concurrency": value}))

    assert_names(error, field="rollback.reserved_concurrency", value=int(value), allowed="0..1000")


def test_idempotency_table_expires_records_and_only_the_function_writes_them(
    default_template: Template,
) -> None:
    (table_id, table), *others = default_template.find_resources("AWS::DynamoDB::Table").items()
    assert others == []
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiresAt",
        "Enabled": True,
    }
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    env = _function(default_template)["Environment"]["Variables"]
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": table_id}
    statements = [
        s
        for policy in default_template.find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("dynamodb:") for a in _actions(s))
    ]
    assert [(sorted(_actions(s)), s["Resource"]) for s in statements] == [
        (["dynamodb:DeleteItem", "dynamodb:PutItem"], {"Fn::GetAtt": [table_id, "Arn"]})
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    found = statement["Action"]
    return [found] if isinstance(found, str) else list(found)


def _deployment_rule(template: Template) -> dict[str, Any]:
    return dict(
        only_resource(
            template, "AWS::Events::Rule", {"EventPattern": {"source": ["aws.codedeploy"]}}
        )["Properties"]
    )


def test_deployment_failures_reach_the_function_with_the_dead_letter_queue(
    default_template: Template,
) -> None:
    rule = _deployment_rule(default_template)
    (function_target,) = [t for t in rule["Targets"] if "Fn::GetAtt" in t["Arn"]]

    assert function_target["Arn"]["Fn::GetAtt"][0].startswith("AutoRollbackFunction")
    assert function_target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith(
        "AutoRollbackDeadLetters"
    )
    assert function_target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 3600


@pytest.mark.parametrize(
    ("state", "matches"), [("FAILURE", True), ("STOP", True), ("SUCCESS", False)]
)
def test_deployment_rule_matches_codedeploy_documented_event_for_endings_only(
    default_template: Template, state: str, matches: bool
) -> None:
    pattern = _deployment_rule(default_template)["EventPattern"]
    pattern["detail"]["application"] = ["order-api"]
    pattern["detail"]["deploymentGroup"] = ["prod"]
    event = load_event("codedeploy-deployment-state-change-failure.json")
    event["detail"]["state"] = state

    assert EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, event)) is matches


def test_deployment_failed_page_says_nothing_was_rolled_back_after_the_kit_redeploy(
    default_template: Template,
) -> None:
    rule = _deployment_rule(default_template)
    (topic_target,) = [t for t in rule["Targets"] if "Ref" in t["Arn"]]

    text = json.dumps(topic_target["InputTransformer"]["InputTemplate"])
    assert "Nothing was rolled back automatically" in text
    assert "[alarm-rollback-kit]" in text


def test_dead_letter_alarm_says_a_rollback_blocked_by_a_launch_needs_a_human(
    default_template: Template,
) -> None:
    alarm = only_resource(
        default_template,
        "AWS::CloudWatch::Alarm",
        {"AlarmDescription": Match.string_like_regexp("dead-letter queue")},
    )["Properties"]

    assert "Auto Scaling launch" in alarm["AlarmDescription"]
    assert "roll back by hand" in alarm["AlarmDescription"]


# First release ---------------------------------------------------------------------------


def _initial_release(template: Template) -> dict[str, Any]:
    releases = [
        r
        for r in resources_of(template, "Custom::AWS").values()
        if "createDeployment" in json.dumps(r["Properties"].get("Create"))
    ]
    assert len(releases) == 1
    return releases[0]


def _create_call(resource: dict[str, Any]) -> str:
    """The SDK call of the custom resource, with the asset's bucket and key left as tokens."""
    joined = resource["Properties"]["Create"]["Fn::Join"][1]
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in joined)


def test_fresh_stack_deploys_the_good_release_once_on_creation(default_template: Template) -> None:
    resource = _initial_release(default_template)
    call = _create_call(resource)

    assert '"service":"CodeDeploy"' in call
    assert '"action":"createDeployment"' in call
    assert '"revisionType":"S3"' in call
    assert '.zip","bundleType":"zip"' in call
    assert INITIAL_RELEASE_DESCRIPTION in call
    # Creation only: a stack update never redeploys the sample over a newer release.
    assert "Update" not in resource["Properties"]
    assert "Delete" not in resource["Properties"]
    # The instances may read the bundle before the deployment starts.
    assert any(d.startswith("ServiceInstanceRole") for d in resource["DependsOn"])


def test_initial_release_bundle_is_the_good_variant_with_executable_hooks(
    synthesized: Path,
) -> None:
    manifest = json.loads((synthesized / "order-api-sandbox-service.assets.json").read_text())
    zips = [
        synthesized / f["source"]["path"]
        for f in manifest["files"].values()
        if f["source"].get("packaging") == "file" and f["source"]["path"].endswith(".zip")
    ]
    bundles = [z for z in zips if "appspec.yml" in zipfile.ZipFile(z).namelist()]
    assert len(bundles) == 1
    with zipfile.ZipFile(io.BytesIO(bundles[0].read_bytes())) as archive:
        release = json.loads(archive.read("release.json"))
        modes = {
            i.filename: i.external_attr >> 16
            for i in archive.infolist()
            if i.filename.startswith("scripts/")
        }
        env = archive.read("config/order-api.env").decode()
    assert (release["variant"], release["version"]) == ("good", "2.3.1")
    assert modes
    assert all(mode & 0o111 for mode in modes.values())
    assert "ORDER_API_PORT=8080" in env


def test_instances_may_read_exactly_the_initial_release_object(default_template: Template) -> None:
    role_policies = [
        p["Properties"]
        for p in default_template.find_resources("AWS::IAM::Policy").values()
        if any(r["Ref"].startswith("ServiceInstanceRole") for r in p["Properties"]["Roles"])
    ]
    statements = [s for p in role_policies for s in p["PolicyDocument"]["Statement"]]
    resources = [
        (sorted(_actions(s)), r)
        for s in statements
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    asset_reads = [(actions, r) for actions, r in resources if "cdk-" in json.dumps(r)]

    assert len(asset_reads) == 1
    actions, resource = asset_reads[0]
    assert actions == ["s3:GetObject", "s3:GetObjectVersion"]
    assert json.dumps(resource).endswith('.zip"]]}')
    assert "*" not in json.dumps(resource)


def test_initial_release_can_be_turned_off_for_your_own_revision() -> None:
    template = service_template({"service.initial_release": "false"})

    assert template.find_resources("Custom::AWS") == {}


def test_deployment_group_keeps_auto_rollback_and_has_no_deployment_property(
    default_template: Template,
) -> None:
    default_template.has_resource_properties(
        "AWS::CodeDeploy::DeploymentGroup",
        {
            "AutoRollbackConfiguration": Match.object_like({"Enabled": True}),
            "Deployment": Match.absent(),
        },
    )


@pytest.mark.parametrize(("opt_in", "expected"), [("false", "EC2"), ("true", "ELB")])
def test_auto_scaling_health_checks_are_ec2_until_opted_in(opt_in: str, expected: str) -> None:
    template = service_template({"service.elb_health_check": opt_in})

    template.has_resource_properties(
        "AWS::AutoScaling::AutoScalingGroup",
        {"HealthCheckType": expected, "HealthCheckGracePeriod": 300},
    )
