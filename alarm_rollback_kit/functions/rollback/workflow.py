"""Runs one alarm through the kit: read deployments, decide, act, explain, notify.

This is the only module that sequences AWS calls; every choice is delegated to the plain
functions in ``decision``, ``diagnosis`` and ``notification``. Calls per decision (each
counted in ``Gateway.calls``): a skip before any lookup makes none; otherwise ListDeployments
(one per page) and BatchGetDeployments (one per 25 ids), for a Lambda undo only one
GetApplicationRevision and one GetAlias, then at most one DynamoDB PutItem (the idempotency
record) and one StopDeployment or CreateDeployment (plus a DeleteItem that gives the record
back if that call fails), one CreateInvalidation when acting with a distribution, and,
whenever a human is told, one GetMetricData (EC2 only) and one SNS Publish.

The idempotency record is keyed on the action and the deployment it stops or undoes (the
bad release, or the rollback being retried), not on the alarm: two different alarms about
the same release must also end in one stop or one rollback; a rollback that *ends* between
another invocation's read and its CreateDeployment slips past the one-active-deployment
rule, and a stop that answers Pending leaves the deployment running for a while.

Races end in one rollback: a second delivery finds the first one's rollback as the newest
deployment and skips; CreateDeployment refused with DeploymentLimitExceededException (a group runs one
deployment at a time: CodeDeploy User Guide, "Quotas"; the API Reference's wording is "the
number of allowed deployments was exceeded") is read
again (ListDeployments, BatchGetDeployments): a skip when the active deployment is a release
or a rollback, a ``RetryLater`` when it is an Auto Scaling launch, because the rollback is
still needed once the launch ends; StopDeployment refused with
DeploymentAlreadyCompletedException means the deployment changed under us, so the decision
is taken again once from fresh data (one more ListDeployments and BatchGetDeployments, and
on a Lambda group the GetApplicationRevision and GetAlias of an undo, if that is what the
fresh data says).

For a Lambda group (``TARGET_TYPE=LAMBDA``) only a decision to undo a succeeded release
reads that release's AppSpec, with one GetApplicationRevision (BatchGetDeployments returns no
content; a stop, or a skip decided before the undo, reads none; a skip the AppSpec decides,
unreadable or another alias's, has read it), and one GetAlias then confirms the alias still points
(only) at the bad version before the undo, a CreateDeployment with
``CodeDeployDefault.LambdaAllAtOnce``; an alias that moved makes the decision a skip that
pages where it points. A running Lambda deployment is stopped with rollback exactly as an EC2
one (CodeDeploy's rollback deployment shifts the alias back); there is no GetMetricData (the
diagnosis reads ALB metrics).

``run_deployment_event`` handles CodeDeploy's FAILURE/STOP notifications: BatchGetDeployments
of that deployment and, when it is CodeDeploy's rollback, ListDeployments and
BatchGetDeployments of the group, then at most one CreateDeployment (the retry), and the
invalidation and page of an acting decision.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from rollback import diagnosis as diag
from rollback import lambda_target, links, notification, oncall
from rollback.after_rollback import decide_after_rollback_ended
from rollback.alarm_event import AlarmEvent
from rollback.aws import Gateway, RetryLater, error_code, is_retryable
from rollback.config import Config
from rollback.decision import (
    DEPLOYMENT_DURATION_ALLOWANCE,
    FINAL_FAILED,
    Decision,
    Deployment,
    Settled,
    active_launches,
    appspec_to_read,
    conclude,
    lookback_start,
    screen,
    settle,
)
from rollback.deployment_event import DeploymentEvent

LOGGER = logging.getLogger("rollback")

_ACTED = {"stop": "stopped", "redeploy": "redeployed", "retry": "retried"}
_ACTING = frozenset(_ACTED.values())


class _DeploymentChanged(Exception):
    """StopDeployment found the deployment already completed: decide again."""


def run(alarm: AlarmEvent, config: Config, gateway: Gateway, now: datetime) -> dict[str, Any]:
    screened = screen(alarm, config)
    if screened is not None:
        skipped = _result(alarm, config, screened, action=screened.action)
        skipped.pop("notify")
        return skipped

    result: dict[str, Any] = {}
    since = lookback_start(alarm, config, now)
    for attempt in (1, 2):
        deployments = _list_group(config, gateway, since)
        settled = settle(alarm=alarm, config=config, deployments=deployments, now=now)
        deployments, settled = _with_appspec(config, gateway, deployments, settled)
        decision = conclude(settled, alarm=alarm, config=config)
        if decision.facts.get("aliasShift"):
            decision = _confirm_alias(config, gateway, decision)
        try:
            result = _act(alarm, config, gateway, decision, since=since)
            break
        except _DeploymentChanged:
            if attempt == 2:
                result = _skipped(
                    alarm,
                    config,
                    decision,
                    f"deployment {decision.deployment_id} completed while the kit was "
                    "stopping it, twice in a row: a human should check the group",
                    notify=True,
                )
    result.update(
        oncall.incident_facts(alarm=alarm, deployments=deployments, decision=decision, now=now)
    )
    return _finish(config, gateway, result, now, alarm_reason=alarm.reason)


def run_deployment_event(
    event: DeploymentEvent, config: Config, gateway: Gateway, now: datetime
) -> dict[str, Any]:
    """A deployment of the group ended FAILURE or STOP: retry it if it was a rollback."""
    trigger = f"CodeDeploy reported deployment {event.deployment_id} ended {event.state}."
    ours = (event.application, event.deployment_group) == (
        config.application_name,
        config.deployment_group_name,
    )
    infos = gateway.batch_get_deployments([event.deployment_id]) if ours else []
    if not infos:
        why = "not this function's deployment group" if not ours else "deployment not found"
        skipped = _result(
            None, config, Decision(action="skipped", reason=why, notify=False), action="skipped"
        )
        skipped.pop("notify")
        skipped["trigger"] = trigger
        return skipped
    ended = Deployment.from_info(infos[0])
    if ended.is_aws_rollback and ended.is_running:
        # The event says it ended but the read does not show it yet: decide on a later
        # attempt rather than drop the only notice the function gets of this ending.
        raise RetryLater(
            f"rollback {ended.deployment_id} ended {event.state} by its event but reads "
            f"{ended.status}"
        )
    if not ended.is_aws_rollback or ended.status not in FINAL_FAILED:
        # A release or a launch that failed: CodeDeploy's own rollback covers it, and the
        # deployment-failed rule has paged; the kit's own redeploys are never retried.
        decision = Decision(
            action="skipped",
            reason=(
                f"deployment {ended.deployment_id} (creator {ended.creator}, {ended.status}) "
                "is not a CodeDeploy rollback that ended Stopped or Failed: nothing to retry"
            ),
            notify=False,
            deployment_id=ended.deployment_id,
        )
    else:
        since = ended.create_time - DEPLOYMENT_DURATION_ALLOWANCE
        # A Lambda group's ended rollback is a human's call whatever the history says, so
        # the group is not read for it.
        history = [] if config.is_lambda else _list_group(config, gateway, since)
        decision = decide_after_rollback_ended(ended=ended, config=config, deployments=history)
    result = _act(None, config, gateway, decision, since=ended.create_time)
    result["trigger"] = trigger
    return _finish(config, gateway, result, now, alarm_reason="")


def _finish(
    config: Config, gateway: Gateway, result: dict[str, Any], now: datetime, *, alarm_reason: str
) -> dict[str, Any]:
    """Invalidate after acting, and tell a human when the decision says so."""
    if result["action"] in _ACTING and config.distribution_id:
        _invalidate(config, gateway, result)
    if result.pop("notify"):
        result["diagnosis"] = _diagnose(config, gateway, now).as_dict()
        _publish(config, gateway, result, alarm_reason=alarm_reason)
        result["notified"] = True
    return result


def notify_failure(
    alarm: AlarmEvent | None, config: Config, gateway: Gateway, exc: BaseException
) -> bool:
    """Tell a human that a non-retryable error stopped the kit; True when SNS took it."""
    code = error_code(exc) or type(exc).__name__
    result = {
        "action": "failed",
        "reason": "the kit hit an error it cannot retry; nothing further was done",
        "error": f"{code}: {exc}",
        "alarmName": alarm.alarm_name if alarm else None,
        "alarmTime": alarm.timestamp.isoformat() if alarm else None,
        "applicationName": config.application_name,
        "deploymentGroupName": config.deployment_group_name,
    }
    try:
        _publish(config, gateway, result, alarm_reason=alarm.reason if alarm else "")
    except Exception as publish_exc:
        LOGGER.error(
            "failure notification not sent",
            extra={"fields": {"error": error_code(publish_exc) or repr(publish_exc)}},
        )
        return False
    return True


def _list_group(config: Config, gateway: Gateway, since: datetime) -> list[Deployment]:
    """The group's deployments created after ``since``, as BatchGetDeployments gives them."""
    ids = gateway.list_deployment_ids(
        config.application_name, config.deployment_group_name, created_after=since
    )
    infos = gateway.batch_get_deployments(ids) if ids else []
    return [Deployment.from_info(info) for info in infos]


def _with_appspec(
    config: Config, gateway: Gateway, deployments: list[Deployment], settled: Decision | Settled
) -> tuple[list[Deployment], Decision | Settled]:
    """The AppSpec of the Lambda release ``conclude`` will undo filled in, in the group (for
    the page) and in ``settled``: one GetApplicationRevision for that undo and for nothing
    else (BatchGetDeployments returns no content; see lambda_target)."""
    release = appspec_to_read(settled, config)
    if release is None or isinstance(settled, Decision):
        return deployments, settled
    # appspec_to_read names only a Lambda revision type, which has a content key.
    key = lambda_target.content_key(release.revision) or ""
    content = gateway.appspec_content(config.application_name, release.revision, key)
    filled = replace(release, revision=lambda_target.with_content(release.revision, content))
    return [filled if d is release else d for d in deployments], settled.with_newest(filled)


def _confirm_alias(config: Config, gateway: Gateway, decision: Decision) -> Decision:
    """The undo's CurrentVersion must be where the alias points, with no weighted routing:
    AWS does not document what CodeDeploy does with a stale one, so a moved alias (a human
    fixed it, or another release path) is left to a human instead. That skip pages with
    where the alias points now and none of the undo's versions."""
    shift = decision.facts["aliasShift"]
    found = lambda_target.alias_facts(
        shift["function"], shift["alias"], gateway.alias(shift["function"], shift["alias"])
    )
    if found["version"] == shift["fromVersion"] and not found["weights"]:
        return decision
    return Decision(
        action="skipped",
        reason=(
            f"alias {shift['alias']} of {shift['function']} points at "
            f"{lambda_target.points_at(found)}, not only at the bad version "
            f"{shift['fromVersion']}: it moved since {decision.deployment_id}, so a human decides"
        ),
        notify=True,
        deployment_id=decision.deployment_id,
        facts={"aliasNow": found},
    )


def _act(
    alarm: AlarmEvent | None,
    config: Config,
    gateway: Gateway,
    decision: Decision,
    *,
    since: datetime,
) -> dict[str, Any]:
    if decision.action == "stop" and decision.deployment_id:
        return _stop(alarm, config, gateway, decision)
    if decision.action in {"redeploy", "retry"} and decision.revision and decision.description:
        key = _claim_key(config, decision)
        if not gateway.claim(config.idempotency_table, key, _record(alarm, decision)):
            return _already_claimed(alarm, config, decision, key)
        try:
            rollback_id = gateway.create_deployment(
                application_name=config.application_name,
                group_name=config.deployment_group_name,
                revision=dict(decision.revision),
                description=decision.description,
                deployment_config_name=decision.deployment_config_name,
            )
        except Exception as exc:
            # Nothing was created: give the claim back so a retry of this event may act.
            _release(config, gateway, key)
            if error_code(exc) == "DeploymentLimitExceededException":
                return _refused(alarm, config, gateway, decision, exc, since=since)
            raise
        result = _result(alarm, config, decision, action=decision.action)
        result["rollbackDeploymentId"] = rollback_id
        return result
    return _result(alarm, config, decision, action=decision.action)


def _stop(
    alarm: AlarmEvent | None, config: Config, gateway: Gateway, decision: Decision
) -> dict[str, Any]:
    """StopDeployment with rollback, once per deployment: a stop may answer Pending and
    leave the deployment running for a while (CodeDeploy API Reference, StopDeployment), so
    a duplicate delivery would otherwise stop it again."""
    deployment_id = str(decision.deployment_id)
    key = _claim_key(config, decision)
    if not gateway.claim(config.idempotency_table, key, _record(alarm, decision)):
        return _already_claimed(alarm, config, decision, key)
    try:
        answer = gateway.stop_deployment(deployment_id)
    except Exception as exc:
        # Nothing was stopped: give the claim back so a retry or a fresh decision may act.
        _release(config, gateway, key)
        if error_code(exc) == "DeploymentAlreadyCompletedException":
            raise _DeploymentChanged from exc
        raise
    result = _result(alarm, config, decision, action="stopped")
    result["stopStatus"] = answer.get("status")
    return result


def _claim_key(config: Config, decision: Decision) -> str:
    return f"{decision.action}#{config.deployment_group_name}#{decision.deployment_id}"


def _already_claimed(
    alarm: AlarmEvent | None, config: Config, decision: Decision, key: str
) -> dict[str, Any]:
    return _skipped(
        alarm,
        config,
        decision,
        f"another invocation already claimed the {decision.action} of "
        f"{decision.deployment_id} (idempotency record {key})",
        notify=False,
    )


def _record(alarm: AlarmEvent | None, decision: Decision) -> dict[str, str]:
    """What the idempotency record says about who claimed it (for a human reading it)."""
    record = {"deploymentId": str(decision.deployment_id), "action": decision.action}
    if alarm is not None:
        record["alarmArn"] = alarm.alarm_arn or alarm.alarm_name
        record["alarmStateTime"] = alarm.timestamp.isoformat()
    return record


def _release(config: Config, gateway: Gateway, key: str) -> None:
    try:
        gateway.release(config.idempotency_table, key)
    except Exception as exc:
        # The original error matters more; a stuck claim turns this event's retries into
        # skips, so say so loudly in the log.
        LOGGER.error(
            "idempotency record not released",
            extra={"fields": {"key": key, "error": error_code(exc) or repr(exc)}},
        )


def _refused(
    alarm: AlarmEvent | None,
    config: Config,
    gateway: Gateway,
    decision: Decision,
    exc: Exception,
    *,
    since: datetime,
) -> dict[str, Any]:
    """CreateDeployment met the group's one active deployment: whose is it?"""
    # Only statuses and creators matter here, so no AppSpec is read again.
    launches = active_launches(_list_group(config, gateway, since))
    if launches:
        # Skipping would leave the bad release serving with nobody told; the launch ends in
        # minutes, so let Lambda retry the event (then the dead-letter queue pages).
        raise RetryLater(
            f"deployment {launches[0].deployment_id} (creator {launches[0].creator}) holds the "
            f"group while the kit must {decision.action} from {decision.deployment_id}: {exc}"
        ) from exc
    return _skipped(
        alarm,
        config,
        decision,
        f"a deployment is already in progress in the group ({exc})",
        notify=False,
    )


def _invalidate(config: Config, gateway: Gateway, result: dict[str, Any]) -> None:
    # The same rollback always yields the same CallerReference, so a retried invocation
    # gets CloudFront's existing invalidation back instead of a second one (CloudFront API
    # Reference, CreateInvalidation, CallerReference).
    if result.get("rollbackDeploymentId"):
        reference = f"alarm-rollback-kit-{result['rollbackDeploymentId']}"
    else:
        reference = f"alarm-rollback-kit-stop-{result['deploymentId']}"
    try:
        result["invalidationId"] = gateway.create_invalidation(
            str(config.distribution_id), config.invalidation_paths, reference
        )
    except Exception as exc:
        # The rollback stands; a stale edge cache is worth a message, not a failed run.
        result["invalidationError"] = f"{error_code(exc) or type(exc).__name__}: {exc}"
        LOGGER.error(
            "invalidation failed", extra={"fields": {"error": result["invalidationError"]}}
        )


def _diagnose(config: Config, gateway: Gateway, now: datetime) -> diag.Diagnosis:
    if config.is_lambda:
        return diag.lambda_release(config.diagnosis_minutes)
    if not (config.load_balancer_full_name and config.target_group_full_name):
        # Config.from_environ requires both for EC2; a Config built otherwise still pages.
        return diag.unavailable(
            config.diagnosis_minutes, "LOAD_BALANCER_FULL_NAME or TARGET_GROUP_FULL_NAME unset"
        )
    queries = diag.metric_queries(
        load_balancer=config.load_balancer_full_name,
        target_group=config.target_group_full_name,
    )
    try:
        results = gateway.metric_data(
            queries, now - timedelta(minutes=config.diagnosis_minutes), now
        )
    except Exception as exc:
        # The diagnosis only explains; losing it must not lose the notification.
        why = f"GetMetricData failed ({error_code(exc) or type(exc).__name__})"
        if is_retryable(exc):
            why += " after retries"
        return diag.unavailable(config.diagnosis_minutes, why)
    return diag.diagnose(results, window_minutes=config.diagnosis_minutes)


def _publish(
    config: Config, gateway: Gateway, result: Mapping[str, Any], *, alarm_reason: str
) -> None:
    # The topic's region is the function's: TOPIC_ARN is validated as an SNS ARN.
    region = links.region_of(config.topic_arn)
    console = (
        links.Console(
            region=region,
            dashboard_name=config.dashboard_name,
            log_group_name=config.log_group_name,
        )
        if region
        else None
    )
    gateway.publish(
        config.topic_arn,
        notification.subject(result),
        notification.message(result, alarm_reason=alarm_reason, console=console),
    )


def _skipped(
    alarm: AlarmEvent | None, config: Config, decision: Decision, reason: str, *, notify: bool
) -> dict[str, Any]:
    result = _result(alarm, config, decision, action="skipped", reason=reason)
    result["notify"] = notify
    return result


def _result(
    alarm: AlarmEvent | None,
    config: Config,
    decision: Decision,
    *,
    action: str,
    reason: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "action": _ACTED.get(action, action),
        "reason": reason or decision.reason,
        "alarmName": alarm.alarm_name if alarm else None,
        "alarmTime": alarm.timestamp.isoformat() if alarm else None,
        "applicationName": config.application_name,
        "deploymentGroupName": config.deployment_group_name,
        "deploymentId": decision.deployment_id,
        "rollbackDeploymentId": None,
        "revisionSourceDeploymentId": decision.revision_source_id,
        "invalidationId": None,
        "diagnosis": None,
        "dryRun": config.dry_run,
        "notified": False,
        "notify": decision.notify,
    }
    if decision.facts:
        result["facts"] = dict(decision.facts)
    return result
