"""The kit's rollback function on the API path: its rule's alarms, replayed through its code.

When the API stack has an EventBridge rule on its alarms invoking the kit's function, each
ALARM transition of an alarm the rule lists becomes the documented alarm event
(``drill.alarm_event``) for the function imported from its ``cdk.out`` asset
(``drill.function``), in a moto account (``tests.support.lambda_world``: the function's
versions 1 and 2 behind ``live``, the Lambda group) where the scenario's releases start and
end at their times. Every ALARM transition reaches the function, during a deployment too:
it stops a running release with rollback and undoes a succeeded one, and the rollback
deployment either starts ends ``ROLLBACK_S`` (its assumed long end) later. A deployment
ending as the event arrives counts as still running. Delivery takes no time on the drill's
clock (an assumption in the function's favour, as on the EC2 path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from moto import mock_aws

from drill.alarm_event import alarm_event
from drill.api_scenario import ROLLBACK_S, ApiScenario, Release, success_time
from drill.assembly import ACCOUNT, REGION, Assembly, Template
from drill.function import DrillContext, load
from drill.resolver import Resolver
from drill.sandbox import client, sandbox_environment
from drill.scenario import ScenarioError
from drill.template import _asset_dir, _construct_label, _rule_function, alarm_rules, all_alarms
from tests.support import codedeploy_gaps, lambda_world
from tests.support import codedeploy_lambda_gaps as gaps

NAMES = {  # the moto account's names stand in for the template's
    "APPLICATION_NAME": lambda_world.APPLICATION,
    "DEPLOYMENT_GROUP_NAME": lambda_world.GROUP,
    "LAMBDA_FUNCTION_NAME": lambda_world.FUNCTION,
    "LAMBDA_ALIAS_NAME": lambda_world.ALIAS,
}


def kit_function(template: Template) -> tuple[str, str] | None:
    """(the first alarm rule with a Lambda target, that function): the kit's, or None."""
    rules = ((r, _rule_function(template, r)) for r in alarm_rules(template.body))
    return next(((r, f) for r, f in rules if f), None)


def _resolver(template: Template, assembly: Assembly, version: str) -> Resolver:
    """The published version is the one released; a named alarm keeps its name."""
    physical = {
        (template.name, v): {"Version": version} for v in template.of_type("AWS::Lambda::Version")
    }
    for lid, props in all_alarms(template.body):
        if isinstance(name := props.get("AlarmName"), str):
            arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
            physical[(template.name, lid)] = {"Ref": name, "Arn": arn}
    return Resolver(assembly, physical)


def _start(release: Release, ids: list[str]) -> None:
    deployment_id, hook = gaps.start_deployment(
        lambda_world.APPLICATION,
        lambda_world.GROUP,
        function_name=lambda_world.FUNCTION,
        alias=lambda_world.ALIAS,
        current_version=release.previous,
        target_version=release.version,
    )
    _succeed_hook(deployment_id, hook, release.create_time)
    ids.append(deployment_id)


def _succeed_hook(deployment_id: str, hook: str, created: datetime) -> None:
    codedeploy_gaps.set_create_time(deployment_id, created)
    client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=hook, status="Succeeded"
    )


def _finish(deployment_id: str, status: str, at: datetime) -> None:
    """End a deployment unless it already ended (the kit's function stopped it)."""
    if codedeploy_gaps.get(deployment_id).status in codedeploy_gaps.RUNNING_STATUSES:
        gaps.finish_deployment(deployment_id, status, at=at)


def _history(scenario: ApiScenario, config: str, stops: Mapping[int, Any]) -> Any:
    """The releases' starts and CodeDeploy's ends as (time, order, action), and the ids they
    fill in."""
    ids: list[str] = []
    steps: list[Any] = []
    for i, release in enumerate(scenario.releases):
        steps.append((release.create_time, 2 * i, partial(_start, release, ids)))
        end, status = (
            (stops[i][0], stops[i][2])
            if i in stops
            else (success_time(release, config), "Succeeded")
        )
        if end <= scenario.end or i in stops:
            steps.append((end, 2 * i + 1, lambda i=i, s=status, at=end: _finish(ids[i], s, at)))
    return sorted(steps, key=lambda step: step[:2]), ids


def _world(env: Mapping[str, str], start: datetime) -> None:
    """The moto account: the Lambda group and function, the function's topic and table."""
    clients = {name: client(name) for name in ("codedeploy", "dynamodb", "iam", "lambda", "sns")}
    lambda_world.build(start, clients)
    clients["sns"].create_topic(Name=env["TOPIC_ARN"].rsplit(":", 1)[-1])
    key = {"AttributeName": "pk"}
    clients["dynamodb"].create_table(
        TableName=env["IDEMPOTENCY_TABLE"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[key | {"KeyType": "HASH"}],
        AttributeDefinitions=[key | {"AttributeType": "S"}],
    )


def _end_rollbacks(ids: list[str], at: datetime) -> None:
    """The rollback deployment the function's stop (CodeDeploy's) or undo (its own) started
    ends ``ROLLBACK_S``'s long end after ``at``, the alias back on the old version."""
    for rollback in list(codedeploy_gaps.backend().deployments.values()):
        found = rollback.deployment_id
        if found not in ids and rollback.status in codedeploy_gaps.RUNNING_STATUSES:
            _succeed_hook(found, gaps.track(found), at)
            _finish(found, "Succeeded", at + timedelta(seconds=ROLLBACK_S[-1]))


def undos(
    kit: Any, scenario: ApiScenario, replays: Mapping[str, Any], stops: Mapping[int, Any]
) -> Any:
    """Release index -> (when the kit's function stopped or undid it, why, how the release
    ended), and how many stops and undos it made in all (``kit``: ``drill.api_drill.ApiKit``;
    ``stops``: CodeDeploy's own, index -> (at, why, "Stopped"))."""
    (rule_id, function_id), template = kit.kit_function, kit.template
    if {v for r in scenario.releases for v in (r.previous, r.version)} - {"1", "2"}:
        raise ScenarioError(scenario.name, "deployments", "", "the kit's account has versions 1, 2")
    resolver = _resolver(template, kit.assembly, scenario.releases[-1].version)
    pattern = resolver.resolve(template.properties(rule_id).get("EventPattern", {}), template)
    props = template.properties(function_id)
    env = {
        k: str(resolver.resolve(v, template))
        for k, v in props.get("Environment", {}).get("Variables", {}).items()
    } | NAMES
    function = load(_asset_dir(kit.assembly, template, function_id), str(props["Handler"]))
    events = sorted(
        (t.at, lid, t, r.transitions[i - 1] if i else None)
        for lid, r in replays.items()
        if resolver.attributes(template, lid)["Arn"] in pattern.get("resources", [])
        for i, t in enumerate(r.transitions)
        if t.new_state == "ALARM"
    )
    done: dict[int, tuple[datetime, str, str]] = {}
    count = 0
    with sandbox_environment(), mock_aws(), gaps.install():
        _world(env, scenario.start)
        steps, ids = _history(scenario, kit.group_config, stops)
        for at, lid, transition, previous in events:
            while steps and steps[0][0] < at:  # a tie is the worse case: still running
                steps.pop(0)[2]()
            names = resolver.attributes(template, lid)
            alarm = json.loads(json.dumps(resolver.resolve(template.properties(lid), template)))
            event = alarm_event(
                name=names["Ref"],
                arn=names["Arn"],
                properties=alarm,
                transition=transition,
                previous=previous,
                at=at,
            )
            context = DrillContext(f"drill-{at:%H%M%S}-{lid}", function_id, function_id)
            result = function.invoke(event, now=at, environment=env, context=context).result
            action = (result or {}).get("action")
            if action in ("stopped", "redeployed") and ids:
                count += 1
                verb, end = ("stops", "Stopped") if action == "stopped" else ("undoes", "Succeeded")
                label = _construct_label(template.resource(lid), lid)
                done.setdefault(len(ids) - 1, (at, f"the kit's function {verb} it: {label}", end))
                _end_rollbacks(ids, at)
    return done, count
