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

Plain functions over BatchGetDeployments data; the decision rules (bake window, budget,
dry run, idempotency) are ``rollback.decision``'s. Not yet wired into
``rollback.workflow``: the function still acts only on the EC2 group it is configured for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def rollback_request(
    application: str, group: str, shift: AliasShift, description: str
) -> dict[str, Any]:
    """CreateDeployment arguments for the undo (``description`` carries the kit's marker)."""
    return {
        "applicationName": application,
        "deploymentGroupName": group,
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": appspec(shift)},
        },
        "deploymentConfigName": ALL_AT_ONCE,
        "description": description,
        "autoRollbackConfiguration": {"enabled": False},
        "overrideAlarmConfiguration": {"enabled": False},
    }
