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
* ``shift_traffic``: a step of the canary or linear shift, the alias weighted between
  ``CurrentVersion`` and ``TargetVersion`` (``RoutingConfig.AdditionalVersionWeights``).
* ``finish_deployment``: the end of traffic shifting. ``Succeeded`` points the alias at
  ``TargetVersion`` alone; ``Stopped`` or ``Failed`` leaves it where it was. The canary's
  minutes are not modelled; tests pass the outcome.
* ``StopDeployment`` of a Lambda deployment (CodeDeploy API Reference, StopDeployment;
  CodeDeploy User Guide, "Stop a deployment with CodeDeploy" and "Redeploy and roll back a
  deployment with CodeDeploy"): only a running deployment can be stopped (else
  ``DeploymentAlreadyCompletedException``); it ends ``Stopped``, and with
  ``autoRollbackEnabled`` CodeDeploy creates a rollback deployment (``creator``
  ``codeDeployRollback``, ``rollbackInfo`` linking the two) that shifts the alias back to
  ``CurrentVersion`` when it finishes (``finish_deployment`` of the rollback: AWS publishes
  no duration, so it stays ``InProgress`` until a test ends it). The answer may be
  ``Pending`` (``stop_answers("Pending")``): the deployment then keeps running until
  ``complete_stop``. What AWS records as the rollback's revision is not documented; this
  module records an AppSpec moving the alias from ``TargetVersion`` back to
  ``CurrentVersion`` (the kit never reads a rollback's revision).
* the AppSpec content read back: GetDeployment returns an AppSpecContent revision with
  ``content`` null and its ``sha256`` (CodeDeploy API Reference, GetDeployment: "always
  null"; read it with GetApplicationRevision). BatchGetDeployments returns the same
  DeploymentInfo and its page is silent, so it is modelled the worse way, null too.
  ``GetApplicationRevision`` (which moto lacks) returns the content for an application's
  ``sha256``, else ``RevisionDoesNotExistException``.
* Lambda ``Invoke`` without Docker: ``register_version`` (from
  ``tests.support.lambda_invoke_gaps``, installed with this module).

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
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack
from unittest import mock

from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.codedeploy import responses as cd_responses
from moto.codedeploy.models import CodeDeployBackend
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from tests.support import codedeploy_gaps, lambda_invoke_gaps

# Re-exported: tests bind version callables through this module.
from tests.support.lambda_invoke_gaps import register_version as register_version

DEFAULT_REGION = codedeploy_gaps.DEFAULT_REGION
HOOK_STATUSES = ("Succeeded", "Failed")


class InvalidLifecycleEventHookExecutionIdException(codedeploy_gaps.CodeDeployError):
    pass


class InvalidLifecycleEventHookExecutionStatusException(codedeploy_gaps.CodeDeployError):
    pass


class RevisionDoesNotExistException(codedeploy_gaps.CodeDeployError):
    pass


class LifecycleEventAlreadyCompletedException(codedeploy_gaps.CodeDeployError):
    pass


@dataclass
class _Release:
    function_name: str
    alias: str
    current_version: str
    target_version: str
    hook_execution_id: str
    hook_status: str = "Pending"


# deployment id -> what that Lambda deployment shifts.
_RELEASES: dict[str, _Release] = {}
# How StopDeployment answers ("Succeeded" or "Pending"); deployment id -> autoRollbackEnabled
# of a stop that answered Pending and has not landed yet.
_STOP_ANSWER = ["Succeeded"]
_PENDING_STOPS: dict[str, bool] = {}
STOP_ANSWERS = ("Succeeded", "Pending")


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


# Where each Lambda revision type keeps its AppSpec (CodeDeploy API Reference,
# RevisionLocation: AppSpecContent, and the deprecated String with a RawString).
CONTENT_KEYS = {"AppSpecContent": "appSpecContent", "String": "string"}


def _content_of(revision: dict[str, Any]) -> str | None:
    key = CONTENT_KEYS.get(str(revision.get("revisionType")))
    content = (revision.get(key) or {}).get("content") if key else None
    return content if isinstance(content, str) and content else None


def _without_content(inner: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """Wrap moto's DeploymentInfo rendering: an AppSpec's content reads back null."""

    def render(deployment: Any) -> dict[str, Any]:
        info = inner(deployment)
        revision = info.get("revision") or {}
        content = _content_of(revision)
        if content:
            key = CONTENT_KEYS[revision["revisionType"]]
            info["revision"] = {**revision, key: {"content": None, "sha256": sha256(content)}}
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
    asked = self._get_param("revision") or {}
    kind = str(asked.get("revisionType"))
    key = CONTENT_KEYS.get(kind, "appSpecContent")
    wanted = (asked.get(key) or {}).get("sha256")
    for deployment in self.codedeploy_backend.deployments.values():
        content = _content_of(deployment.revision or {})
        if deployment.application_name == application and content and sha256(content) == wanted:
            return ActionResult(
                {
                    "applicationName": application,
                    "revision": {"revisionType": kind, key: {"content": content, "sha256": wanted}},
                    "revisionInfo": {},
                }
            )
    raise RevisionDoesNotExistException(f"no revision with sha256 {wanted} in {application}")


def _stop_deployment(self: Any, deployment_id: str, auto_rollback_enabled: bool) -> dict[str, str]:
    """StopDeployment: a Lambda deployment as documented above, any other as
    ``codedeploy_gaps`` models it."""
    if deployment_id not in _RELEASES:
        return codedeploy_gaps._stop_deployment(self, deployment_id, auto_rollback_enabled)
    with codedeploy_gaps._LOCK:
        deployment = self.get_deployment(deployment_id)
        if deployment.status not in codedeploy_gaps.RUNNING_STATUSES:
            raise codedeploy_gaps.DeploymentAlreadyCompletedException()
        if deployment_id in _PENDING_STOPS or _STOP_ANSWER[0] == "Pending":
            _PENDING_STOPS.setdefault(deployment_id, auto_rollback_enabled)
            return {"status": "Pending", "statusMessage": "The stop is pending."}
        rollback = _land_stop(self, deployment, auto_rollback_enabled)
    message = f"Deployment stopped; rollback {rollback} created." if rollback else "Stopped."
    return {"status": "Succeeded", "statusMessage": message}


def _land_stop(backend_: Any, deployment: Any, auto_rollback_enabled: bool) -> str | None:
    """The stop takes effect: Stopped, and the rollback deployment when asked for."""
    deployment.status = "Stopped"
    deployment.complete_time = utcnow()
    if not auto_rollback_enabled:
        return None
    release = _RELEASES[deployment.deployment_id]
    content = lambda_appspec(
        release.function_name, release.alias, release.target_version, release.current_version
    )
    rollback = codedeploy_gaps._new_deployment(
        backend_,
        deployment,
        {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
        codedeploy_gaps.ROLLBACK_CREATOR,
    )
    rollback.status = "InProgress"
    rollback.start_time = utcnow()
    setattr(
        rollback,
        codedeploy_gaps._ROLLBACK_INFO,
        {"rollbackTriggeringDeploymentId": deployment.deployment_id},
    )
    setattr(
        deployment,
        codedeploy_gaps._ROLLBACK_INFO,
        {
            "rollbackDeploymentId": rollback.deployment_id,
            "rollbackMessage": "Deployment stopped; shifting the alias back.",
        },
    )
    # A rollback runs no hooks: it returns to the version that served before.
    _RELEASES[rollback.deployment_id] = _Release(
        function_name=release.function_name,
        alias=release.alias,
        current_version=release.target_version,
        target_version=release.current_version,
        hook_execution_id="",
        hook_status="Succeeded",
    )
    return str(rollback.deployment_id)


def stop_answers(answer: str) -> None:
    """Make StopDeployment of a Lambda deployment answer ``answer`` from now on."""
    if answer not in STOP_ANSWERS:
        raise ValueError(f"answer={answer!r}: StopDeployment answers one of {STOP_ANSWERS}")
    _STOP_ANSWER[0] = answer


def complete_stop(deployment_id: str) -> str | None:
    """A stop that answered Pending lands; returns the rollback deployment's id, if any."""
    with codedeploy_gaps._LOCK:
        auto_rollback = _PENDING_STOPS.pop(deployment_id)
        deployment = codedeploy_gaps.get(deployment_id)
        return _land_stop(codedeploy_gaps.backend(), deployment, auto_rollback)


def rollback_of(deployment_id: str) -> str | None:
    """The id of the rollback CodeDeploy created for ``deployment_id``, if any."""
    info = getattr(
        codedeploy_gaps.get(deployment_id),
        codedeploy_gaps._ROLLBACK_INFO,
        {},
    )
    found = info.get("rollbackDeploymentId")
    return str(found) if found else None


def _reset() -> None:
    _RELEASES.clear()
    _PENDING_STOPS.clear()
    _STOP_ANSWER[0] = "Succeeded"


@contextmanager
def install() -> Iterator[None]:
    """Patch moto with the behaviour above (and ``codedeploy_gaps``'), for the block's length."""
    _reset()
    with ExitStack() as stack:
        stack.enter_context(codedeploy_gaps.install())
        stack.enter_context(
            mock.patch.object(CodeDeployBackend, "stop_deployment", _stop_deployment, create=True)
        )
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
        stack.enter_context(lambda_invoke_gaps.install())
        yield
    _reset()


def _lambda_backend() -> LambdaBackend:
    found: LambdaBackend = lambda_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION]
    return found


class Revision(TypedDict, total=False):
    """How ``start_deployment`` lays down a deployment's AppSpec, for callers to pass through.

    ``content``: the AppSpec as given (absent or None: ``lambda_appspec`` of the deployment's
    alias and versions); ``revision_type``: ``AppSpecContent`` (absent) or ``String``."""

    content: str | None
    revision_type: str


def start_deployment(
    application_name: str,
    group_name: str,
    *,
    function_name: str,
    alias: str,
    current_version: str,
    target_version: str,
    **revision: Unpack[Revision],
) -> tuple[str, str]:
    """Start the deployment an alias update makes; returns (deployment id, hook execution id).

    ``revision``: how the AppSpec is laid down (``Revision``)."""
    store = codedeploy_gaps.backend()
    content = revision.get("content")
    if content is None:
        content = lambda_appspec(function_name, alias, current_version, target_version)
    revision_type = revision.get("revision_type", "AppSpecContent")
    key = CONTENT_KEYS[revision_type]
    deployment_id = store.create_deployment(
        application_name, group_name, {"revisionType": revision_type, key: {"content": content}}
    )
    release = _Release(function_name, alias, current_version, target_version, "")
    return deployment_id, _running(deployment_id, release)


def track(deployment_id: str) -> str:
    """Treat an existing deployment (e.g. one a tool created) as a Lambda one: read its
    AppSpec, mark it InProgress and issue its BeforeAllowTraffic execution id."""
    deployment = codedeploy_gaps.get(deployment_id)
    spec = json.loads(deployment.revision["appSpecContent"]["content"])
    ((_name, resource),) = spec["Resources"][0].items()
    props = resource["Properties"]
    release = _Release(
        function_name=props["Name"],
        alias=props["Alias"],
        current_version=str(props["CurrentVersion"]),
        target_version=str(props["TargetVersion"]),
        hook_execution_id="",
    )
    return _running(deployment_id, release)


def _running(deployment_id: str, release: _Release) -> str:
    """Record ``release`` for the deployment, mark it InProgress, return its hook id."""
    release.hook_execution_id = str(uuid.uuid4())
    _RELEASES[deployment_id] = release
    codedeploy_gaps.set_status(deployment_id, "InProgress")
    return release.hook_execution_id


def hook_status(deployment_id: str) -> str:
    """``Pending`` until the hook reports, then ``Succeeded`` or ``Failed``."""
    return _RELEASES[deployment_id].hook_status


def shift_traffic(deployment_id: str, percent: float) -> None:
    """A shift step: ``percent`` of the alias's invocations go to TargetVersion."""
    release = _RELEASES[deployment_id]
    if release.hook_status != "Succeeded":
        raise ValueError(f"hook of {deployment_id} is {release.hook_status}: no traffic moves")
    weights: Any = {"AdditionalVersionWeights": {release.target_version: percent / 100}}
    # moto annotates routing_config as str but stores and returns the mapping as given.
    _lambda_backend().update_alias(
        release.alias, release.function_name, release.current_version, "", weights
    )


def finish_deployment(
    deployment_id: str,
    status: str = "Succeeded",
    *,
    at: datetime | None = None,
) -> None:
    """End traffic shifting at ``at`` (default now): Succeeded moves the alias to
    TargetVersion, else it stays."""
    release = _RELEASES[deployment_id]
    if status == "Succeeded" and release.hook_status != "Succeeded":
        raise ValueError(f"hook of {deployment_id} is {release.hook_status}: cannot succeed")
    codedeploy_gaps.complete_deployment(deployment_id, status, at=at)
    if status == "Succeeded":
        # "" clears the weights: the alias points at TargetVersion alone.
        _lambda_backend().update_alias(
            release.alias, release.function_name, release.target_version, "", ""
        )
