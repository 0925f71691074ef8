"""Fills the gaps in moto 5.2.5 that CodeDeploy deployments on the Lambda compute platform hit.

Sibling of ``tests/support/codedeploy_gaps.py`` (the EC2/in-place one), for the order-api's
``live`` alias releases. moto stores a Lambda deployment like any other (it accepts an
AppSpec revision) but has no lifecycle hooks, no ``PutLifecycleEventHookExecutionStatus``
and no traffic shifting, and its Lambda ``Invoke`` needs Docker. This one module adds, on
top of moto and nothing else:

* ``PutLifecycleEventHookExecutionStatus`` (CodeDeploy API Reference,
  PutLifecycleEventHookExecutionStatus): only ``Succeeded`` and ``Failed`` are accepted
  (else ``InvalidLifecycleEventHookExecutionStatusException``); the execution id must be one
  CodeDeploy issued for that deployment (else
  ``InvalidLifecycleEventHookExecutionIdException``) and can be answered once (else
  ``LifecycleEventAlreadyCompletedException``). The response is
  ``{"lifecycleEventHookExecutionId": id}``. ``Failed`` fails the deployment before any
  traffic moves, so the alias stays on ``CurrentVersion`` (CodeDeploy User Guide, "AppSpec
  'hooks' section for an AWS Lambda deployment": BeforeAllowTraffic runs before traffic
  shifts to the new version).
* ``start_deployment``: what CodeDeploy does when the alias's update starts a deployment:
  an ``InProgress`` deployment whose revision is the Lambda AppSpec (``version 0.0``,
  ``Resources: [{<name>: {Type: AWS::Lambda::Function, Properties: {Name, Alias,
  CurrentVersion, TargetVersion}}}]``, CodeDeploy User Guide, "AppSpec 'resources' section
  for AWS Lambda deployments") and one ``BeforeAllowTraffic`` hook execution id to pass to
  the hook function.
* ``finish_deployment``: the end of traffic shifting. ``Succeeded`` points the alias at
  ``TargetVersion``; ``Stopped`` or ``Failed`` leaves it on ``CurrentVersion`` (a rollback of
  a Lambda deployment shifts traffic back to the original version). The canary's minutes
  are not modelled; tests pass the outcome.
* the AppSpec content read back: GetDeployment returns an AppSpecContent revision with
  ``content`` null and its ``sha256`` (CodeDeploy API Reference, GetDeployment: "always
  null"; read it with GetApplicationRevision). BatchGetDeployments returns the same
  DeploymentInfo and its page is silent, so it is modelled the worse way, null too.
  ``GetApplicationRevision`` (which moto lacks) returns the content for an application's
  ``sha256``, else ``RevisionDoesNotExistException``.
* Lambda ``Invoke`` without Docker: ``register_version`` binds a Python callable to a
  function version; an invocation of that version (or of an alias pointing at it) runs the
  callable on the JSON payload. An exception becomes what Lambda returns for an unhandled
  error: status 200, header ``X-Amz-Function-Error: Unhandled`` and a payload with
  ``errorMessage``, ``errorType`` and ``stackTrace`` (Lambda API Reference, Invoke).

Usage::

    with mock_aws(), codedeploy_lambda_gaps.install():
        codedeploy_lambda_gaps.register_version("order-api", "2", bad_handler)
        deployment_id, hook_id = codedeploy_lambda_gaps.start_deployment(...)
        hook.lambda_handler({"DeploymentId": deployment_id,
                             "LifecycleEventHookExecutionId": hook_id}, context)
        codedeploy_lambda_gaps.hook_status(deployment_id)   # "Failed"
"""

from __future__ import annotations

import hashlib
import json
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from unittest import mock
from urllib.parse import unquote

from moto.awslambda import responses as lambda_responses
from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from tests.support import codedeploy_gaps

DEFAULT_REGION = codedeploy_gaps.DEFAULT_REGION
BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"
HOOK_STATUSES = ("Succeeded", "Failed")

Handler = Callable[[Any, Any], Any]


class InvalidLifecycleEventHookExecutionIdException(CodeDeployException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidLifecycleEventHookExecutionIdException", message)


class InvalidLifecycleEventHookExecutionStatusException(CodeDeployException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidLifecycleEventHookExecutionStatusException", message)


class RevisionDoesNotExistException(CodeDeployException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("RevisionDoesNotExistException", message)


class LifecycleEventAlreadyCompletedException(CodeDeployException):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("LifecycleEventAlreadyCompletedException", message)


@dataclass
class _Release:
    function_name: str
    alias: str
    current_version: str
    target_version: str
    hook_execution_id: str
    hook_status: str = "Pending"


# deployment id -> what that Lambda deployment shifts; (function, version) -> callable.
_RELEASES: dict[str, _Release] = {}
_VERSIONS: dict[tuple[str, str], Handler] = {}

_original_lambda_invoke = LambdaBackend.invoke


def lambda_appspec(
    function_name: str, alias: str, current_version: str, target_version: str
) -> str:
    """The AppSpec content of a Lambda deployment that moves ``alias`` between two versions."""
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    function_name: {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Name": function_name,
                            "Alias": alias,
                            "CurrentVersion": current_version,
                            "TargetVersion": target_version,
                        },
                    }
                }
            ],
        }
    )


def _put_hook_status(self: Any) -> ActionResult:
    deployment_id = self._get_param("deploymentId")
    execution_id = self._get_param("lifecycleEventHookExecutionId")
    status = self._get_param("status")
    deployment = self.codedeploy_backend.get_deployment(deployment_id)
    if status not in HOOK_STATUSES:
        raise InvalidLifecycleEventHookExecutionStatusException(
            f"status {status!r}: only Succeeded and Failed can be passed"
        )
    release = _RELEASES.get(deployment_id)
    if release is None or release.hook_execution_id != execution_id:
        raise InvalidLifecycleEventHookExecutionIdException(
            f"{execution_id!r} is not a lifecycle event hook execution of {deployment_id}"
        )
    if release.hook_status != "Pending":
        raise LifecycleEventAlreadyCompletedException(
            f"lifecycle event {execution_id} already ended {release.hook_status}"
        )
    release.hook_status = status
    if status == "Failed":
        # No traffic has moved yet: the alias keeps pointing at CurrentVersion.
        deployment.status = "Failed"
        deployment.complete_time = utcnow()
    return ActionResult({"lifecycleEventHookExecutionId": execution_id})


def sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def _without_content(inner: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Wrap moto's DeploymentInfo rendering: an AppSpec's content reads back null."""

    def render(deployment: Any) -> dict[str, Any]:
        info = inner(deployment)
        revision = info.get("revision") or {}
        content = (revision.get("appSpecContent") or {}).get("content")
        if revision.get("revisionType") == "AppSpecContent" and content:
            info["revision"] = {
                **revision,
                "appSpecContent": {"content": None, "sha256": sha256(content)},
            }
        return info

    return render


def appspec_of(codedeploy: Any, deployment_id: str) -> dict[str, Any]:
    """A deployment's AppSpec read as AWS allows: GetDeployment for the sha256, then
    GetApplicationRevision for the content (through ``codedeploy``, a boto3 client)."""
    info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    revision = codedeploy.get_application_revision(
        applicationName=info["applicationName"],
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"sha256": info["revision"]["appSpecContent"]["sha256"]},
        },
    )["revision"]
    spec: dict[str, Any] = json.loads(revision["appSpecContent"]["content"])
    return spec


def _get_application_revision(self: Any) -> ActionResult:
    application = self._get_param("applicationName")
    wanted = (self._get_param("revision") or {}).get("appSpecContent", {}).get("sha256")
    for deployment in self.codedeploy_backend.deployments.values():
        revision = deployment.revision or {}
        content = (revision.get("appSpecContent") or {}).get("content")
        if deployment.application_name == application and content and sha256(content) == wanted:
            return ActionResult(
                {
                    "applicationName": application,
                    "revision": {
                        "revisionType": "AppSpecContent",
                        "appSpecContent": {"content": content, "sha256": wanted},
                    },
                    "revisionInfo": {},
                }
            )
    raise RevisionDoesNotExistException(f"no revision with sha256 {wanted} in {application}")


def _invoke(
    self: LambdaBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    fn = self.get_function(function_name, qualifier)
    handler = _VERSIONS.get((fn.function_name, str(fn.version)))
    if handler is None:
        return _original_lambda_invoke(
            self, function_name, qualifier, body, headers, response_headers
        )
    event = json.loads(body) if body else {}
    context = _Context(fn.function_name, str(fn.version))
    try:
        result = handler(event, context)
        payload = json.dumps(result).encode()
    except Exception as error:  # an unhandled error, as Lambda reports it
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = json.dumps(
            {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
        ).encode()
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _invoke_response(self: Any) -> tuple[int, dict[str, str], str | bytes]:
    # moto reads the qualifier as "qualifier" while boto3 sends "Qualifier" in the query
    # string, so every invocation of a version would hit $LATEST. RequestResponse only.
    response_headers: dict[str, str] = {}
    function_name = unquote(self.path.rsplit("/", 2)[-2])
    qualifier = (self.querystring.get("Qualifier") or [None])[0] or self._get_param("qualifier")
    payload = self.backend.invoke(
        function_name, qualifier, self.body, self.headers, response_headers
    )
    response_headers["content-type"] = "application/json"
    return 200, response_headers, payload or b""


@dataclass
class _Context:
    function_name: str
    function_version: str
    aws_request_id: str = ""
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@contextmanager
def install() -> Iterator[None]:
    """Patch moto with the behaviour above (and ``codedeploy_gaps``'), for the block's length."""
    _RELEASES.clear()
    _VERSIONS.clear()
    with ExitStack() as stack:
        stack.enter_context(codedeploy_gaps.install())
        stack.enter_context(
            mock.patch.object(
                cd_responses, "_deployment_info", _without_content(cd_responses._deployment_info)
            )
        )
        stack.enter_context(
            mock.patch.object(
                cd_responses.CodeDeployResponse,
                "get_application_revision",
                _get_application_revision,
                create=True,
            )
        )
        stack.enter_context(
            mock.patch.object(
                cd_responses.CodeDeployResponse,
                "put_lifecycle_event_hook_execution_status",
                _put_hook_status,
                create=True,
            )
        )
        stack.enter_context(mock.patch.object(LambdaBackend, "invoke", _invoke))
        stack.enter_context(
            mock.patch.object(lambda_responses.LambdaResponse, "invoke", _invoke_response)
        )
        yield
    _RELEASES.clear()
    _VERSIONS.clear()


def register_version(function_name: str, version: str, handler: Handler) -> None:
    """Make invocations of ``function_name`` version ``version`` run ``handler(event, ctx)``."""
    _VERSIONS[(function_name, str(version))] = handler


def _lambda_backend(account_id: str, region_name: str) -> LambdaBackend:
    found: LambdaBackend = lambda_backends[account_id][region_name]
    return found


def start_deployment(
    application_name: str,
    group_name: str,
    *,
    function_name: str,
    alias: str,
    current_version: str,
    target_version: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region_name: str = DEFAULT_REGION,
) -> tuple[str, str]:
    """Start the deployment an alias update makes; returns (deployment id, hook execution id)."""
    store = codedeploy_gaps.backend(account_id, region_name)
    content = lambda_appspec(function_name, alias, current_version, target_version)
    deployment_id = store.create_deployment(
        application_name,
        group_name,
        {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
    )
    return deployment_id, track(deployment_id, account_id=account_id, region_name=region_name)


def track(
    deployment_id: str,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region_name: str = DEFAULT_REGION,
) -> str:
    """Treat an existing deployment (e.g. one a tool created) as a Lambda one: read its
    AppSpec, mark it InProgress and issue its BeforeAllowTraffic execution id."""
    deployment = codedeploy_gaps.get(deployment_id, account_id=account_id, region_name=region_name)
    spec = json.loads(deployment.revision["appSpecContent"]["content"])
    ((_name, resource),) = spec["Resources"][0].items()
    props = resource["Properties"]
    execution_id = str(uuid.uuid4())
    _RELEASES[deployment_id] = _Release(
        function_name=props["Name"],
        alias=props["Alias"],
        current_version=str(props["CurrentVersion"]),
        target_version=str(props["TargetVersion"]),
        hook_execution_id=execution_id,
    )
    codedeploy_gaps.set_status(
        deployment_id, "InProgress", account_id=account_id, region_name=region_name
    )
    return execution_id


def hook_status(deployment_id: str) -> str:
    """``Pending`` until the hook reports, then ``Succeeded`` or ``Failed``."""
    return _RELEASES[deployment_id].hook_status


def finish_deployment(
    deployment_id: str,
    status: str = "Succeeded",
    *,
    at: datetime | None = None,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region_name: str = DEFAULT_REGION,
) -> None:
    """End traffic shifting at ``at`` (default now): Succeeded moves the alias to
    TargetVersion, else it stays."""
    release = _RELEASES[deployment_id]
    if status == "Succeeded" and release.hook_status != "Succeeded":
        raise ValueError(f"hook of {deployment_id} is {release.hook_status}: cannot succeed")
    codedeploy_gaps.complete_deployment(
        deployment_id, status, at=at, account_id=account_id, region_name=region_name
    )
    if status == "Succeeded":
        _lambda_backend(account_id, region_name).update_alias(
            release.alias, release.function_name, release.target_version, "", ""
        )
