"""The BeforeAllowTraffic hook under moto: a version that answers a non-proxy value is refused.

CodeDeploy's hook protocol and Lambda invocations of a version come from
``tests.support.codedeploy_lambda_gaps``; the good version is the real order-api handler.
"""

from __future__ import annotations

from typing import Any

import pytest

from api import handler as api_handler
from pretraffic import handler as hook
from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.events import EVENTS_DIR
from tests.support.release_world import FUNCTION, ReleaseWorld


def _returns_the_order_itself(event: Any, context: Any) -> Any:
    """A release that forgot the proxy envelope on POST /orders (API Gateway: 502)."""
    response = api_handler.lambda_handler(event, context)
    if response["statusCode"] == 201:
        return {"id": "o-1", "status": "created"}
    return response


def _raises(event: Any, context: Any) -> Any:
    raise RuntimeError("boom")


def _hook_event(deployment_id: str, execution_id: str) -> dict[str, str]:
    return {"DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id}


def _check_version_2(world: ReleaseWorld, release: Any, context: Any) -> tuple[str, Any]:
    """Bind version 2 to ``release``, start its deployment and run the hook on it."""
    gaps.register_version(FUNCTION, "2", release)
    deployment_id, execution_id = world.start()
    return deployment_id, hook.lambda_handler(_hook_event(deployment_id, execution_id), context)


def test_good_version_passes_and_codedeploy_hears_succeeded(
    release_world: ReleaseWorld, lambda_context: Any
) -> None:
    deployment_id, decision = _check_version_2(
        release_world, api_handler.lambda_handler, lambda_context
    )

    assert decision["status"] == "Succeeded", decision["failures"]
    assert gaps.hook_status(deployment_id) == "Succeeded"
    deployment = release_world.codedeploy.get_deployment(deploymentId=deployment_id)
    assert deployment["deploymentInfo"]["status"] == "InProgress"


def test_version_returning_a_non_proxy_value_fails_the_deployment_and_keeps_the_alias(
    release_world: ReleaseWorld, lambda_context: Any
) -> None:
    deployment_id, decision = _check_version_2(
        release_world, _returns_the_order_itself, lambda_context
    )

    assert decision["status"] == "Failed"
    assert set(decision["failures"]) == {"apigw-rest-post-orders"}
    assert (
        "statusCode is None, not an int 100..599" in decision["failures"]["apigw-rest-post-orders"]
    )
    assert gaps.hook_status(deployment_id) == "Failed"
    deployment = release_world.codedeploy.get_deployment(deploymentId=deployment_id)
    assert deployment["deploymentInfo"]["status"] == "Failed"
    alias = release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"


def test_version_that_raises_fails_on_every_case(
    release_world: ReleaseWorld, lambda_context: Any
) -> None:
    _, decision = _check_version_2(release_world, _raises, lambda_context)

    assert decision["status"] == "Failed"
    assert len(decision["failures"]) == len(hook.cases(EVENTS_DIR))
    assert all(
        p == ["function error (Unhandled): API Gateway answers 502"]
        for p in decision["failures"].values()
    )


def test_hook_that_cannot_read_its_events_reports_failed(
    release_world: ReleaseWorld, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    gaps.register_version(FUNCTION, "2", api_handler.lambda_handler)
    monkeypatch.setenv("EVENTS_DIR", str(tmp_path))
    deployment_id, execution_id = release_world.start()

    decision = hook.lambda_handler(_hook_event(deployment_id, execution_id), lambda_context)

    assert decision["status"] == "Failed"
    assert gaps.hook_status(deployment_id) == "Failed"


def test_good_hook_then_finished_shift_moves_the_alias_to_the_new_version(
    release_world: ReleaseWorld, lambda_context: Any
) -> None:
    gaps.register_version(FUNCTION, "2", api_handler.lambda_handler)
    deployment_id, execution_id = release_world.start()
    hook.lambda_handler(_hook_event(deployment_id, execution_id), lambda_context)

    gaps.finish_deployment(deployment_id, "Succeeded")

    alias = release_world.lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "2"
