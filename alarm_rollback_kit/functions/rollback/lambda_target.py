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
must ask GetApplicationRevision, ``with_content`` puts the answer back. Both revision types
a Lambda deployment can have are read: ``AppSpecContent`` and the deprecated ``String``.
Anything unreadable (YAML, a missing key, a null) is a reason the decision pages with.

Plain functions over deployment data; the decision rules (bake window, budget, dry run,
idempotency) are ``rollback.decision``'s, which calls ``undo`` and ``revision``. The words
for an undo (``moves``) and for where GetAlias says an alias points (``alias_facts``,
``points_at``) are here once, for the decision's reason and the page alike.
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


# Where a Lambda revision keeps its AppSpec, per revisionType (CodeDeploy API Reference,
# RevisionLocation: AppSpecContent, and String, deprecated but still accepted).
CONTENT_KEYS = {"AppSpecContent": "appSpecContent", "String": "string"}
UNREADABLE = "no readable Lambda resource (Name, Alias, CurrentVersion, TargetVersion)"
NOT_JSON = "the AppSpec is YAML (or not JSON); the kit reads JSON AppSpecs only"


def read_shift(revision: Mapping[str, Any]) -> AliasShift | str:
    """The alias move a Lambda deployment's revision makes, or why it cannot be read.

    AWS accepts the AppSpec as JSON or YAML, and its examples write the keys both
    capitalised and in lower case ("AppSpec 'resources' section"), so keys match whatever
    their case. The function carries no YAML parser (only the runtime's boto3), so a YAML
    AppSpec is a reason, never a crash.
    """
    key = content_key(revision)
    if key is None:
        return f"revision type {revision.get('revisionType')!r} is not a Lambda AppSpec"
    content = (revision.get(key) or {}).get("content")
    if not isinstance(content, str) or not content.strip():
        return "the AppSpec content could not be read"
    try:
        spec = json.loads(content)
    except ValueError:
        return NOT_JSON
    try:
        ((name, resource),) = _field(spec, "resources")[0].items()
        kind = _field(resource, "type")
        if kind != LAMBDA_FUNCTION_TYPE:
            return f"the AppSpec's resource is {kind!r}, not {LAMBDA_FUNCTION_TYPE}"
        props = _field(resource, "properties")
        values = [_field(props, f) for f in ("name", "alias", "currentversion", "targetversion")]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return UNREADABLE
    if any(value is None or str(value) == "" for value in values):
        return UNREADABLE
    function, alias, current, target = (str(value) for value in values)
    return AliasShift(str(name), function, alias, current, target)


def _field(mapping: Any, lower: str) -> Any:
    """``mapping[key]`` for the one key whose lower case is ``lower``; KeyError if none."""
    found = [value for key, value in mapping.items() if str(key).lower() == lower]
    if len(found) != 1:
        raise KeyError(lower)
    return found[0]


def undo(deployment: Deployment) -> AliasShift | str:
    """The shift that undoes ``deployment`` (only a succeeded release), or why there is none."""
    if deployment.is_rollback or deployment.status != "Succeeded":
        return f"deployment {deployment.deployment_id} is not a succeeded release"
    shift = read_shift(deployment.revision)
    if isinstance(shift, str):
        return shift
    if shift.current == shift.target:
        return f"the AppSpec moves the alias from version {shift.current} to itself"
    return AliasShift(shift.name, shift.function, shift.alias, shift.target, shift.current)


def content_key(revision: Mapping[str, Any]) -> str | None:
    """The revision's AppSpec field (``appSpecContent`` or ``string``); None if not Lambda."""
    return CONTENT_KEYS.get(str(revision.get("revisionType")))


def missing_content(revision: Mapping[str, Any]) -> bool:
    """A Lambda AppSpec revision read back without its content, but with its sha256."""
    key = content_key(revision)
    if key is None:
        return False
    spec = revision.get(key) or {}
    return not spec.get("content") and bool(spec.get("sha256"))


def with_content(revision: Mapping[str, Any], content: str | None) -> dict[str, Any]:
    """``revision`` with the AppSpec content GetApplicationRevision returned."""
    key = content_key(revision)
    if key is None or content is None:
        return dict(revision)
    spec = dict(revision.get(key) or {})
    spec["content"] = content
    return {**revision, key: spec}


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


def moves(shift_facts: Mapping[str, Any]) -> str:
    """The undo of ``facts`` in words, for the decision's reason and the page alike."""
    return (
        f"alias {shift_facts.get('alias')} of Lambda function {shift_facts.get('function')} "
        f"from version {shift_facts.get('fromVersion')} back to version "
        f"{shift_facts.get('toVersion')}"
    )


def alias_facts(function: str, alias: str, answer: Mapping[str, Any]) -> dict[str, Any]:
    """Where a GetAlias ``answer`` says the alias points: its version and the weights of
    any other versions (Lambda API Reference, AliasRoutingConfiguration)."""
    routing = answer.get("RoutingConfig") or {}
    weights = routing.get("AdditionalVersionWeights") or {}
    return {
        "function": function,
        "alias": alias,
        "version": str(answer.get("FunctionVersion")),
        "weights": {str(version): weight for version, weight in weights.items()},
    }


def points_at(found: Mapping[str, Any]) -> str:
    """``alias_facts`` in words: ``version 2``, or ``version 2 with version 1 at 10 %``."""
    shares = [
        f"version {version} at {100 * float(weight):g} %"
        for version, weight in sorted((found.get("weights") or {}).items())
    ]
    return f"version {found.get('version')}" + (f" with {', '.join(shares)}" if shares else "")
