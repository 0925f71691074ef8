"""Undoing a succeeded Lambda deployment: the alias back to the version it replaced.

After a CodeDeploy Lambda deployment has succeeded, nothing rolls it back by itself
(CodeDeploy User Guide, "Redeploy and roll back a deployment with CodeDeploy"). The kit's
answer is a new deployment of the same group whose AppSpec swaps the bad one's versions:
``CurrentVersion`` = the bad version, ``TargetVersion`` = the version it replaced (CodeDeploy
User Guide, "AppSpec 'resources' section" for AWS Lambda), all at once
(``CodeDeployDefault.LambdaAllAtOnce``), with automatic rollback off (a rollback of the
undo would put the bad version back) and the group's alarms overridden (the triggering
alarm is still in ALARM), as the EC2 redeploy does. The kit's marker in the description
keeps it from ever being rolled back itself.

GetDeployment never returns the AppSpec's ``content`` (always null; read it with
GetApplicationRevision by the revision's ``sha256``: CodeDeploy API Reference,
GetDeployment). BatchGetDeployments returns the same DeploymentInfo and its page is silent,
so the kit assumes the worse, null there too: ``missing_content`` says when the workflow
must ask GetApplicationRevision, ``with_content`` puts the answer back.

Plain functions over deployment data; the decision rules (bake window, budget, dry run,
idempotency) are ``rollback.decision``'s, which calls ``undo_shift`` and ``revision``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # decision imports this module; the type is only for annotations
    from rollback.decision import Deployment

LAMBDA_FUNCTION_TYPE = "AWS::Lambda::Function"
ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"


@dataclass(frozen=True)
class AliasShift:
    """One AppSpec resource: move ``alias`` of ``function`` from ``current`` to ``target``."""

    name: str
    function: str
    alias: str
    current: str
    target: str


def alias_shift(revision: Mapping[str, Any]) -> AliasShift | None:
    """The alias move a Lambda deployment's revision makes; None for any other revision."""
    if revision.get("revisionType") != "AppSpecContent":
        return None
    try:
        spec = json.loads(revision["appSpecContent"]["content"])
        ((name, resource),) = spec["Resources"][0].items()
        props = resource["Properties"]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if resource.get("Type") != LAMBDA_FUNCTION_TYPE:
        return None
    return AliasShift(
        name=str(name),
        function=str(props["Name"]),
        alias=str(props["Alias"]),
        current=str(props["CurrentVersion"]),
        target=str(props["TargetVersion"]),
    )


def undo_shift(deployment: Deployment) -> AliasShift | None:
    """The shift that undoes ``deployment``: only a succeeded release, never a rollback."""
    if deployment.is_rollback or deployment.status != "Succeeded":
        return None
    shift = alias_shift(deployment.revision)
    if shift is None or shift.current == shift.target:
        return None
    return AliasShift(shift.name, shift.function, shift.alias, shift.target, shift.current)


def missing_content(revision: Mapping[str, Any]) -> bool:
    """An AppSpecContent revision read back without its content, but with its sha256."""
    if revision.get("revisionType") != "AppSpecContent":
        return False
    spec = revision.get("appSpecContent") or {}
    return not spec.get("content") and bool(spec.get("sha256"))


def with_content(revision: Mapping[str, Any], content: str) -> dict[str, Any]:
    """``revision`` with the AppSpec content GetApplicationRevision returned."""
    spec = dict(revision.get("appSpecContent") or {})
    spec["content"] = content
    return {**revision, "appSpecContent": spec}


def appspec(shift: AliasShift) -> str:
    """The AppSpec content for ``shift``, without hooks: the old version already served."""
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    shift.name: {
                        "Type": LAMBDA_FUNCTION_TYPE,
                        "Properties": {
                            "Name": shift.function,
                            "Alias": shift.alias,
                            "CurrentVersion": shift.current,
                            "TargetVersion": shift.target,
                        },
                    }
                }
            ],
        }
    )


def revision(shift: AliasShift) -> dict[str, Any]:
    """The CreateDeployment ``revision`` that makes ``shift`` (an AppSpecContent string)."""
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(shift)}}


def facts(shift: AliasShift) -> dict[str, str]:
    """What the page and the log say about the undo: function, alias, from and to."""
    return {
        "function": shift.function,
        "alias": shift.alias,
        "fromVersion": shift.current,
        "toVersion": shift.target,
    }
