"""The Lambda undo on plain data: the swapped AppSpec, never for a rollback or an unfinished
release, and the AppSpec content filled in when CodeDeploy returned only its sha256."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from rollback import lambda_target
from rollback.config import KIT_MARKER
from rollback.decision import Deployment
from tests.support.codedeploy_lambda_gaps import lambda_appspec, sha256

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _revision(current: str = "1", target: str = "2") -> dict[str, Any]:
    content = lambda_appspec("order-api", "live", current, target)
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}


def _deployment(
    *, status: str = "Succeeded", creator: str = "user", description: str = ""
) -> Deployment:
    return Deployment.from_info(
        {
            "deploymentId": "d-BAD",
            "status": status,
            "createTime": AT,
            "completeTime": AT,
            "creator": creator,
            "description": description,
            "revision": _revision(),
        }
    )


def test_undo_of_a_succeeded_release_swaps_current_and_target_versions() -> None:
    shift = lambda_target.undo(_deployment())

    assert isinstance(shift, lambda_target.AliasShift)
    assert json.loads(lambda_target.revision(shift)["appSpecContent"]["content"]) == json.loads(
        lambda_appspec("order-api", "live", "2", "1")
    )
    assert lambda_target.facts(shift) == {
        "function": "order-api",
        "alias": "live",
        "fromVersion": "2",
        "toVersion": "1",
    }


@pytest.mark.parametrize(
    "deployment",
    [
        _deployment(status="InProgress"),
        _deployment(status="Stopped"),
        _deployment(creator="codeDeployRollback"),
        _deployment(description=f"{KIT_MARKER} rollback of d-EARLIER"),
    ],
    ids=["running", "stopped", "codedeploy-rollback", "kit-rollback"],
)
def test_a_rollback_or_an_unfinished_release_is_never_undone(deployment: Deployment) -> None:
    assert not isinstance(lambda_target.undo(deployment), lambda_target.AliasShift)


@pytest.mark.parametrize(
    "revision",
    [
        {"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k"}},
        {"revisionType": "AppSpecContent", "appSpecContent": {"content": "not json"}},
        {
            "revisionType": "AppSpecContent",
            "appSpecContent": {
                "content": '{"Resources": [{"svc": {"Type": "AWS::ECS::Service", "Properties": {}}}]}'
            },
        },
    ],
)
def test_a_revision_that_is_not_a_lambda_appspec_gives_no_shift(
    revision: dict[str, object],
) -> None:
    assert isinstance(lambda_target.read_shift(revision), str)


def test_content_read_back_null_is_missing_until_filled_in() -> None:
    content = lambda_appspec("order-api", "live", "1", "2")
    read_back = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": sha256(content)}}

    assert lambda_target.missing_content(read_back)
    assert isinstance(lambda_target.read_shift(read_back), str)
    filled = lambda_target.with_content(read_back, content)
    assert not lambda_target.missing_content(filled)
    assert lambda_target.read_shift(filled) == lambda_target.AliasShift(
        "order-api", "order-api", "live", "1", "2"
    )


def _spec(resource: Any) -> dict[str, Any]:
    return {
        "revisionType": "AppSpecContent",
        "appSpecContent": {"content": json.dumps({"version": 0.0, "Resources": [resource]})},
    }


@pytest.mark.parametrize(
    ("revision", "reason"),
    [
        ({"revisionType": "S3"}, "revision type 'S3' is not a Lambda AppSpec"),
        ({"revisionType": "String", "string": {"content": None}}, "could not be read"),
        ({"revisionType": "AppSpecContent", "appSpecContent": None}, "could not be read"),
        (
            {"revisionType": "String", "string": {"content": "version: 0.0\nResources: []"}},
            "the kit reads JSON AppSpecs only",
        ),
        (_spec("not an object"), lambda_target.UNREADABLE),
        (_spec({"f": {"Type": "AWS::Lambda::Function"}}), lambda_target.UNREADABLE),
        (
            _spec({"f": {"Type": "AWS::Lambda::Function", "Properties": {"Name": "f"}}}),
            lambda_target.UNREADABLE,
        ),
        (
            # Two keys that differ only in case: which one AWS reads is not documented.
            _spec(
                {
                    "f": {
                        "Type": "AWS::Lambda::Function",
                        "type": "AWS::Lambda::Function",
                        "Properties": {},
                    }
                }
            ),
            lambda_target.UNREADABLE,
        ),
        (
            _spec({"svc": {"Type": "AWS::ECS::Service", "Properties": {}}}),
            "not AWS::Lambda::Function",
        ),
    ],
    ids=[
        "s3",
        "string-null",
        "appspec-null",
        "yaml",
        "resource-not-object",
        "no-properties",
        "missing-versions",
        "ambiguous-key-case",
        "ecs",
    ],
)
def test_unreadable_revision_says_why_instead_of_raising(
    revision: dict[str, Any], reason: str
) -> None:
    read = lambda_target.read_shift(revision)

    assert isinstance(read, str)
    assert reason in read


def test_string_revision_content_is_filled_in_under_its_own_key() -> None:
    content = lambda_appspec("order-api", "live", "1", "2")
    read_back = {"revisionType": "String", "string": {"sha256": sha256(content)}}

    assert lambda_target.content_key(read_back) == "string"
    assert lambda_target.missing_content(read_back)
    filled = lambda_target.with_content(read_back, content)
    assert lambda_target.read_shift(filled) == lambda_target.AliasShift(
        "order-api", "order-api", "live", "1", "2"
    )
    # GetApplicationRevision answered without content: still missing, never a crash.
    assert lambda_target.missing_content(lambda_target.with_content(read_back, None))
