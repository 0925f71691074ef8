"""Fills the CodeDeploy gaps in moto 5.2.5 that the rollback kit depends on.

moto's CodeDeploy keeps every deployment in ``Created`` forever, has no ``StopDeployment``,
returns empty ``rollbackInfo`` and ``previousRevision``, and lets a group run any number of
deployments at once. The rollback Lambda's tests and the offline drill need all four to
behave as documented, so this one module adds them on top of moto (and nothing else):

* ``StopDeployment`` (CodeDeploy API Reference, StopDeployment): only a running deployment
  can be stopped, otherwise ``DeploymentAlreadyCompletedException``; the deployment ends
  ``Stopped``; with ``autoRollbackEnabled`` CodeDeploy redeploys the last known good revision
  as a new deployment whose ``creator`` is ``codeDeployRollback`` (API Reference,
  DeploymentInfo), and ``rollbackInfo`` links the two (API Reference, RollbackInfo:
  ``rollbackDeploymentId`` on the stopped one, ``rollbackTriggeringDeploymentId`` on the new
  one). The response is ``{"status": "Succeeded" | "Pending", "statusMessage": ...}``.
* One active deployment per group: ``CreateDeployment`` raises
  ``DeploymentLimitExceededException`` ("The Deployment Group '<g>' already has an active
  Deployment '<id>'", the message CodeDeploy returns) while a deployment of the group is
  Created, Queued, InProgress, Baking or Ready (API Reference, CreateDeployment errors and
  DeploymentInfo status values).
* A description longer than 256 characters is refused with ``DescriptionTooLongException``
  (CodeDeploy User Guide, "Quotas": maximum characters in a deployment description; API
  Reference, CreateDeployment errors).
* ``previousRevision`` (API Reference, DeploymentInfo): the revision the group had
  successfully deployed before this deployment was created.
* Automatic rollback of a failed deployment (User Guide, "Redeploy and roll back a
  deployment with CodeDeploy"; API Reference, CreateDeployment ``autoRollbackConfiguration``):
  when a deployment ends ``Failed`` and its own auto-rollback setting (or, without one, the
  group's) is enabled for ``DEPLOYMENT_FAILURE``, CodeDeploy redeploys the group's last
  *successful* revision as a ``codeDeployRollback`` deployment. After a bad release has
  succeeded, that revision is the bad release; the kit's tests depend on this being modelled.
* Deployments CodeDeploy creates for Auto Scaling launches (``creator`` ``autoscaling``,
  API Reference, DeploymentInfo): ``launch_deployment`` adds one, and it counts as active for
  the one-active-deployment rule like any other.
* Status transitions, which real CodeDeploy drives from the agents: helpers below move a
  deployment to a running or final status with the times a scenario needs.

Usage (tests and ``drill``)::

    with mock_aws(), codedeploy_gaps.install():
        client.create_deployment(...)                       # real boto3 calls
        codedeploy_gaps.complete_deployment(dep_id, "Succeeded", at=when)
        codedeploy_gaps.set_create_time(dep_id, when - timedelta(minutes=10))
        codedeploy_gaps.set_status(dep_id, "InProgress")

moto's backend is not thread-safe: the patched create, stop, list and batch-get all run
under one lock, so tests may invoke the handler from several threads at once.

The patches live only inside ``install()``; the helpers work on moto's in-memory backend of
its default account in ``us-east-1``, the one account and region the tests use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from moto.codedeploy import responses as cd_responses
from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import (
    CodeDeployBackend,
    DeploymentInfo,
    codedeploy_backends,
)
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

DEFAULT_REGION = "us-east-1"

# DeploymentInfo.status values (CodeDeploy API Reference, DeploymentInfo).
RUNNING_STATUSES = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
FINAL_STATUSES = frozenset({"Succeeded", "Failed", "Stopped"})
ROLLBACK_CREATOR = "codeDeployRollback"
# The creators of deployments Auto Scaling causes (API Reference, DeploymentCreator).
LAUNCH_CREATORS = ("autoscaling", "CodeDeployAutoUpdate", "autoscalingTermination")
MAX_DESCRIPTION = 256

# Attribute names this module sets on moto's DeploymentInfo objects.
_ROLLBACK_INFO = "_gaps_rollback_info"
_PREVIOUS_REVISION = "_gaps_previous_revision"

# moto answers requests from several threads when a test drives concurrent invocations; the
# "one active deployment" check and the insert must be atomic, as they are in CodeDeploy.
_LOCK = threading.RLock()

_original_create_deployment = CodeDeployBackend.create_deployment
_original_list_deployments = CodeDeployBackend.list_deployments
_original_batch_get_deployments = CodeDeployBackend.batch_get_deployments
_original_deployment_info = cd_responses._deployment_info


class CodeDeployError(CodeDeployException):
    """A CodeDeploy error answer (HTTP 400) whose error code is the class's name, as the
    CodeDeploy API Reference lists each operation's errors."""

    code = 400
    default_message = ""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(type(self).__name__, message or self.default_message)


class DeploymentLimitExceededException(CodeDeployError):
    pass


class DescriptionTooLongException(CodeDeployError):
    pass


class DeploymentAlreadyCompletedException(CodeDeployError):
    default_message = "The deployment is already complete."


def _naive_utc(at: datetime) -> datetime:
    """moto stores naive UTC datetimes; accept aware ones from callers and convert."""
    if at.tzinfo is None:
        return at
    return at.astimezone(UTC).replace(tzinfo=None)


def _group_deployments(
    backend: CodeDeployBackend, application_name: str, group_name: str
) -> list[DeploymentInfo]:
    return [
        d
        for d in backend.deployments.values()
        if d.application_name == application_name and d.deployment_group_name == group_name
    ]


def _last_good(
    candidates: list[DeploymentInfo], *, before: datetime | None = None
) -> DeploymentInfo | None:
    good = [
        d
        for d in candidates
        if d.status == "Succeeded" and (before is None or d.create_time < before)
    ]
    return max(good, key=lambda d: d.create_time, default=None)


def _create_deployment(self: CodeDeployBackend, *args: Any, **kwargs: Any) -> str:
    application_name: str = kwargs.get("application_name", args[0] if args else "")
    group_name: str = kwargs.get("deployment_group_name", args[1] if len(args) > 1 else "")
    description = kwargs.get("description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise DescriptionTooLongException(
            f"The description is {len(description)} characters; at most {MAX_DESCRIPTION}"
        )
    with _LOCK:
        siblings = _group_deployments(self, application_name, group_name)
        active = [d for d in siblings if d.status in RUNNING_STATUSES]
        if active:
            raise DeploymentLimitExceededException(
                f"The Deployment Group '{group_name}' already has an active Deployment "
                f"'{active[0].deployment_id}'"
            )
        previous = _last_good(siblings)
        deployment_id: str = _original_create_deployment(self, *args, **kwargs)
        setattr(
            self.deployments[deployment_id],
            _PREVIOUS_REVISION,
            dict(previous.revision) if previous else {},
        )
        return deployment_id


def _stop_deployment(
    self: CodeDeployBackend, deployment_id: str, auto_rollback_enabled: bool
) -> dict[str, str]:
    with _LOCK:
        stopped = self.get_deployment(deployment_id)
        if stopped.status not in RUNNING_STATUSES:
            raise DeploymentAlreadyCompletedException()
        now = utcnow()
        stopped.status = "Stopped"
        stopped.complete_time = now
        if not auto_rollback_enabled:
            return {"status": "Succeeded", "statusMessage": "Deployment stopped."}
        siblings = _group_deployments(self, stopped.application_name, stopped.deployment_group_name)
        good = _last_good(siblings, before=stopped.create_time)
        if good is None:
            setattr(
                stopped,
                _ROLLBACK_INFO,
                {"rollbackMessage": "No last known good revision to roll back to."},
            )
            return {"status": "Succeeded", "statusMessage": "Deployment stopped; no rollback."}
        rollback = _roll_back(self, stopped, good, why="Deployment stopped")
        return {
            "status": "Succeeded",
            "statusMessage": f"Deployment stopped; rollback {rollback.deployment_id} created.",
        }


def _new_deployment(
    backend_: CodeDeployBackend,
    like: DeploymentInfo,
    revision: dict[str, Any],
    creator: str,
    description: str | None = None,
) -> DeploymentInfo:
    """A deployment CodeDeploy creates by itself, in the group of ``like``, stored at once."""
    created = DeploymentInfo(
        like.application,
        like.deployment_group,
        dict(revision),
        like.deployment_config_name,
        description,
        like.ignore_application_stop_failures,
        like.target_instances,
        like.auto_rollback_configuration,
        like.update_outdated_instances_only,
        like.file_exists_behavior,
        None,
        creator,
    )
    backend_.deployments[created.deployment_id] = created
    return created


def _roll_back(
    backend_: CodeDeployBackend, undone: DeploymentInfo, good: DeploymentInfo, *, why: str
) -> DeploymentInfo:
    """CodeDeploy's rollback of ``undone`` to ``good``'s revision, linked both ways."""
    rollback = _new_deployment(backend_, undone, dict(good.revision), ROLLBACK_CREATOR)
    setattr(rollback, _PREVIOUS_REVISION, dict(good.revision))
    setattr(rollback, _ROLLBACK_INFO, {"rollbackTriggeringDeploymentId": undone.deployment_id})
    setattr(
        undone,
        _ROLLBACK_INFO,
        {
            "rollbackDeploymentId": rollback.deployment_id,
            "rollbackMessage": f"{why}; rolling back to the revision of {good.deployment_id}.",
        },
    )
    return rollback


def _rolls_back_on_failure(deployment: DeploymentInfo) -> bool:
    """The deployment's own auto-rollback setting, else its group's (API Reference,
    CreateDeployment: the deployment's setting is used instead of the group's)."""
    own = deployment.auto_rollback_configuration
    setting = own if own else deployment.deployment_group.auto_rollback_configuration
    if not setting or not setting.get("enabled"):
        return False
    return "DEPLOYMENT_FAILURE" in (setting.get("events") or [])


def _list_deployments(self: CodeDeployBackend, *args: Any, **kwargs: Any) -> list[str]:
    with _LOCK:
        found: list[str] = _original_list_deployments(self, *args, **kwargs)
        return found


def _batch_get_deployments(self: CodeDeployBackend, *args: Any, **kwargs: Any) -> Any:
    with _LOCK:
        return _original_batch_get_deployments(self, *args, **kwargs)


def _stop_deployment_response(self: Any) -> ActionResult:
    result = self.codedeploy_backend.stop_deployment(
        deployment_id=self._get_param("deploymentId"),
        auto_rollback_enabled=bool(self._get_bool_param("autoRollbackEnabled", False)),
    )
    return ActionResult(result)


def _deployment_info(deployment: DeploymentInfo) -> dict[str, Any]:
    info: dict[str, Any] = _original_deployment_info(deployment)
    info["rollbackInfo"] = dict(getattr(deployment, _ROLLBACK_INFO, {}))
    if not info.get("previousRevision"):
        info["previousRevision"] = dict(getattr(deployment, _PREVIOUS_REVISION, {}))
    return info


@contextmanager
def install() -> Iterator[None]:
    """Patch moto's CodeDeploy with the documented behaviour above, for the block's length."""
    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(CodeDeployBackend, "create_deployment", _create_deployment)
        )
        stack.enter_context(
            mock.patch.object(CodeDeployBackend, "stop_deployment", _stop_deployment, create=True)
        )
        stack.enter_context(
            mock.patch.object(
                cd_responses.CodeDeployResponse,
                "stop_deployment",
                _stop_deployment_response,
                create=True,
            )
        )
        for name, patched in (
            ("list_deployments", _list_deployments),
            ("batch_get_deployments", _batch_get_deployments),
        ):
            stack.enter_context(mock.patch.object(CodeDeployBackend, name, patched))
        stack.enter_context(mock.patch.object(cd_responses, "_deployment_info", _deployment_info))
        yield


def backend() -> CodeDeployBackend:
    """moto's CodeDeploy backend of the default account and region (state of the current
    mock): the gap-fillers serve the one account the tests use."""
    found: CodeDeployBackend = codedeploy_backends[DEFAULT_ACCOUNT_ID][DEFAULT_REGION]
    return found


def get(deployment_id: str) -> DeploymentInfo:
    """The stored deployment; raises moto's DeploymentDoesNotExistException if unknown."""
    return backend().get_deployment(deployment_id)


def set_status(deployment_id: str, status: str, *, at: datetime | None = None) -> None:
    """Move a deployment to a running status (Queued, InProgress, Baking, Ready, Created).

    ``at`` is the start time recorded for InProgress and later (default: now).
    """
    if status not in RUNNING_STATUSES:
        raise ValueError(
            f"status={status!r}: set_status takes a running status "
            f"{sorted(RUNNING_STATUSES)}; use complete_deployment for {sorted(FINAL_STATUSES)}"
        )
    with _LOCK:
        deployment = get(deployment_id)
        deployment.status = status
        deployment.complete_time = None
        if status != "Created" and deployment.start_time is None:
            deployment.start_time = _naive_utc(at) if at else utcnow()


def complete_deployment(
    deployment_id: str,
    status: str = "Succeeded",
    *,
    at: datetime | None = None,
) -> None:
    """End a deployment as Succeeded, Failed or Stopped with completeTime ``at`` (default now).

    The start time becomes the create time when none was recorded, so the deployment reads
    like one that ran from creation to ``at``. A deployment that ends Failed with automatic
    rollback on failure enabled (its own setting, else the group's) gets CodeDeploy's
    rollback to the group's last successful revision, as a new running deployment.
    """
    if status not in FINAL_STATUSES:
        raise ValueError(
            f"status={status!r}: a deployment completes as one of {sorted(FINAL_STATUSES)}"
        )
    with _LOCK:
        deployment = get(deployment_id)
        complete = _naive_utc(at) if at else utcnow()
        if complete < deployment.create_time:
            raise ValueError(
                f"at={complete.isoformat()} is before the deployment's createTime "
                f"{deployment.create_time.isoformat()}; call set_create_time first"
            )
        deployment.status = status
        deployment.start_time = deployment.start_time or deployment.create_time
        deployment.complete_time = complete
        if status == "Failed" and _rolls_back_on_failure(deployment):
            store = backend()
            siblings = _group_deployments(
                store, deployment.application_name, deployment.deployment_group_name
            )
            good = _last_good([d for d in siblings if d is not deployment])
            if good is not None:
                _roll_back(store, deployment, good, why="Deployment failed")


def set_create_time(deployment_id: str, at: datetime) -> None:
    """Backdate (or move) a deployment's createTime, which ListDeployments filters on."""
    with _LOCK:
        deployment = get(deployment_id)
        deployment.create_time = _naive_utc(at)
        if deployment.start_time is not None and deployment.start_time < deployment.create_time:
            deployment.start_time = deployment.create_time


def launch_deployment(
    application_name: str,
    group_name: str,
    *,
    creator: str = "autoscaling",
    status: str = "InProgress",
) -> str:
    """What CodeDeploy does when Auto Scaling launches an instance into the group: a
    deployment of the group's last successful revision whose ``creator`` is ``autoscaling``
    (or ``CodeDeployAutoUpdate``, ``autoscalingTermination``), left running in ``status``.
    Returns its id."""
    if creator not in LAUNCH_CREATORS:
        raise ValueError(f"creator={creator!r}: expected one of {LAUNCH_CREATORS}")
    with _LOCK:
        store = backend()
        siblings = _group_deployments(store, application_name, group_name)
        good = _last_good(siblings)
        if good is None:
            raise ValueError(f"group {group_name!r} has no successful revision to install")
        launched = _new_deployment(store, good, dict(good.revision), creator)
        setattr(launched, _PREVIOUS_REVISION, dict(good.revision))
    set_status(launched.deployment_id, status)
    return launched.deployment_id


def group_deployments(codedeploy: Any, application: str, group: str) -> list[dict[str, Any]]:
    """Every deployment of ``group`` as a client's BatchGetDeployments describes it, oldest
    first (for tests and the drill, which read a group back through the API)."""
    ids = codedeploy.list_deployments(applicationName=application, deploymentGroupName=group)[
        "deployments"
    ]
    infos: list[dict[str, Any]] = codedeploy.batch_get_deployments(deploymentIds=ids)[
        "deploymentsInfo"
    ]
    return sorted(infos, key=lambda d: d["createTime"])
