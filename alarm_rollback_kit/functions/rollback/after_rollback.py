"""What to do when CodeDeploy's own rollback of a release ended Stopped or Failed.

The function hears of it from CodeDeploy's FAILURE/STOP state-change notification
(``deployment_event``), not from an alarm: the alarms that caused the rollback may also stop
it, and an alarm that stays in ALARM sends no second event. Plain data in, one ``Decision``
out, built with the same ``decision`` helpers as the alarm path; no AWS calls here.
"""

from __future__ import annotations

from collections.abc import Iterable

from rollback import descriptions
from rollback.config import Config
from rollback.decision import Decision, Deployment, redeploy, releases_and_rollbacks, skip_of


def decide_after_rollback_ended(
    *, ended: Deployment, config: Config, deployments: Iterable[Deployment]
) -> Decision:
    """CodeDeploy's rollback ``ended`` finished Stopped or Failed: redeploy its revision once.

    The rollback may have been stopped by the very alarms that caused it (whether CodeDeploy
    polls a rollback deployment's alarms is not documented), so the bad release can still be
    serving. The kit's retry ignores the alarms and has automatic rollback off, and happens
    at most once per rollback: a second failure is for a human. The hourly budget does not
    apply: it already counts ``ended`` itself.
    """
    if config.is_lambda:
        # A stopped Lambda shift can leave the alias weighted across two versions (CodeDeploy
        # User Guide, "Troubleshoot AWS Lambda deployment issues"); which way to point it is
        # a human's call, and the deployment-failed rule has paged.
        return skip_of(
            ended,
            f"CodeDeploy's rollback {ended.deployment_id} of the Lambda alias ended "
            f"{ended.status}: the alias may still route to the bad version, check its weights",
            notify=True,
        )
    ordered = releases_and_rollbacks(deployments)
    marker = descriptions.retry_head(ended.deployment_id)
    retried = [d for d in ordered if d.description.startswith(marker)]
    if retried:
        return skip_of(
            ended,
            f"rollback {ended.deployment_id} was already retried once "
            f"({retried[0].deployment_id}); a human decides now",
            notify=False,
        )
    newer = [d for d in ordered if d.create_time > ended.create_time]
    if newer:
        return skip_of(
            ended,
            f"deployment {newer[-1].deployment_id} was created after rollback "
            f"{ended.deployment_id} ended {ended.status}: the group has moved on",
            notify=False,
        )
    if not ended.revision:
        return skip_of(
            ended,
            f"rollback {ended.deployment_id} names no revision to redeploy",
            notify=True,
        )
    return redeploy(
        config,
        "retry",
        reason=(
            f"CodeDeploy's rollback {ended.deployment_id} ended {ended.status}, so the bad "
            "release may still be serving: redeploy the rollback's revision once, alarms "
            "ignored, automatic rollback off"
        ),
        deployment_id=ended.deployment_id,
        revision=ended.revision,
        source_id=ended.deployment_id,
        description=descriptions.fit(marker, f"it ended {ended.status}; redeploying its revision"),
    )
