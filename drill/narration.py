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
from drill.outcome import Event, Row
from drill.scenario import Scenario
from drill.template import Kit
from drill.world import World

SNS_SUBJECT_LIMIT = 99


def invocation_events(record: KitInvocation, world: World) -> list[Event]:
    """What one invocation of the function did, as timeline events."""
    at, inv = record.at, record.invocation
    result = inv.result or {}
    if inv.error is not None:
        said = f"FAILED with {type(inv.error).__name__}: {inv.error}"
    else:
        said = f"{result.get('action')} - {result.get('reason')}"
    wall = f"{inv.wall_seconds * 1000:.0f} ms wall time"
    texts = [
        ("decision", f"rollback function (attempt {record.attempt}): {said} ({wall})"),
        ("calls", "AWS calls: " + (", ".join(inv.aws_calls) or "none")),
    ]

    def key_and_version(revision: Any) -> tuple[Any, str]:
        key = (revision or {}).get("s3Location", {}).get("key")
        return key, world.history.versions.get(str(key), "?")

    for refused in record.refused:
        key, version = key_and_version(refused.get("revision"))
        text = f"CodeDeploy refused CreateDeployment of {key} ({version}): the scenario's "
        texts.append(("codedeploy", text + "rollback fails"))
    texts += [
        ("codedeploy", f"CodeDeploy: deployment {stopped} stopped") for stopped in record.stopped
    ]
    for info in record.created:
        key, version = key_and_version(info.get("revision"))
        text = f"CodeDeploy: rollback deployment {info['deploymentId']} created by "
        texts.append(("codedeploy", text + f"{info.get('creator')} (revision {key} = {version})"))
    if result.get("invalidationId"):
        texts.append(
            (
                "cloudfront",
                f"CloudFront: invalidation {result['invalidationId']} on distribution "
                f"{world.environment.get('DISTRIBUTION_ID', '?')} (paths "
                f"{world.environment.get('INVALIDATION_PATHS', '/*')})",
            )
        )
    texts += [("sns", f'SNS notification: "{note["Subject"]}"') for note in record.notifications]
    return [Event(at, kind, text) for kind, text in texts]


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
    cut = next(
        (
            note["Subject"]
            for record in invocations
            for note in record.notifications
            if len(note["Subject"]) >= SNS_SUBJECT_LIMIT
        ),
        None,
    )
    if cut is None:
        return []
    return [
        f"SNS subjects reach the {SNS_SUBJECT_LIMIT}-character cut (Amazon SNS API "
        f"Reference, Publish: under 100) with these alarm names, so on-call reads "
        f'"{cut}": the end of the alarm name is cut (the message body has it whole)'
    ]


def without_stopped_endings(
    kit: Kit, world: World, invocations: Sequence[KitInvocation], events: list[Event]
) -> tuple[list[Event], list[str]]:
    """Drop the "ends ..." events of deployments the function stopped; note CodeDeploy's own
    stop-on-alarm path when the group has it."""
    stopped = [
        found
        for record in invocations
        for deployment_id in record.stopped
        if (found := world.history.scenario_deployment(deployment_id)) is not None
    ]
    versions = {d.version for d in stopped}
    kept = [
        e
        for e in events
        if not (e.kind == "deployment" and "status" in e.data and e.data["version"] in versions)
    ]
    group = kit.template.properties(kit.group_id)
    if not (stopped and group.get("AlarmConfiguration", {}).get("Enabled")):
        return kept, []
    return kept, [
        f"{', '.join(sorted(versions))} was still running: CodeDeploy itself also polls "
        "the group's alarms (AlarmConfiguration, DEPLOYMENT_STOP_ON_ALARM) and stops "
        "and rolls back a running deployment; moto does not, so the drill shows the "
        "function's path. Whichever acts first, the other finds the deployment stopped "
        "or a rollback newest and does nothing more."
    ]


def rows(
    scenario: Scenario,
    kit: Kit,
    replays: Mapping[str, Replay],
    recovery_from: datetime | None,
) -> list[Row]:
    """One row a minute: the headline series and every replayed alarm's state."""
    rows = []
    series = scenario.series
    for index, minute in enumerate(scenario.timestamps()):

        def value(key: str, i: int = index) -> float | None:
            values = series.get(key)
            return values[i] if values is not None else None

        # The state in force at the end of this minute on the wall clock.
        moment = minute + timedelta(seconds=scenario.period - 1)
        states = tuple(replays[a.logical_id].state_at(moment) or OK for a in kit.alarms)
        rows.append(
            Row(
                minute=minute,
                requests=value("RequestCount"),
                elb_5xx=value("HTTPCode_ELB_5XX_Count"),
                target_5xx=value("HTTPCode_Target_5XX_Count"),
                healthy=value("HealthyHostCount"),
                states=states,
                modelled=recovery_from is not None and minute >= recovery_from,
            )
        )
    return rows


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
