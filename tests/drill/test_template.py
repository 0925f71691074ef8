"""Reading the kit out of cdk.out: finding its parts and resolving intrinsics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drill.assembly import Assembly, DrillTemplateError, Template, load_assembly
from drill.resolver import Resolver
from drill.template import find_kit
from tests.support.assembly import write_assembly
from tests.support.synthesized import resource, synthesize, variant

PARENT = {
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "AlarmA": {"Type": "AWS::CloudWatch::Alarm"},
        "AlarmB": {"Type": "AWS::CloudWatch::Alarm"},
        "Edge": {
            "Type": "AWS::CloudFormation::Stack",
            "Properties": {"Parameters": {"Prefix": {"Ref": "Bucket"}}},
            "Metadata": {"aws:asset:path": "parentEdge.nested.template.json"},
        },
    }
}
CHILD = {
    "Parameters": {"Prefix": {"Type": "String"}},
    "Resources": {"Distribution": {"Type": "AWS::CloudFront::Distribution"}},
    "Outputs": {"DistributionRef": {"Value": {"Ref": "Distribution"}}},
}


@pytest.fixture
def assembly(tmp_path: Path) -> Assembly:
    files = {"parentEdge.nested.template.json": CHILD}
    return load_assembly(write_assembly(tmp_path, {"parent": PARENT}, files))


def parent(assembly: Assembly) -> Template:
    return assembly.stacks["parent"]


def test_join_of_alarm_refs_resolves_to_the_drill_alarm_names(assembly: Assembly) -> None:
    physical = {("parent", "AlarmA"): {"Ref": "a"}, ("parent", "AlarmB"): {"Ref": "b"}}
    value = {"Fn::Join": [",", [{"Ref": "AlarmA"}, {"Ref": "AlarmB"}]]}

    assert Resolver(assembly, physical).resolve(value, parent(assembly)) == "a,b"


def test_nested_stack_output_resolves_to_the_distribution_the_drill_created(
    assembly: Assembly,
) -> None:
    physical = {("parentEdge", "Distribution"): {"Ref": "E2DRILL"}}
    value = {"Fn::GetAtt": ["Edge", "Outputs.DistributionRef"]}

    assert Resolver(assembly, physical).resolve(value, parent(assembly)) == "E2DRILL"


def test_join_fills_pseudo_parameters_and_attributes(assembly: Assembly) -> None:
    physical = {("parent", "AlarmA"): {"Ref": "a", "Arn": "arn:alarm:a"}}
    parts = [{"Ref": "AWS::Region"}, {"Ref": "AlarmA"}, {"Fn::GetAtt": ["AlarmA", "Arn"]}]
    value = {"Fn::Join": ["/", parts]}

    assert (
        Resolver(assembly, physical).resolve(value, parent(assembly)) == "us-east-1/a/arn:alarm:a"
    )


def test_intrinsic_the_drill_does_not_resolve_raises_naming_it(assembly: Assembly) -> None:
    with pytest.raises(DrillTemplateError, match="cannot resolve Fn::Sub"):
        Resolver(assembly, {}).resolve({"Fn::Sub": "${AWS::Region}"}, parent(assembly))


def test_unknown_attribute_raises_naming_the_intrinsic(assembly: Assembly) -> None:
    with pytest.raises(DrillTemplateError, match=r"Fn::GetAtt AlarmA\.Nonsense"):
        Resolver(assembly, {}).resolve({"Fn::GetAtt": ["AlarmA", "Nonsense"]}, parent(assembly))


def test_load_assembly_without_templates_asks_for_make_synth(tmp_path: Path) -> None:
    with pytest.raises(DrillTemplateError, match="make synth"):
        load_assembly(tmp_path)


# --- The synthesized kit --------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


def test_rule_alarms_are_the_rollback_alarms_and_target_5xx_only_notifies(cdk_out: Path) -> None:
    kit = find_kit(load_assembly(cdk_out))

    assert [a.label for a in kit.rollback_alarms] == [
        "Elb5xxCount",
        "Elb5xxRate",
        "LowTraffic5xxRate",
    ]
    assert [a.label for a in kit.alarms if not a.rollback] == ["Target5xxRate"]


def test_function_code_comes_from_its_asset_directory(cdk_out: Path) -> None:
    kit = find_kit(load_assembly(cdk_out))

    assert kit.asset_dir.parent == cdk_out
    assert (kit.asset_dir / "rollback" / "handler.py").is_file()


def test_async_retries_and_dead_letter_queue_come_from_the_event_invoke_config(
    cdk_out: Path,
) -> None:
    kit = find_kit(load_assembly(cdk_out))

    assert kit.retry_attempts == 2
    assert "DeadLetters" in kit.on_failure_id


def test_function_without_an_on_failure_destination_is_refused_naming_it(
    cdk_out: Path, tmp_path: Path
) -> None:
    def drop_destination(template: dict[str, Any]) -> None:
        resource(template, "AWS::Lambda::EventInvokeConfig")["Properties"].pop("DestinationConfig")

    with pytest.raises(
        DrillTemplateError, match=r"AutoRollbackFunction.* no on-failure destination"
    ):
        find_kit(load_assembly(variant(cdk_out, tmp_path / "cdk.out", drop_destination)))


def test_asset_directory_is_found_from_the_s3_key_without_asset_metadata(
    cdk_out: Path, tmp_path: Path
) -> None:
    def strip_metadata(template: dict[str, Any]) -> None:
        function = resource(template, "AWS::Lambda::Function", "AutoRollbackFunction")
        function["Metadata"].pop("aws:asset:path")

    kit = find_kit(load_assembly(variant(cdk_out, tmp_path / "cdk.out", strip_metadata)))

    assert (kit.asset_dir / "rollback" / "handler.py").is_file()
