"""The example app synthesizes from the built wheel alone, with imported resources.

``examples/existing_service`` is copied out of the repository and run by this
interpreter with only the wheel's install target on the import path, the way ``cdk
synth`` runs a user's app (context from its ``cdk.json``, the assembly directory from
``CDK_OUTDIR``). A module left out of the wheel, package data that is not installed, or
an import of the repository's ``stacks`` from the library fails here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from alarm_rollback_kit import AutoRollback
from alarm_rollback_kit.lambda_code import ROLLBACK_CODE
from tests.support.bare import imported_service
from tests.support.installed_kit import REPO, InstalledKit

EXAMPLE = REPO / "examples" / "existing_service"
STACK = "existing-service-rollback"
FUNCTION = "AWS::Lambda::Function"


@pytest.fixture(scope="module")
def example_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((EXAMPLE / "cdk.json").read_text(encoding="utf-8"))[
        "context"
    ]
    return context


@pytest.fixture(scope="module")
def example_template(
    installed_kit: InstalledKit,
    example_context: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    app_dir = tmp_path_factory.mktemp("example") / "existing_service"
    shutil.copytree(EXAMPLE, app_dir)
    outdir = app_dir / "cdk.out"
    result = installed_kit.run(
        "app.py",
        cwd=app_dir,
        env={"CDK_CONTEXT_JSON": json.dumps(example_context), "CDK_OUTDIR": str(outdir)},
    )
    assert result.returncode == 0, result.stderr
    template: dict[str, Any] = json.loads(
        (outdir / f"{STACK}.template.json").read_text(encoding="utf-8")
    )
    return template


def _function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [r for r in template["Resources"].values() if r["Type"] == FUNCTION]
    props: dict[str, Any] = function["Properties"]
    return props


def test_example_synthesizes_from_the_wheel_with_cdk_nag_and_only_kit_findings_acknowledged(
    example_template: dict[str, Any],
) -> None:
    # The example registers AwsSolutionsChecks: an unacknowledged finding would have
    # failed the synth above, so reaching here means the one call covered the kit.
    assert _function(example_template)["Handler"] == "rollback.handler.lambda_handler"


def test_imported_resources_give_the_function_its_dimensions_and_group(
    example_template: dict[str, Any], example_context: dict[str, Any]
) -> None:
    existing = example_context["existing_service"]
    env = _function(example_template)["Environment"]["Variables"]
    assert env["LOAD_BALANCER_FULL_NAME"] == "app/shop-web/50dc6c495c0c9188"
    assert env["TARGET_GROUP_FULL_NAME"] == "targetgroup/shop-web/73e2d6bc24d8a067"
    assert env["APPLICATION_NAME"] == existing["application_name"]
    assert env["DEPLOYMENT_GROUP_NAME"] == existing["deployment_group_name"]
    assert env["BAKE_MINUTES"] == "45"


def test_imported_alb_metrics_carry_its_load_balancer_dimension(
    example_template: dict[str, Any],
) -> None:
    dimensions = [
        dimension
        for resource in example_template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        for query in resource["Properties"].get("Metrics", [])
        if "MetricStat" in query
        for dimension in query["MetricStat"]["Metric"]["Dimensions"]
    ]
    assert dimensions
    assert {(d["Name"], d["Value"]) for d in dimensions} == {
        ("LoadBalancer", "app/shop-web/50dc6c495c0c9188")
    }


def test_installed_copy_synthesizes_the_same_rollback_asset_as_the_repository(
    example_template: dict[str, Any], tmp_path: Path
) -> None:
    # Given the same construct built from the repository's package
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Repo")
    AutoRollback(stack, "AutoRollback", **imported_service(stack))
    repo_template = app.synth().get_stack_by_name("Repo").template
    # Then the asset (named by the hash of its bundled content) is the same object
    assert _function(example_template)["Code"]["S3Key"] == _function(repo_template)["Code"]["S3Key"]


def test_wheel_ships_every_file_of_the_rollback_function(installed_kit: InstalledKit) -> None:
    installed = installed_kit.target / "alarm_rollback_kit" / "functions" / "rollback"
    assert sorted(p.name for p in installed.glob("*.py")) == sorted(
        p.name for p in ROLLBACK_CODE.glob("*.py")
    )
