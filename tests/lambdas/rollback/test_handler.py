"""The rollback handler end to end under moto: each numbered case of the decision, the races,
retries and failures, the CloudFront invalidation, and what on-call receives.

Standard history unless a test says otherwise: the good release v1 finished hours ago, the
bad release v2 was created 10 minutes ago, finished 4 minutes ago, and the alarm fired a
minute ago (BAKE_MINUTES=30).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from rollback import aws
from rollback.config import KIT_MARKER
from rollback.handler import lambda_handler
from tests.lambdas.rollback.conftest import (
    ALARM,
    SECOND_ALARM,
    Faults,
    Hooks,
    World,
    alarm_event,
    revision_key,
)
from tests.support import codedeploy_gaps

MINUTE = timedelta(minutes=1)


def _bad_release_baked(world: World) -> tuple[str, str]:
    good = world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)
    return good, bad


def _bad_release_running(world: World) -> tuple[str, str]:
    good = world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=5 * MINUTE, status="InProgress")
    return good, bad


def _fire(world: World, lambda_context: Any, *, name: str = ALARM) -> dict[str, Any]:
    result: dict[str, Any] = lambda_handler(
        alarm_event(world.now - MINUTE, name=name), lambda_context
    )
    return result


# Case 1: not an ALARM state change, or not one of ours ----------------------------------


@pytest.mark.parametrize(
    "event_file",
    [
        "cloudwatch-alarm-state-change-ok.json",
        "cloudwatch-alarm-state-change-insufficient-data.json",
    ],
)
def test_state_change_that_is_not_alarm_is_skipped_without_any_aws_call(
    world: World, calls: list[str], lambda_context: Any, event_file: str
) -> None:
    _bad_release_baked(world)

    result = lambda_handler(alarm_event(world.now, file=event_file), lambda_context)

    assert result["action"] == "skipped"
    assert "not ALARM" in result["reason"]
    assert calls == []
    assert world.notifications() == []


def test_alarm_not_listed_in_rollback_alarm_names_is_skipped_without_any_aws_call(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    _bad_release_baked(world)

    result = _fire(world, lambda_context, name="someone-elses-alarm")

    assert result["action"] == "skipped"
    assert "ROLLBACK_ALARM_NAMES" in result["reason"]
    assert calls == []


# Case 2: the newest deployment is still running -----------------------------------------


def test_running_deployment_is_stopped_with_automatic_rollback(
    world: World, lambda_context: Any
) -> None:
    _, bad = _bad_release_running(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "stopped"
    assert result["deploymentId"] == bad
    stopped = codedeploy_gaps.get(bad)
    assert stopped.status == "Stopped"
    rollback = world.deployments()[-1]
    assert rollback["creator"] == "codeDeployRollback"
    assert revision_key(rollback) == "order-api-v1.zip"


@pytest.mark.parametrize("status", ["Created", "Queued", "Baking", "Ready"])
def test_every_running_status_counts_as_running(
    world: World, lambda_context: Any, status: str
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    bad = world.deploy("v2", created_ago=5 * MINUTE, status=status)

    result = _fire(world, lambda_context)

    assert (result["action"], result["deploymentId"]) == ("stopped", bad)


# Case 3: the newest deployment succeeded within the bake window -------------------------


def test_deployment_completed_within_bake_window_is_rolled_back_to_previous_revision(
    world: World, lambda_context: Any
) -> None:
    good, bad = _bad_release_baked(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert result["deploymentId"] == bad
    assert result["revisionSourceDeploymentId"] == good
    [rollback] = world.rollbacks_created_by_kit()
    assert rollback["deploymentId"] == result["rollbackDeploymentId"]
    assert revision_key(rollback) == "order-api-v1.zip"


def test_rollback_description_records_what_it_undoes_and_why(
    world: World, lambda_context: Any
) -> None:
    good, bad = _bad_release_baked(world)

    _fire(world, lambda_context)

    [rollback] = world.rollbacks_created_by_kit()
    description = rollback["description"]
    assert description.startswith(KIT_MARKER)
    assert bad in description
    assert ALARM in description
    assert (world.now - MINUTE).strftime("%Y-%m-%dT%H:%M:%S") in description
    assert good in description


def test_rollback_deployment_turns_alarm_polling_off(world: World, lambda_context: Any) -> None:
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    rollback = world.codedeploy.get_deployment(deploymentId=result["rollbackDeploymentId"])
    assert rollback["deploymentInfo"]["overrideAlarmConfiguration"]["enabled"] is False


def test_deployment_completed_before_bake_window_is_not_blamed(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=45 * MINUTE, completed_ago=40 * MINUTE)

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "not correlated" in result["reason"]
    assert world.rollbacks_created_by_kit() == []


def test_deployments_are_ordered_by_create_time_not_list_order(
    world: World, lambda_context: Any
) -> None:
    # Given: the API lists `late` first, but `early` was created after it (backdated here)
    late = world.deploy("v3", created_ago=timedelta(hours=2))
    early = world.deploy("v1", created_ago=timedelta(hours=3))
    codedeploy_gaps.set_create_time(late, world.now - 10 * MINUTE)
    codedeploy_gaps.complete_deployment(late, at=world.now - 4 * MINUTE)
    listed = world.codedeploy.list_deployments(
        applicationName="order-api", deploymentGroupName="prod"
    )
    assert listed["deployments"] == [late, early]

    result = _fire(world, lambda_context)

    assert result["deploymentId"] == late
    assert result["revisionSourceDeploymentId"] == early


def test_previous_revision_older_than_the_lookback_comes_from_previous_revision(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(days=3))
    bad = world.deploy("v2", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = _fire(world, lambda_context)

    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)
    [rollback] = world.rollbacks_created_by_kit()
    assert revision_key(rollback) == "order-api-v1.zip"


# Case 4: never roll back a rollback ------------------------------------------------------


def test_newest_deployment_made_by_codedeploy_rollback_is_left_alone(
    world: World, lambda_context: Any
) -> None:
    _, bad = _bad_release_running(world)
    world.codedeploy.stop_deployment(deploymentId=bad, autoRollbackEnabled=True)
    before = world.deployments()

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "never roll back a rollback" in result["reason"]
    assert world.deployments() == before


def test_newest_deployment_made_by_the_kit_is_left_alone(world: World, lambda_context: Any) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=20 * MINUTE, completed_ago=15 * MINUTE)
    world.kit_rollback("v1", created_ago=10 * MINUTE)

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "never roll back a rollback" in result["reason"]
    assert world.notifications() == []


# Case 5 and 6: nothing to blame, nothing to go back to ------------------------------------


def test_alarm_without_recent_deployment_is_skipped_and_notified(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    [note] = world.notifications()
    assert "alarm not correlated with a recent deployment" in note["Message"]


def test_group_without_any_deployment_is_skipped_and_notified(
    world: World, lambda_context: Any
) -> None:
    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    [note] = world.notifications()
    assert "no deployment in the lookback window" in note["Message"]


def test_first_deployment_of_a_group_has_no_earlier_revision_and_is_notified(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert world.rollbacks_created_by_kit() == []
    [note] = world.notifications()
    assert "no earlier successful revision" in note["Message"]


def test_deployment_created_after_the_alarm_is_not_stopped(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    fix = world.deploy("v3", created_ago=timedelta(seconds=20), status="InProgress")

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert codedeploy_gaps.get(fix).status == "InProgress"


# Case 7: the hourly rollback budget ------------------------------------------------------


def _second_bad_release_after_a_rollback(world: World) -> None:
    world.deploy("v1", created_ago=timedelta(hours=3))
    world.deploy("v2", created_ago=50 * MINUTE, completed_ago=45 * MINUTE)
    world.kit_rollback("v1", created_ago=40 * MINUTE)
    world.deploy("v3", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)


def test_spent_rollback_budget_skips_and_asks_for_a_human(
    world: World, lambda_context: Any
) -> None:
    _second_bad_release_after_a_rollback(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert world.rollbacks_created_by_kit() == []
    [note] = world.notifications()
    assert "a human is needed" in note["Message"]


def test_budget_of_two_allows_a_second_rollback_within_the_hour(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(MAX_ROLLBACKS_PER_HOUR="2")
    _second_bad_release_after_a_rollback(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert revision_key(world.rollbacks_created_by_kit()[0]) == "order-api-v1.zip"


def test_rollbacks_older_than_an_hour_do_not_count_against_the_budget(
    world: World, lambda_context: Any
) -> None:
    world.deploy("v1", created_ago=timedelta(hours=5))
    world.deploy("v2", created_ago=timedelta(hours=4))
    world.kit_rollback("v1", created_ago=timedelta(minutes=70))
    world.deploy("v3", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)

    result = _fire(world, lambda_context)

    assert result["action"] == "redeployed"


# Case 8: dry run -------------------------------------------------------------------------


def test_dry_run_reports_would_redeploy_and_writes_nothing(
    world: World, set_env: Any, calls: list[str], lambda_context: Any
) -> None:
    set_env(DRY_RUN="true", DISTRIBUTION_ID="E2QWRUHEXAMPLE")
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "would-redeploy"
    assert world.rollbacks_created_by_kit() == []
    assert not {"codedeploy:CreateDeployment", "cloudfront:CreateInvalidation"} & set(calls)
    [note] = world.notifications()
    assert "DRY RUN" in note["Subject"]


def test_dry_run_reports_would_stop_and_leaves_the_deployment_running(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(DRY_RUN="true")
    _, bad = _bad_release_running(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "would-stop"
    assert codedeploy_gaps.get(bad).status == "InProgress"


# Duplicates, concurrency, two alarms -----------------------------------------------------


def test_duplicate_delivery_of_the_same_event_rolls_back_once(
    world: World, lambda_context: Any
) -> None:
    _bad_release_baked(world)
    event = alarm_event(world.now - MINUTE)

    first = lambda_handler(event, lambda_context)
    second = lambda_handler(event, lambda_context)

    assert (first["action"], second["action"]) == ("redeployed", "skipped")
    assert len(world.rollbacks_created_by_kit()) == 1


def _run_together(world: World, lambda_context: Any, names: list[str]) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(names))
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def invoke(name: str) -> None:
        event = alarm_event(world.now - MINUTE, name=name)
        barrier.wait()
        try:
            results.append(lambda_handler(event, lambda_context))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=invoke, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def test_concurrent_deliveries_of_the_same_alarm_roll_back_once(
    world: World, lambda_context: Any
) -> None:
    _bad_release_baked(world)

    results = _run_together(world, lambda_context, [ALARM, ALARM, ALARM])

    assert sorted(r["action"] for r in results) == ["redeployed", "skipped", "skipped"]
    assert len(world.rollbacks_created_by_kit()) == 1


def test_two_alarms_firing_together_roll_back_once(world: World, lambda_context: Any) -> None:
    _bad_release_baked(world)

    results = _run_together(world, lambda_context, [ALARM, SECOND_ALARM])

    assert sorted(r["action"] for r in results) == ["redeployed", "skipped"]
    assert len(world.rollbacks_created_by_kit()) == 1


def test_two_alarms_on_a_running_deployment_stop_it_once(world: World, lambda_context: Any) -> None:
    _bad_release_running(world)

    results = _run_together(world, lambda_context, [ALARM, SECOND_ALARM])

    assert sorted(r["action"] for r in results) == ["skipped", "stopped"]
    rollbacks = [d for d in world.deployments() if d["creator"] == "codeDeployRollback"]
    assert len(rollbacks) == 1


def test_active_deployment_refusal_on_create_is_a_skip(
    world: World, faults: Faults, lambda_context: Any
) -> None:
    _bad_release_baked(world)
    faults.add("codedeploy", "CreateDeployment", "DeploymentLimitExceededException")

    result = _fire(world, lambda_context)

    assert result["action"] == "skipped"
    assert "a deployment is already in progress" in result["reason"]


def test_deployment_that_succeeded_while_being_stopped_is_decided_again_and_redeployed(
    world: World, hooks: Hooks, lambda_context: Any
) -> None:
    # Given: the deployment is running when listed, then finishes before StopDeployment lands
    _, bad = _bad_release_running(world)

    def finish(**_: Any) -> None:
        codedeploy_gaps.complete_deployment(bad, at=world.now)

    hooks.register("codedeploy", "before-call.codedeploy.StopDeployment", finish, first=True)

    result = _fire(world, lambda_context)

    assert (result["action"], result["deploymentId"]) == ("redeployed", bad)


# Retries and failures --------------------------------------------------------------------


def test_throttled_create_deployment_is_retried_then_succeeds(
    world: World, faults: Faults, calls: list[str], sleeps: list[float], lambda_context: Any
) -> None:
    _bad_release_baked(world)
    faults.add("codedeploy", "CreateDeployment", "ThrottlingException", "ThrottlingException")

    result = _fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert calls.count("codedeploy:CreateDeployment") == 3
    assert len(sleeps) == 2
    assert len(world.rollbacks_created_by_kit()) == 1


def test_connection_error_is_retried(
    world: World, faults: Faults, calls: list[str], lambda_context: Any
) -> None:
    _bad_release_baked(world)
    faults.add(
        "codedeploy", "BatchGetDeployments", EndpointConnectionError(endpoint_url="https://x")
    )

    result = _fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert calls.count("codedeploy:BatchGetDeployments") == 2


def test_throttling_that_persists_is_reraised_without_notifying(
    world: World, faults: Faults, calls: list[str], sleeps: list[float], lambda_context: Any
) -> None:
    _bad_release_baked(world)
    faults.add("codedeploy", "ListDeployments", *["Throttling"] * aws.DEFAULT_RETRY.attempts)

    with pytest.raises(ClientError, match="Throttling"):
        _fire(world, lambda_context)

    assert calls == ["codedeploy:ListDeployments"] * aws.DEFAULT_RETRY.attempts
    assert all(0 <= pause <= aws.DEFAULT_RETRY.max_delay for pause in sleeps)
    assert world.notifications() == []


def test_service_unavailable_is_retried(
    world: World, faults: Faults, calls: list[str], lambda_context: Any
) -> None:
    _bad_release_baked(world)
    faults.add("sns", "Publish", "ServiceUnavailable")

    result = _fire(world, lambda_context)

    assert result["notified"] is True
    assert calls.count("sns:Publish") == 2


def test_non_retryable_error_notifies_a_human_then_reraises(
    world: World, faults: Faults, calls: list[str], lambda_context: Any
) -> None:
    _bad_release_baked(world)
    faults.add("codedeploy", "CreateDeployment", "AccessDeniedException")

    with pytest.raises(ClientError, match="AccessDeniedException"):
        _fire(world, lambda_context)

    assert calls.count("codedeploy:CreateDeployment") == 1
    [note] = world.notifications()
    assert "FAILED" in note["Subject"]
    assert "AccessDeniedException" in note["Message"]


# Malformed events -------------------------------------------------------------------------


def _event_with(path: list[str], value: Any) -> dict[str, Any]:
    event = alarm_event(datetime(2026, 3, 12, 14, 47, tzinfo=UTC))
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="list"),
        pytest.param("ALARM", id="string"),
        pytest.param({}, id="empty-object"),
        pytest.param(_event_with(["detail"], KeyError), id="no-detail"),
        pytest.param(_event_with(["detail"], "ALARM"), id="detail-not-object"),
        pytest.param(_event_with(["source"], "aws.ec2"), id="other-source"),
        pytest.param(_event_with(["detail", "alarmName"], 42), id="alarm-name-not-string"),
        pytest.param(_event_with(["detail", "state"], KeyError), id="no-state"),
        pytest.param(_event_with(["detail", "state", "value"], "BROKEN"), id="unknown-state"),
        pytest.param(_event_with(["detail", "state", "timestamp"], "yesterday"), id="bad-time"),
        pytest.param(_event_with(["detail", "state", "timestamp"], 1700000000), id="int-time"),
    ],
)
def test_malformed_event_is_logged_and_skipped(
    world: World,
    calls: list[str],
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    event: Any,
) -> None:
    result = lambda_handler(event, lambda_context)

    assert result["action"] == "skipped"
    assert result["reason"].startswith("malformed event:")
    assert calls == []
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["rawEvent"] == json.dumps(event)


# CloudFront invalidation ------------------------------------------------------------------


def test_rollback_invalidates_the_distribution_with_a_reference_from_the_rollback(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    distribution = world.distribution()
    set_env(DISTRIBUTION_ID=distribution, INVALIDATION_PATHS="/*,/api/*")
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    invalidation = world.cloudfront.get_invalidation(
        DistributionId=distribution, Id=result["invalidationId"]
    )["Invalidation"]["InvalidationBatch"]
    assert invalidation["Paths"]["Items"] == ["/*", "/api/*"]
    assert result["rollbackDeploymentId"] in invalidation["CallerReference"]
    [note] = world.notifications()
    assert result["invalidationId"] in note["Message"]


def test_stop_also_invalidates_the_distribution(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(DISTRIBUTION_ID=world.distribution())
    _bad_release_running(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "stopped"
    assert result["invalidationId"]


def test_without_distribution_id_nothing_is_invalidated(
    world: World, calls: list[str], lambda_context: Any
) -> None:
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    assert result["invalidationId"] is None
    assert "cloudfront:CreateInvalidation" not in calls


def test_failed_invalidation_keeps_the_rollback_and_is_reported(
    world: World, set_env: Any, lambda_context: Any
) -> None:
    set_env(DISTRIBUTION_ID="EDOESNOTEXIST")
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    assert result["action"] == "redeployed"
    assert "NoSuchDistribution" in result["invalidationError"]
    [note] = world.notifications()
    assert "invalidation FAILED" in note["Message"]


# What on-call receives and what the log says ----------------------------------------------


def test_notification_explains_the_reference_incident_signature(
    world: World, lambda_context: Any
) -> None:
    # Given: the Section 12 picture, ALB 502s with six healthy targets and no target 5xx
    _bad_release_baked(world)
    world.put_alb_metrics(
        HTTPCode_ELB_5XX_Count=615,
        HTTPCode_ELB_502_Count=615,
        HTTPCode_Target_5XX_Count=0,
        RequestCount=7368,
        HealthyHostCount=6,
        UnHealthyHostCount=0,
    )

    result = _fire(world, lambda_context)

    [note] = world.notifications()
    assert "malformed or truncated responses" in note["Message"]
    assert "ALB 5xx 1845" in note["Message"]
    assert result["diagnosis"]["facts"]["healthyHosts"] == 6
    assert len(note["Subject"]) < 100


def test_notification_carries_the_decision_as_json(world: World, lambda_context: Any) -> None:
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    [note] = world.notifications()
    block = note["Message"].split("--- decision (JSON) ---\n", 1)[1]
    assert json.loads(block)["rollbackDeploymentId"] == result["rollbackDeploymentId"]


def test_decision_is_logged_as_one_json_line(
    world: World, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _bad_release_baked(world)

    result = _fire(world, lambda_context)

    [line] = capsys.readouterr().out.splitlines()
    logged = json.loads(line)
    assert logged["action"] == "redeployed"
    assert logged["rollbackDeploymentId"] == result["rollbackDeploymentId"]
    assert logged["requestId"] == lambda_context.aws_request_id
    # The ids that tie the line to the EventBridge delivery and the alarm.
    assert logged["eventId"]
    assert logged["alarmArn"].startswith("arn:aws:cloudwatch:")
