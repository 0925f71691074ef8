"""What to do about an alarm, decided from plain data: the alarm, the settings, the deployments.

No AWS calls here. ``screen`` rejects events the function must ignore before any call is
made; ``decide`` takes the group's recent deployments (as ``Deployment`` records built from
BatchGetDeployments) and returns one ``Decision``: stop the running deployment, redeploy the
previous good revision, or skip with a reason and whether a human should hear about it.
``decide`` is ``settle`` (every rule: the skip that ends the decision, or stop or undo for
the newest release) then ``conclude`` (how the stop or the undo is made); between the two
the workflow reads the one Lambda AppSpec ``appspec_to_read`` names (only for an undo), so
the rules run once and a stop, or a skip they decide, reads none.

CodeDeploy facts this relies on (CodeDeploy API Reference, DeploymentInfo and
StopDeployment; CodeDeploy User Guide, redeploy and roll back):
- status values Created, Queued, InProgress, Baking, Ready are a deployment still running;
  StopDeployment with autoRollbackEnabled works only on those;
- a succeeded deployment is never rolled back by CodeDeploy itself: it takes a new
  CreateDeployment of the previous revision;
- a Lambda deployment's revision is an AppSpec whose ``CurrentVersion``/``TargetVersion``
  the undo swaps (``lambda_target``); a running Lambda deployment is stopped with
  rollback like an EC2 one (CodeDeploy then shifts the alias back in a rollback
  deployment), and a failed CodeDeploy rollback of one is left to a human;
- ``creator`` says who made a deployment. DeploymentInfo's prose lists ``user``,
  ``autoscaling``, ``codeDeployRollback`` and ``CodeDeployAutoUpdate``; the API's
  DeploymentCreator values add ``CodeDeploy``, ``CloudFormation``,
  ``CloudFormationRollback`` and ``autoscalingTermination``, with no prose. The kit reads
  them as explicit sets: releases ``user`` and ``CloudFormation`` (AWS does not say which
  value a CloudFormation ``CodeDeployLambdaAliasUpdate`` deployment carries); rollbacks
  ``codeDeployRollback`` and ``CloudFormationRollback``, plus any deployment with the kit's
  marker or a ``rollbackInfo.rollbackTriggeringDeploymentId``; Auto Scaling launches
  ``autoscaling``, ``CodeDeployAutoUpdate`` and ``autoscalingTermination`` (they install
  the group's current revision, so they are never stopped, blamed or a rollback source).
  Any other creator is a deployment the kit cannot place: it skips and pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from rollback import descriptions, lambda_target
from rollback.alarm_event import AlarmEvent
from rollback.config import KIT_MARKER, Config

RUNNING_STATUSES = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
# DeploymentInfo.creator, read as the docstring says (CodeDeploy API Reference,
# DeploymentInfo and DeploymentCreator).
RELEASE_CREATORS = frozenset({"user", "CloudFormation"})
ROLLBACK_CREATORS = frozenset({"codeDeployRollback", "CloudFormationRollback"})
LAUNCH_CREATORS = frozenset({"autoscaling", "CodeDeployAutoUpdate", "autoscalingTermination"})
FINAL_FAILED = frozenset({"Stopped", "Failed"})
BUDGET_WINDOW = timedelta(hours=1)
# ListDeployments filters on createTime, but the bake window counts from completeTime and an
# in-place deployment through a load balancer can run for hours (deregistration delay per
# instance), so the lookback reaches a day further back than the bake window or budget hour.
DEPLOYMENT_DURATION_ALLOWANCE = timedelta(hours=24)

Action = Literal["stop", "redeploy", "retry", "would-stop", "would-redeploy", "skipped"]


@dataclass(frozen=True, kw_only=True)
class Deployment:
    deployment_id: str
    status: str
    create_time: datetime
    complete_time: datetime | None
    creator: str
    description: str
    revision: Mapping[str, Any]
    previous_revision: Mapping[str, Any]
    # rollbackInfo.rollbackTriggeringDeploymentId: set on a rollback, whoever created it.
    rollback_of: str | None = None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Deployment:
        """Build from one BatchGetDeployments ``deploymentsInfo`` item (boto3 types)."""
        return cls(
            deployment_id=str(info["deploymentId"]),
            status=str(info.get("status", "")),
            create_time=info["createTime"],
            complete_time=info.get("completeTime"),
            creator=str(info.get("creator", "")),
            description=str(info.get("description") or ""),
            revision=info.get("revision") or {},
            previous_revision=info.get("previousRevision") or {},
            rollback_of=(info.get("rollbackInfo") or {}).get("rollbackTriggeringDeploymentId"),
        )

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def is_rollback(self) -> bool:
        return self.is_aws_rollback or KIT_MARKER in self.description

    @property
    def is_aws_rollback(self) -> bool:
        """A rollback CodeDeploy or CloudFormation made (not the kit's own redeploy)."""
        return (
            self.creator in ROLLBACK_CREATORS or bool(self.rollback_of)
        ) and KIT_MARKER not in self.description

    @property
    def is_launch(self) -> bool:
        """Created for an Auto Scaling launch, not a release (API Reference, DeploymentInfo)."""
        return self.creator in LAUNCH_CREATORS

    @property
    def is_release(self) -> bool:
        return self.creator in RELEASE_CREATORS and not self.is_rollback


@dataclass(frozen=True, kw_only=True)
class Decision:
    action: Action
    reason: str
    notify: bool
    deployment_id: str | None = None
    revision: Mapping[str, Any] | None = None
    revision_source_id: str | None = None
    description: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    # None: the group's own deployment configuration (the EC2 redeploy).
    deployment_config_name: str | None = None


def screen(alarm: AlarmEvent, config: Config) -> Decision | None:
    """Skip, silently and before any AWS call, what is not one of our alarms going to ALARM."""
    if alarm.state != "ALARM":
        return _skip(f"alarm state is {alarm.state}, not ALARM: nothing to do", notify=False)
    if alarm.alarm_name not in config.rollback_alarm_names:
        return _skip(f"alarm {alarm.alarm_name!r} is not one of ROLLBACK_ALARM_NAMES", notify=False)
    return None


def lookback_start(alarm: AlarmEvent, config: Config, now: datetime) -> datetime:
    """The createTime from which ListDeployments must look to see everything decide needs."""
    earliest = min(alarm.timestamp - timedelta(minutes=config.bake_minutes), now - BUDGET_WINDOW)
    return earliest - DEPLOYMENT_DURATION_ALLOWANCE


def decide(
    *,
    alarm: AlarmEvent,
    config: Config,
    deployments: Iterable[Deployment],
    now: datetime,
) -> Decision:
    """The whole decision on plain data (``settle`` then ``conclude``)."""
    settled = settle(alarm=alarm, config=config, deployments=deployments, now=now)
    return conclude(settled, alarm=alarm, config=config)


def conclude(settled: Decision | Settled, *, alarm: AlarmEvent, config: Config) -> Decision:
    """The decision ``settle`` left to make: the stop, or the undo of the newest release."""
    if isinstance(settled, Decision):
        return settled
    newest = settled.newest
    if settled.plan == "stop":
        return Decision(
            action="would-stop" if config.dry_run else "stop",
            reason=(
                f"deployment {newest.deployment_id} is still {newest.status} when alarm "
                f"{alarm.alarm_name} fired: stop it and let CodeDeploy roll back"
            ),
            notify=True,
            deployment_id=newest.deployment_id,
        )
    if config.is_lambda:
        return _undo_alias_shift(newest, alarm, config)
    return _redeploy_previous(settled.ordered, newest, alarm, config)


def appspec_to_read(settled: Decision | Settled, config: Config) -> Deployment | None:
    """The Lambda release ``conclude`` will undo, when its AppSpec content is still to be
    read (GetApplicationRevision); None for every other decision."""
    if not config.is_lambda or isinstance(settled, Decision) or settled.plan != "redeploy":
        return None
    newest = settled.newest
    return newest if lambda_target.missing_content(newest.revision) else None


@dataclass(frozen=True)
class Settled:
    """What the rules leave to do: ``plan`` (stop or redeploy) for ``newest``."""

    plan: Action
    ordered: list[Deployment]
    newest: Deployment

    def with_newest(self, filled: Deployment) -> Settled:
        """The same, ``newest`` replaced by ``filled`` (its AppSpec content read)."""
        ordered = [filled if d is self.newest else d for d in self.ordered]
        return Settled(self.plan, ordered, filled)


def settle(
    *, alarm: AlarmEvent, config: Config, deployments: Iterable[Deployment], now: datetime
) -> Decision | Settled:
    """Every rule but how the stop or the undo is made: the skip that ends the decision,
    or what is left to do."""
    ordered = releases_and_rollbacks(deployments)
    if not ordered:
        return _skip(
            "alarm not correlated with a recent deployment: the group has no deployment "
            "in the lookback window (Auto Scaling launches aside: they are not releases)",
            notify=True,
        )
    newest = ordered[-1]
    plan = _plan(newest, alarm, config)
    if isinstance(plan, Decision):
        return plan
    recent_rollbacks = rollbacks_since(ordered, now - BUDGET_WINDOW)
    if len(recent_rollbacks) >= config.max_rollbacks_per_hour:
        return skip_of(
            newest,
            f"rollback budget spent: {len(recent_rollbacks)} rollback(s) in the group in the "
            f"last hour (MAX_ROLLBACKS_PER_HOUR={config.max_rollbacks_per_hour}); "
            "a human is needed",
            notify=True,
            facts={"recentRollbackIds": [d.deployment_id for d in recent_rollbacks]},
        )
    return Settled(plan, ordered, newest)


def _plan(newest: Deployment, alarm: AlarmEvent, config: Config) -> Action | Decision:
    """``stop`` or ``redeploy`` for the newest release, or the skip that ends the decision."""
    if newest.is_rollback:
        # Duplicate and concurrent deliveries land here after the first one acted.
        return skip_of(
            newest,
            f"newest deployment {newest.deployment_id} is a rollback "
            f"(creator {newest.creator}); never roll back a rollback",
            notify=False,
        )
    if not newest.is_release:
        return skip_of(
            newest,
            f"newest deployment {newest.deployment_id} has creator {newest.creator!r}, which "
            "the kit does not know as a release, a rollback or an Auto Scaling launch: a "
            "human decides",
            notify=True,
        )
    if newest.create_time > alarm.timestamp:
        return skip_of(
            newest,
            f"newest deployment {newest.deployment_id} was created after the alarm fired "
            f"({_iso(newest.create_time)} > {_iso(alarm.timestamp)}): it cannot have caused it",
            notify=True,
        )
    if newest.status in FINAL_FAILED and _baked_recently(newest, alarm, config):
        # CodeDeploy stops a deployment on the group's alarms by itself and rolls back
        # stopped and failed ones; its rollback deployment may not exist yet. Nothing for
        # the kit to undo, and the deployment-failed rule has already paged.
        return skip_of(
            newest,
            f"newest deployment {newest.deployment_id} is already {newest.status}: CodeDeploy's "
            "own automatic rollback takes over",
            notify=False,
        )
    if newest.is_running:
        # Lambda too: AWS documents no interval at which CodeDeploy polls the group's alarms,
        # and an alarm that stays in ALARM sends no second event, so leaving the stop to
        # CodeDeploy can let the release finish Succeeded unwatched. If CodeDeploy stopped it
        # first, StopDeployment answers DeploymentAlreadyCompletedException and the workflow
        # decides again.
        return "stop"
    if newest.status == "Succeeded" and _baked_recently(newest, alarm, config):
        return "redeploy"
    return skip_of(
        newest,
        "alarm not correlated with a recent deployment: newest deployment "
        f"{newest.deployment_id} is {newest.status}"
        + (f", completed {_iso(newest.complete_time)}" if newest.complete_time else "")
        + f", outside the {config.bake_minutes}-minute bake window before "
        f"{_iso(alarm.timestamp)}",
        notify=True,
    )


def _redeploy_previous(
    ordered: Sequence[Deployment], newest: Deployment, alarm: AlarmEvent, config: Config
) -> Decision:
    """EC2: redeploy the revision the group ran before ``newest``."""
    source = previous_good(ordered, newest)
    if source is not None:
        revision, source_id = source.revision, source.deployment_id
    elif newest.previous_revision and newest.previous_revision != newest.revision:
        # The last good deployment can be older than the lookback; CodeDeploy records the
        # revision the group ran before this one (API Reference, DeploymentInfo).
        revision, source_id = newest.previous_revision, None
    else:
        return skip_of(
            newest,
            f"no earlier successful revision to roll back to from {newest.deployment_id}",
            notify=True,
        )
    what = "the previous good revision"
    return redeploy(
        config,
        "redeploy",
        reason=_bake_reason(newest, alarm, config, what),
        deployment_id=newest.deployment_id,
        revision=revision,
        source_id=source_id,
        description=rollback_description(newest.deployment_id, alarm, source_id),
    )


def _undo_alias_shift(newest: Deployment, alarm: AlarmEvent, config: Config) -> Decision:
    """LAMBDA: a deployment that shifts the alias from the bad version back, all at once."""
    shift = lambda_target.undo(newest)
    if isinstance(shift, str):
        return skip_of(
            newest,
            f"deployment {newest.deployment_id} has no Lambda AppSpec the kit can read "
            f"({shift}): it cannot tell which version to go back to",
            notify=True,
        )
    configured = (config.lambda_function_name, config.lambda_alias_name)
    if (shift.function, shift.alias) != configured:
        return skip_of(
            newest,
            f"deployment {newest.deployment_id} moves alias {shift.alias} of {shift.function}, "
            f"not {configured[1]} of {configured[0]} (LAMBDA_FUNCTION_NAME, "
            "LAMBDA_ALIAS_NAME): a human decides",
            notify=True,
        )
    undo_facts = lambda_target.facts(shift)
    return redeploy(
        config,
        "redeploy",
        reason=_bake_reason(newest, alarm, config, f"shift {lambda_target.moves(undo_facts)}"),
        deployment_id=newest.deployment_id,
        revision=lambda_target.revision(shift),
        source_id=None,
        # The versions first: the alarm name may be long enough to be cut.
        description=descriptions.fit(
            descriptions.rollback_head(newest.deployment_id),
            f"alias {shift.alias} version {shift.current} -> {shift.target}; alarm in ALARM "
            f"at {_iso(alarm.timestamp)}: {alarm.alarm_name}",
        ),
        facts={"aliasShift": undo_facts},
        config_name=lambda_target.ALL_AT_ONCE,
    )


def _bake_reason(newest: Deployment, alarm: AlarmEvent, config: Config, what: str) -> str:
    return (
        f"deployment {newest.deployment_id} completed {_iso(newest.complete_time)}, within "
        f"{config.bake_minutes} minutes before alarm {alarm.alarm_name} fired: {what}"
    )


def redeploy(
    config: Config,
    action: Literal["redeploy", "retry"],
    *,
    reason: str,
    deployment_id: str,
    revision: Mapping[str, Any],
    source_id: str | None,
    description: str,
    facts: Mapping[str, Any] | None = None,
    config_name: str | None = None,
) -> Decision:
    """A CreateDeployment decision (a dry run only says it would)."""
    return Decision(
        action="would-redeploy" if config.dry_run else action,
        reason=reason,
        notify=True,
        deployment_id=deployment_id,
        revision=revision,
        revision_source_id=source_id,
        description=description,
        facts=facts or {},
        deployment_config_name=config_name,
    )


def releases_and_rollbacks(deployments: Iterable[Deployment]) -> list[Deployment]:
    """Everything but Auto Scaling launches, oldest first by createTime (ListDeployments
    promises no order)."""
    return sorted((d for d in deployments if not d.is_launch), key=lambda d: d.create_time)


def active_launches(deployments: Iterable[Deployment]) -> list[Deployment]:
    """Running deployments CodeDeploy made for Auto Scaling launches."""
    return [d for d in deployments if d.is_launch and d.is_running]


def previous_good(ordered: Sequence[Deployment], newest: Deployment) -> Deployment | None:
    """The newest Succeeded deployment before ``newest`` that ran a different revision."""
    for candidate in reversed(ordered):
        if (
            candidate.create_time < newest.create_time
            and candidate.status == "Succeeded"
            and candidate.revision != newest.revision
        ):
            return candidate
    return None


def rollbacks_since(deployments: Iterable[Deployment], since: datetime) -> list[Deployment]:
    """Rollbacks in the group since ``since``: the kit's own (marker) and CodeDeploy's.

    A StopDeployment rollback is created by CodeDeploy and cannot carry the kit's marker, so
    every rollback in the group counts against the budget: the conservative reading.
    """
    return [d for d in deployments if d.is_rollback and d.create_time >= since]


def rollback_description(bad_id: str, alarm: AlarmEvent, source_id: str | None) -> str:
    source = f"revision of {source_id}" if source_id else "the group's previous revision"
    return descriptions.fit(
        descriptions.rollback_head(bad_id),
        f"redeploying {source}; alarm in ALARM at {_iso(alarm.timestamp)}: {alarm.alarm_name}",
    )


def _baked_recently(deployment: Deployment, alarm: AlarmEvent, config: Config) -> bool:
    if deployment.complete_time is None:
        return False
    return deployment.complete_time >= alarm.timestamp - timedelta(minutes=config.bake_minutes)


def _skip(reason: str, *, notify: bool) -> Decision:
    """A skip before any deployment is in question (no event of ours, an empty group)."""
    return Decision(action="skipped", reason=reason, notify=notify)


def skip_of(
    deployment: Deployment,
    reason: str,
    *,
    notify: bool,
    facts: Mapping[str, Any] | None = None,
) -> Decision:
    """A skip about ``deployment``: the one the page and the log name."""
    return Decision(
        action="skipped",
        reason=reason,
        notify=notify,
        deployment_id=deployment.deployment_id,
        facts=facts or {},
    )


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "unknown"
