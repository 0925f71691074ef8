"""The Lambda undo reads every AppSpec AWS accepts, or pages with the reason it cannot.

AWS takes a Lambda revision as ``AppSpecContent`` or the deprecated ``String`` type, its
content as JSON or YAML, and writes the AppSpec's keys in either case in its own examples.
The function undoes a release whichever revision type and key case it has; a YAML AppSpec
(the function carries no YAML parser) and one missing a field are skipped with a page that
says why, never a crash."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.support import codedeploy_lambda_gaps as gaps
from tests.support.lambda_world import ALIAS, FUNCTION, LAMBDA_ALARM, LambdaWorld
from tests.support.rollback_world import World, fire

MINUTE = timedelta(minutes=1)
LOWER_CASE_JSON = json.dumps(
    {
        "version": 0.0,
        "resources": [
            {
                FUNCTION: {
                    "type": "AWS::Lambda::Function",
                    "properties": {
                        "name": FUNCTION,
                        "alias": ALIAS,
                        "currentversion": "1",
                        "targetversion": 2,
                    },
                }
            }
        ],
    }
)
YAML = f"""version: 0.0
Resources:
  - {FUNCTION}:
      Type: AWS::Lambda::Function
      Properties:
        Name: "{FUNCTION}"
        Alias: "{ALIAS}"
        CurrentVersion: "1"
        TargetVersion: "2"
"""
NO_TARGET = json.dumps(
    {
        "version": 0.0,
        "Resources": [
            {
                FUNCTION: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Name": FUNCTION, "Alias": ALIAS, "CurrentVersion": "1"},
                }
            }
        ],
    }
)
NULL_VERSION = gaps.lambda_appspec(FUNCTION, ALIAS, "1", "2").replace('"2"', "null")


def _released(world: LambdaWorld, content: str | None, revision_type: str) -> str:
    """A succeeded release of version 2 (4 minutes ago) with the AppSpec as given."""
    return world.release(
        created_ago=12 * MINUTE,
        completed_ago=4 * MINUTE,
        content=content,
        revision_type=revision_type,
    )


@pytest.mark.parametrize(
    ("content", "revision_type"),
    [(None, "String"), (LOWER_CASE_JSON, "AppSpecContent"), (LOWER_CASE_JSON, "String")],
    ids=["string-revision-type", "lower-case-keys", "string-type-lower-case-keys"],
)
def test_release_is_undone_whatever_its_revision_type_and_key_case(
    lambda_release: LambdaWorld, lambda_context: Any, content: str | None, revision_type: str
) -> None:
    bad = _released(lambda_release, content, revision_type)
    assert lambda_release.alias_version() == "2"

    result = fire(lambda_release, lambda_context, name=LAMBDA_ALARM)

    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)
    assert result["facts"]["aliasShift"] == {
        "function": FUNCTION,
        "alias": ALIAS,
        "fromVersion": "2",
        "toVersion": "1",
    }
    assert "codedeploy:GetApplicationRevision" in result["awsCalls"]
    lambda_release.finish(result["rollbackDeploymentId"])
    assert lambda_release.alias_version() == "1"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (YAML, "the AppSpec is YAML (or not JSON); the kit reads JSON AppSpecs only"),
        (NO_TARGET, "no readable Lambda resource"),
        (NULL_VERSION, "no readable Lambda resource"),
    ],
    ids=["yaml", "missing-target-version", "null-target-version"],
)
def test_unreadable_appspec_is_skipped_with_a_page_that_says_why(
    lambda_release: LambdaWorld,
    world: World,
    lambda_context: Any,
    content: str,
    reason: str,
) -> None:
    _released(lambda_release, content, "AppSpecContent")

    result = fire(lambda_release, lambda_context, name=LAMBDA_ALARM)

    assert result["action"] == "skipped"
    assert reason in result["reason"]
    assert "codedeploy:CreateDeployment" not in result["awsCalls"]
    (page,) = world.notifications()
    assert reason in page["Message"]
    assert lambda_release.alias_version() == "2"
