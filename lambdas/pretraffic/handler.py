"""BeforeAllowTraffic hook: invoke the new order-api version directly, report to CodeDeploy.

CodeDeploy invokes this function with ``DeploymentId`` and
``LifecycleEventHookExecutionId`` before it moves any traffic to the new version, and
waits for ``PutLifecycleEventHookExecutionStatus``: ``Failed`` fails the deployment and
the alias stays on the old version (CodeDeploy User Guide, "AppSpec 'hooks' section for an
AWS Lambda deployment"; API Reference, PutLifecycleEventHookExecutionStatus). The version
under test is the deployment's AppSpec ``TargetVersion`` (GetDeployment), so a release
started outside CloudFormation (``tools.api_release``) is checked too; without one it is
``TARGET_VERSION``, the version the stack publishes. Thin: the judging is
``pretraffic.checks``.

A valid ``POST /orders`` event creates one sample order per deployment: the hook runs the
real route, as a client would.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path
from typing import Any

import boto3

from pretraffic import checks

LOGGER = logging.getLogger("pretraffic")
LOGGER.setLevel(logging.INFO)
BUNDLED_EVENTS = Path(__file__).resolve().parent / "events"


@functools.cache
def _client(service: str) -> Any:
    # Lazily, so moto's mock_aws catches it in tests.
    return boto3.client(service)


def clear_clients() -> None:
    _client.cache_clear()


def invoke_version(function_name: str, version: str, event: Any) -> checks.Answer:
    """One synchronous invocation of ``function_name``:``version``."""
    response = _client("lambda").invoke(
        FunctionName=function_name,
        Qualifier=version,
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    return checks.Answer(response["Payload"].read(), response.get("FunctionError"))


def target_version(deployment_id: str, default: str) -> str:
    """The AppSpec's TargetVersion for the function under test, else ``default``."""
    codedeploy = _client("codedeploy")
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    spec = info.get("revision", {}).get("appSpecContent", {})
    content = spec.get("content")
    if not content and spec.get("sha256"):
        # GetDeployment's content is always null: the AppSpec is read by its sha256
        # (CodeDeploy API Reference, GetDeployment).
        content = codedeploy.get_application_revision(
            applicationName=info["applicationName"],
            revision={
                "revisionType": "AppSpecContent",
                "appSpecContent": {"sha256": spec["sha256"]},
            },
        )["revision"]["appSpecContent"].get("content")
    if not content:
        return default
    for resource in json.loads(content).get("Resources", []):
        for spec in resource.values():
            props = spec.get("Properties", {})
            if props.get("Name") == os.environ["TARGET_FUNCTION"] and props.get("TargetVersion"):
                return str(props["TargetVersion"])
    return default


def cases(directory: Path) -> list[checks.Case]:
    documented = checks.documented_cases(directory)
    return documented + checks.malformed_cases(documented[0].event)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deployment_id = event["DeploymentId"]
    execution_id = event["LifecycleEventHookExecutionId"]
    function_name = os.environ["TARGET_FUNCTION"]
    version = os.environ["TARGET_VERSION"]
    directory = Path(os.environ.get("EVENTS_DIR") or BUNDLED_EVENTS)
    try:
        version = target_version(deployment_id, version)
        verdicts = checks.run(cases(directory), lambda e: invoke_version(function_name, version, e))
        status = checks.hook_status(verdicts)
        failures = {v.case: list(v.problems) for v in verdicts if not v.ok}
    except Exception as error:
        # A hook that cannot check must not let the version through.
        LOGGER.exception("pre-traffic check could not run")
        status, failures = "Failed", {"hook": [f"{type(error).__name__}: {error}"]}
    _client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=execution_id, status=status
    )
    decision = {
        "status": status,
        "deploymentId": deployment_id,
        "function": function_name,
        "version": version,
        "failures": failures,
    }
    LOGGER.info(json.dumps(decision))
    return decision
