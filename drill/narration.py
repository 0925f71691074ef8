"""The drill's timeline and table, told from what the run recorded.

Plain functions over the scenario, the kit and the function's invocation records: the
events each invocation caused, the scenario's own deployments, the notes a reader needs
(a cut SNS subject, CodeDeploy's own stop-on-alarm path), one row per minute, the diagnosis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from drill.evaluator import OK, Replay
from drill.function import KitInvocation
from drill.outcome import SERIES, Event, Row
from drill.scenario import Scenario
from drill.template import Kit
from drill.world import World

SNS_SUBJECT_LIMIT = 99


def invocation_events(record: KitInvocation, world: World) -> list[Event]:
    """What one invocation of the function did, as timeline events."""
    inv, result, environment = record.invocation, record.invocation.result or {}, world.environment
    said = f"{result.get('action')} - {result.get('reason')}"
    if inv.error is not None:
        said = f"FAILED with {type(inv.error).__name__}: {inv.error}"

    def revision(info: Mapping[str, Any], form: str) -> str:
        key = info.get("revision", {}).get("s3Location", {}).get("key")
        return form.format(key=key, version=world.history.versions.get(str(key), "?"))

    texts = {
        "decision": [
            f"rollback function (attempt {record.attempt}): {said} "
            f"({inv.wall_seconds * 1000:.0f} ms wall time)"
        ],
        "calls": ["AWS calls: " + (", ".join(inv.aws_calls) or "none")],
        "codedeploy": [
            *(
                f"CodeDeploy refused CreateDeployment of {revision(info, '{key} ({version})')}: the "
                "scenario's rollback fails"
                for info in record.refused
            ),
            *(f"CodeDeploy: deployment {stopped} stopped" for stopped in record.stopped),
            *(
                f"CodeDeploy: rollback deployment {info['deploymentId']} created by "
                f"{info.get('creator')} (revision {revision(info, '{key} = {version}')})"
                for info in record.created
            ),
        ],
        "cloudfront": [
            f"CloudFront: invalidation {result['invalidationId']} on distribution "
            f"{environment.get('DISTRIBUTION_ID', '?')} (paths "
            f"{environment.get('INVALIDATION_PATHS', '/*')})"
        ]
        if result.get("invalidationId")
        else [],
        "sns": [f'SNS notification: "{note["Subject"]}"' for note in record.notifications],
    }
    return [Event(record.at, kind, text) for kind, each in texts.items() for text in each]


def deployment_events(scenario: Scenario) -> list[Event]:
    """The scenario's deployments and onset, as timeline events."""
    events: list[Event] = []
    for d in scenario.deployments:
        if d.create_time >= scenario.start:
            text = f"{d.version} deployment created ({d.s3_key})"
            events.append(Event(d.create_time, "deployment", text, {"version": d.version}))
        if d.complete_time and d.complete_time >= scenario.start:
            text = f"{d.version} deployment ends {d.status} (if nobody stops it)"
            data = {"version": d.version, "status": d.status}
            events.append(Event(d.complete_time, "deployment", text, data))
    if scenario.onset is not None:
        events.append(Event(scenario.onset, "onset", "onset: the first bad minute begins"))
    return events


def subject_notes(invocations: Sequence[KitInvocation]) -> list[str]:
    """A note when the page's subject reaches SNS's length limit."""
    subjects = (note["Subject"] for record in invocations for note in record.notifications)
    return [
        f"SNS subjects reach the {SNS_SUBJECT_LIMIT}-character cut (Amazon SNS API "
        f"Reference, Publish: under 100) with these alarm names, so on-call reads "
        f'"{cut}": the end of the alarm name is cut (the message body has it whole)'
        for cut in [s for s in subjects if len(s) >= SNS_SUBJECT_LIMIT][:1]
    ]


def without_stopped_endings(
    kit: Kit, world: World, invocations: Sequence[KitInvocation], events: list[Event]
) -> tuple[list[Event], list[str]]:
    """Drop the "ends ..." events of deployments the function stopped; note CodeDeploy's own
    stop-on-alarm path when the group has it."""
    stopped = {
        found.version
        for record in invocations
        for deployment_id in record.stopped
        if (found := world.history.scenario_deployment(deployment_id)) is not None
    }
    kept = [e for e in events if "status" not in e.data or e.data["version"] not in stopped]
    group = kit.template.properties(kit.group_id)
    if not (stopped and group.get("AlarmConfiguration", {}).get("Enabled")):
        return kept, []
    return kept, [
        f"{', '.join(sorted(stopped))} was still running: CodeDeploy itself also polls "
        "the group's alarms (AlarmConfiguration, DEPLOYMENT_STOP_ON_ALARM) and stops "
        "and rolls back a running deployment; moto does not, so the drill shows the "
        "function's path. Whichever acts first, the other finds the deployment stopped "
        "or a rollback newest and does nothing more."
    ]


def rows(
    scenario: Scenario, kit: Kit, replays: Mapping[str, Replay], recovery_from: datetime | None
) -> list[Row]:
    """One row a minute: the headline series and every replayed alarm's state."""
    empty = (None,) * len(scenario.timestamps())
    series = [scenario.series.get(metric, empty) for metric, *_ in SERIES]
    # The state in force at the end of each minute on the wall clock.
    end = timedelta(seconds=scenario.period - 1)
    return [
        Row._make(
            (
                minute,
                *(values[i] for values in series),
                tuple(replays[a.logical_id].state_at(minute + end) or OK for a in kit.alarms),
                recovery_from is not None and minute >= recovery_from,
            )
        )
        for i, minute in enumerate(scenario.timestamps())
    ]


def diagnosis(invocations: Sequence[KitInvocation]) -> str | None:
    """The "What it means" paragraph of the first page that has one."""
    for note in (note for record in invocations for note in record.notifications):
        lines = [line.strip() for line in note["Message"].splitlines()]
        if "What it means" in lines:
            rest = lines[lines.index("What it means") + 1 :]
            paragraph = rest[: rest.index("")] if "" in rest else rest
            if paragraph:
                return " ".join(paragraph)
    return None
