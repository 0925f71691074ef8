"""tools.api_release under moto: it publishes a version and canaries it through CodeDeploy.

The bad variants run as the zip would run them (``tools/api_faults.py`` wrapping the real
handler); invocations and the hook protocol come from ``tests.support.codedeploy_lambda_gaps``.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from api import handler as api_handler
from pretraffic import handler as hook
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.events import load_event
from tests.support.release_world import (
    APPLICATION,
    FUNCTION,
    GROUP,
    ReleaseWorld,
)
from tools import api_faults, api_release

TINY_PACKAGE = b"PK\x05\x06" + b"\x00" * 18  # an empty zip: moto stores, never runs, it


def _push(world: ReleaseWorld, variant: str) -> api_release.Pushed:
    return api_release.push(
        world.lambda_client,
        world.codedeploy,
        variant=variant,
        function=FUNCTION,
        application=APPLICATION,
        group=GROUP,
        pre_traffic_hook="order-api-pretraffic",
        package=TINY_PACKAGE,
    )


def _push_and_check(
    world: ReleaseWorld, variant: str, context: Any
) -> tuple[api_release.Pushed, dict[str, Any]]:
    """Push ``variant``, bind its version to the fault its handler setting names (moto runs
    no package), and run the hook CodeDeploy would."""
    pushed = _push(world, variant)
    configured = world.lambda_client.get_function(FunctionName=FUNCTION, Qualifier=pushed.version)
    module, _, name = configured["Configuration"]["Handler"].partition(".")
    assert module == api_release.FAULTS_MODULE
    gaps.register_version(FUNCTION, pushed.version, getattr(api_faults, name))
    execution_id = gaps.track(pushed.deployment_id)
    event = {"DeploymentId": pushed.deployment_id, "LifecycleEventHookExecutionId": execution_id}
    return pushed, hook.lambda_handler(event, context)


def test_push_publishes_a_version_and_starts_a_deployment_from_the_alias_version(
    release_world: ReleaseWorld,
) -> None:
    pushed = _push(release_world, "bad")

    assert (pushed.previous_version, pushed.version) == ("1", "3")
    config = release_world.lambda_client.get_function(FunctionName=FUNCTION, Qualifier="3")
    assert config["Configuration"]["Handler"] == "release_faults.post_orders_raises"
    info = release_world.codedeploy.get_deployment(deploymentId=pushed.deployment_id)
    spec = gaps.appspec_of(release_world.codedeploy, pushed.deployment_id)
    assert spec["Resources"][0][FUNCTION]["Properties"] == {
        "Name": FUNCTION,
        "Alias": "live",
        "CurrentVersion": "1",
        "TargetVersion": "3",
    }
    assert spec["Hooks"] == [{"BeforeAllowTraffic": "order-api-pretraffic"}]
    assert info["deploymentInfo"]["deploymentGroupName"] == GROUP


def test_bad_variant_answers_post_orders_with_a_500_problem_and_counts_http5xx(
    release_world: ReleaseWorld,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "3")
    response = api_faults.post_orders_raises(
        load_event("apigw-rest-post-orders.json"), lambda_context
    )

    assert response["statusCode"] == 500
    assert response["headers"]["Content-Type"] == "application/problem+json"
    documents = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert [(d["Http5xx"], d["version"]) for d in documents] == [([1.0], "3")]
    # The fault is confined to the bad version's call: the real handler is intact after it.
    assert (
        api_handler.lambda_handler(load_event("apigw-rest-post-orders.json"), lambda_context)[
            "statusCode"
        ]
        == 201
    )


def test_bad_variant_passes_the_hook_so_the_canary_alarm_must_catch_it(
    release_world: ReleaseWorld,
    lambda_context: Any,
) -> None:
    _, decision = _push_and_check(release_world, "bad", lambda_context)

    # A well-formed 500 is the proxy contract kept; the canary's Http5xx alarm stops it.
    assert (decision["status"], decision["version"]) == ("Succeeded", "3")


def test_not_proxy_variant_is_refused_by_the_hook_at_the_version_the_tool_published(
    release_world: ReleaseWorld,
    lambda_context: Any,
) -> None:
    pushed, decision = _push_and_check(release_world, "not-proxy", lambda_context)

    # TARGET_VERSION says 2 (the stack's version); the AppSpec's TargetVersion wins.
    assert (decision["status"], decision["version"]) == ("Failed", "3")
    assert list(decision["failures"]) == ["apigw-rest-post-orders"]
    status = release_world.codedeploy.get_deployment(deploymentId=pushed.deployment_id)
    assert status["deploymentInfo"]["status"] == "Failed"
    alias = release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"


@pytest.mark.parametrize("variant", ["good", "bad", "not-proxy"])
def test_package_holds_the_api_powertools_and_for_bad_variants_the_faults(variant: str) -> None:
    names = set(zipfile.ZipFile(io.BytesIO(api_release.build_zip(variant))).namelist())
    assert {"api/handler.py", "api/service.py", "aws_lambda_powertools/__init__.py"} <= names
    assert ("release_faults.py" in names) == (variant != "good")
    handler_module = api_release.VARIANT_HANDLERS[variant].rsplit(".", 1)[0]
    assert f"{handler_module.replace('.', '/')}.py" in names


def test_package_is_deterministic() -> None:
    assert api_release.build_zip("bad") == api_release.build_zip("bad")


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="variant 'worse'"):
        api_release.build_zip("worse")
