"""The descriptions the kit writes on the deployments it creates, cut to CodeDeploy's limit.

CodeDeploy takes at most 256 characters of deployment description (CodeDeploy User Guide,
"Quotas"; CreateDeployment answers a longer one with DescriptionTooLongException), and that
refusal is not retryable: the bad release would stay live. Names CloudFormation generates
are long (an alarm name can reach 255 characters), so every description starts with what
later invocations read back, the kit's marker and the deployment it undoes or retries
(``is_rollback`` and the retry check look for them), and the rest, meant for a human, is
cut to fit.
"""

from __future__ import annotations

from rollback.config import KIT_MARKER

MAX_DESCRIPTION = 256
CUT = "..."


def rollback_head(bad_id: str) -> str:
    return f"{KIT_MARKER} rollback of {bad_id}"


def retry_head(rollback_id: str) -> str:
    """The start of a retry's description, which ``after_rollback.decide_after_rollback_ended`` looks for."""
    return f"{KIT_MARKER} retry of rollback {rollback_id}"


def fit(head: str, detail: str) -> str:
    """``head: detail`` in at most MAX_DESCRIPTION characters; only ``detail`` is cut."""
    text = f"{head}: {detail}"
    if len(text) <= MAX_DESCRIPTION:
        return text
    room = MAX_DESCRIPTION - len(head) - len(": ") - len(CUT)
    if room <= 0:
        # A deployment id is a few characters; a head this long is not one the kit makes.
        return head[:MAX_DESCRIPTION]
    return f"{head}: {detail[:room]}{CUT}"
