"""The kit's rollback function on the API path: its rule's alarms, replayed through its code.

When the API stack has an EventBridge rule on its alarms with the kit's function as target,
each ALARM transition of those alarms becomes the documented alarm event
(``drill.alarm_event``) and is handed to the function imported from its ``cdk.out`` asset
(``drill.function``), with its template environment resolved to the names of a moto account
(``drill.resolver``) holding the alias, the Lambda CodeDeploy group and the scenario's
deployments at their times (``tests.support.codedeploy_lambda_gaps``). A rule matches
ALARM of its listed alarms only, so only those transitions are delivered; delivery takes no
time on the drill's clock. Each undo the function creates is finished at once, all at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from moto import mock_aws

from drill.alarm_event import alarm_event
from drill.api_scenario import ALIAS_SHIFT_S, ApiScenario, Release, success_time
from drill.assembly import ACCOUNT, REGION, Assembly, Template
from drill.evaluator import Replay, Transition
from drill.function import DrillContext, load
from drill.resolver import Resolver
from drill.sandbox import client, sandbox_environment
from drill.template import _asset_dir, _construct_label, _rule_function, all_alarms
from tests.support import codedeploy_gaps
from tests.support import codedeploy_lambda_gaps as gaps

RULE_CLIENTS = ("codedeploy", "dynamodb", "iam", "lambda", "sns")
VERSION = "AWS::Lambda::Version"


def kit_function(assembly: Assembly, template: Template, rule_id: str | None) -> Any:
    """(rule, the function it invokes) in the template, or None without one."""
    function_id = _rule_function(template, rule_id) if rule_id else None
    if function_id is None:
        return None
    _asset_dir(assembly, template, function_id)  # fails early, naming the function
    return rule_id, function_id


def _resolver(assembly: Assembly, template: Template, version: str) -> Resolver:
    """Physical names; the published version is the one released, a named alarm its name."""
    physical = {(template.name, v): {"Version": version} for v in template.of_type(VERSION)}
    for lid, props in all_alarms(template.body):
        if isinstance(name := props.get("AlarmName"), str):
            arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
            physical[(template.name, lid)] = {"Ref": name, "Arn": arn}
    return Resolver(assembly, physical)


def _alarm_events(replays: Mapping[str, Replay], ids: set[str]) -> Iterator[Any]:
    for lid in sorted(ids & replays.keys()):
        transitions = replays[lid].transitions
        for i, t in enumerate(transitions):
            if t.new_state == "ALARM":
                yield t.at, lid, t, transitions[i - 1] if i else None


def _account(env: Mapping[str, str], scenario: ApiScenario, config: str) -> None:
    c = {name: client(name) for name in RULE_CLIENTS}
    role = c["iam"].create_role(RoleName="drill", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    name, alias = env["LAMBDA_FUNCTION_NAME"], env["LAMBDA_ALIAS_NAME"]
    c["lambda"].create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": b"0"}
    )
    for version in range(1, 1 + max(int(r.version) for r in scenario.releases)):
        c["lambda"].update_function_code(FunctionName=name, ZipFile=str(version).encode())
        c["lambda"].publish_version(FunctionName=name)
    c["lambda"].create_alias(
        FunctionName=name, Name=alias, FunctionVersion=scenario.releases[0].previous
    )
    app, group = env["APPLICATION_NAME"], env["DEPLOYMENT_GROUP_NAME"]
    c["codedeploy"].create_application(applicationName=app, computePlatform="Lambda")
    c["codedeploy"].create_deployment_group(
        applicationName=app,
        deploymentGroupName=group,
        serviceRoleArn=role,
        deploymentConfigName=config,
    )
    c["sns"].create_topic(Name=env["TOPIC_ARN"].rsplit(":", 1)[-1])
    c["dynamodb"].create_table(
        TableName=env["IDEMPOTENCY_TABLE"],
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )


def _start(env: Mapping[str, str], release: Release, ids: list[str]) -> None:
    deployment_id, hook = gaps.start_deployment(
        env["APPLICATION_NAME"],
        env["DEPLOYMENT_GROUP_NAME"],
        function_name=env["LAMBDA_FUNCTION_NAME"],
        alias=env["LAMBDA_ALIAS_NAME"],
        current_version=release.previous,
        target_version=release.version,
    )
    codedeploy_gaps.set_create_time(deployment_id, release.create_time)
    client("codedeploy").put_lifecycle_event_hook_execution_status(
        deploymentId=deployment_id, lifecycleEventHookExecutionId=hook, status="Succeeded"
    )
    ids.append(deployment_id)


def _history(
    env: Mapping[str, str], scenario: ApiScenario, config: str, stops: Mapping[int, Any]
) -> tuple[list[Any], list[str]]:
    """The releases' starts and ends as (time, order, action), and the ids they fill in."""
    ids: list[str] = []
    steps: list[Any] = []
    for i, release in enumerate(scenario.releases):
        steps.append((release.create_time, 2 * i, partial(_start, env, release, ids)))
        end = stops[i][0] if i in stops else success_time(release, config)
        status = "Stopped" if i in stops else "Succeeded"
        finish = partial(lambda i, s, at: gaps.finish_deployment(ids[i], s, at=at), i, status, end)
        if i in stops or end <= scenario.end:
            steps.append((end, 2 * i + 1, finish))
    return sorted(steps, key=lambda step: step[:2]), ids


def undos(
    assembly: Assembly,
    template: Template,
    found: Any,
    scenario: ApiScenario,
    config: str,
    replays: Mapping[str, Replay],
    stops: Mapping[int, Any],
) -> tuple[dict[int, tuple[datetime, str]], int]:
    """Release index -> (when the kit's function created its undo, why), and how many undos
    it created in all."""
    rule_id, function_id = found
    resolver = _resolver(assembly, template, scenario.releases[-1].version)
    pattern = resolver.resolve(template.properties(rule_id).get("EventPattern", {}), template)
    arns = set(pattern.get("resources", []))
    alarm_ids = {lid for lid in replays if resolver.attributes(template, lid)["Arn"] in arns}
    names = {lid: _construct_label(template.resource(lid), lid) for lid in alarm_ids}
    props = template.properties(function_id)
    env = {
        k: str(resolver.resolve(v, template))
        for k, v in props.get("Environment", {}).get("Variables", {}).items()
    }
    function = load(_asset_dir(assembly, template, function_id), str(props["Handler"]))
    done: dict[int, tuple[datetime, str]] = {}
    count = 0
    with sandbox_environment(), mock_aws(), gaps.install():
        _account(env, scenario, config)
        steps, ids = _history(env, scenario, config, stops)
        for at, lid, transition, previous in sorted(_alarm_events(replays, alarm_ids)):
            while steps and steps[0][0] < at:  # a tie is the worse case: still running
                steps.pop(0)[2]()
            event = _event(resolver, template, lid, transition, previous, at)
            context = DrillContext(f"drill-{at:%H%M%S}-{lid}", function_id, function_id)
            result = function.invoke(event, now=at, environment=env, context=context).result or {}
            if result.get("action") == "redeployed" and ids:
                count += 1
                done.setdefault(len(ids) - 1, (at, f"the kit's function undoes it: {names[lid]}"))
                undo = str(result["rollbackDeploymentId"])
                codedeploy_gaps.set_create_time(undo, at)
                client("codedeploy").put_lifecycle_event_hook_execution_status(
                    deploymentId=undo,
                    lifecycleEventHookExecutionId=gaps.track(undo),
                    status="Succeeded",
                )
                gaps.finish_deployment(undo, "Succeeded", at=at + timedelta(seconds=ALIAS_SHIFT_S))
    return done, count


def _event(
    resolver: Resolver,
    template: Template,
    lid: str,
    transition: Transition,
    previous: Transition | None,
    at: datetime,
) -> dict[str, Any]:
    names = resolver.attributes(template, lid)
    return alarm_event(
        name=names["Ref"],
        arn=names["Arn"],
        transition=transition,
        previous=previous,
        at=at,
        properties=json.loads(json.dumps(resolver.resolve(template.properties(lid), template))),
    )
