"""The kit's rollback function on the API path: its rule's alarms, replayed through its code.

When the API stack has an EventBridge rule on its alarms invoking the kit's function, each
ALARM transition of an alarm the rule lists becomes the documented alarm event
(``drill.alarm_event``) for the function imported from its ``cdk.out`` asset
(``drill.function``), in a moto account (``tests.support.lambda_world``: the function's
versions 1 and 2 behind ``live``, the Lambda group) where the scenario's releases start and
end at their times; a tie counts as still running, the worse case, since the function
leaves a running Lambda deployment to CodeDeploy. The rule matches ALARM of those alarms
only; delivery takes no time on the drill's clock; each undo ends ``ALIAS_SHIFT_S`` later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from moto import mock_aws

from drill.alarm_event import alarm_event
from drill.api_scenario import ALIAS_SHIFT_S, ApiScenario, Release, success_time
from drill.assembly import ACCOUNT, REGION, Assembly, Template
from drill.function import DrillContext, load
from drill.resolver import Resolver
from drill.sandbox import client, sandbox_environment
from drill.scenario import ScenarioError
from drill.template import _asset_dir, _construct_label, _rule_function, all_alarms
from tests.support import codedeploy_gaps, lambda_world
from tests.support import codedeploy_lambda_gaps as gaps

NAMES = {  # the moto account's names stand in for the template's
    "APPLICATION_NAME": lambda_world.APPLICATION,
    "DEPLOYMENT_GROUP_NAME": lambda_world.GROUP,
    "LAMBDA_FUNCTION_NAME": lambda_world.FUNCTION,
    "LAMBDA_ALIAS_NAME": lambda_world.ALIAS,
}


def kit_function(assembly: Assembly, template: Template, rule_id: str) -> Any:
    """(rule, the function it invokes) in the template, or None without one."""
    function_id = _rule_function(template, rule_id)
    if function_id is None:
        return None
    _asset_dir(assembly, template, function_id)  # fails early, naming the function
    return rule_id, function_id


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


def _history(scenario: ApiScenario, config: str, stops: Mapping[int, Any]) -> Any:
    """The releases' starts and ends as (time, order, action), and the ids they fill in."""
    ids: list[str] = []
    steps: list[Any] = []
    for i, release in enumerate(scenario.releases):
        steps.append((release.create_time, 2 * i, partial(_start, release, ids)))
        end = stops[i][0] if i in stops else success_time(release, config)
        status = "Stopped" if i in stops else "Succeeded"
        if i in stops or end <= scenario.end:
            finish = partial(
                lambda i, s, at: gaps.finish_deployment(ids[i], s, at=at), i, status, end
            )
            steps.append((end, 2 * i + 1, finish))
    return sorted(steps, key=lambda step: step[:2]), ids


def undos(
    kit: Any, scenario: ApiScenario, replays: Mapping[str, Any], stops: Mapping[int, Any]
) -> Any:
    """Release index -> (when the kit's function created its undo, why), and how many undos
    it created in all (``kit``: ``drill.api_drill.ApiKit``)."""
    (rule_id, function_id), template = kit.kit_function, kit.template
    if {v for r in scenario.releases for v in (r.previous, r.version)} - {"1", "2"}:
        raise ScenarioError(scenario.name, "deployments", "", "the kit's account has versions 1, 2")
    resolver = _resolver(template, kit.assembly, scenario.releases[-1].version)
    pattern = resolver.resolve(template.properties(rule_id).get("EventPattern", {}), template)
    arns = set(pattern.get("resources", []))
    props = template.properties(function_id)
    env = {
        k: str(resolver.resolve(v, template))
        for k, v in props.get("Environment", {}).get("Variables", {}).items()
    } | NAMES
    function = load(_asset_dir(kit.assembly, template, function_id), str(props["Handler"]))
    events = sorted(
        (t.at, lid, t, r.transitions[i - 1] if i else None)
        for lid, r in replays.items()
        if resolver.attributes(template, lid)["Arn"] in arns
        for i, t in enumerate(r.transitions)
        if t.new_state == "ALARM"
    )
    done: dict[int, tuple[datetime, str]] = {}
    count = 0
    with sandbox_environment(), mock_aws(), gaps.install():
        clients = {
            name: client(name) for name in ("codedeploy", "dynamodb", "iam", "lambda", "sns")
        }
        lambda_world.build(scenario.start, clients)
        clients["sns"].create_topic(Name=env["TOPIC_ARN"].rsplit(":", 1)[-1])
        clients["dynamodb"].create_table(
            TableName=env["IDEMPOTENCY_TABLE"],
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        steps, ids = _history(scenario, kit.group_config, stops)
        for at, lid, transition, previous in events:
            while steps and steps[0][0] < at:  # a tie is the worse case: still running
                steps.pop(0)[2]()
            names = resolver.attributes(template, lid)
            properties = json.loads(
                json.dumps(resolver.resolve(template.properties(lid), template))
            )
            event = alarm_event(
                name=names["Ref"],
                arn=names["Arn"],
                properties=properties,
                transition=transition,
                previous=previous,
                at=at,
            )
            context = DrillContext(f"drill-{at:%H%M%S}-{lid}", function_id, function_id)
            result = function.invoke(event, now=at, environment=env, context=context).result or {}
            if result.get("action") == "redeployed" and ids:
                count += 1
                label = _construct_label(template.resource(lid), lid)
                done.setdefault(len(ids) - 1, (at, f"the kit's function undoes it: {label}"))
                undo = str(result["rollbackDeploymentId"])
                _succeed_hook(undo, gaps.track(undo), at)
                gaps.finish_deployment(undo, "Succeeded", at=at + timedelta(seconds=ALIAS_SHIFT_S))
    return done, count
