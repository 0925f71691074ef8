"""Reads what ``cdk synth`` wrote to ``cdk.out``: the kit's alarms, rule, function and fleet.

The drill restates nothing about the kit by hand. This module finds, in the templates of
the cloud assembly (``drill.assembly``), the EventBridge rule that listens to CloudWatch
alarm state changes and invokes a Lambda function, the alarms that rule names, the
function's handler, asset directory and environment, its asynchronous-invocation settings
(retries, on-failure destination), the CodeDeploy deployment group and the numbers the
restore model needs (instances, deployment configuration, deregistration delay, health
check). ``drill.resolver`` turns intrinsics into the drill's physical names.

Defaults used when a template leaves a value out are AWS's own: deregistration delay 300 s,
health-check interval 30 s, healthy threshold 5 (ELB API Reference, CreateTargetGroup and
target group attributes) and ``CodeDeployDefault.OneAtATime`` (CodeDeploy User Guide,
deployment configurations).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alarm_rollback_kit import timing
from alarm_rollback_kit.alarms import ALARM_EVENT_DETAIL_TYPE, ALARM_EVENT_SOURCE
from drill.alarm_spec import AlarmSpec
from drill.assembly import (
    ALB_NAMESPACE,
    DISTRIBUTION,
    LAMBDA_FUNCTION,
    Assembly,
    DrillTemplateError,
    Template,
)

# --- Alarms and the rule that listens to them ------------------------------------------------


def all_alarms(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every ``AWS::CloudWatch::Alarm`` as (logical id, Properties), in template order."""
    resources = template.get("Resources", {})
    return [
        (logical_id, dict(resource.get("Properties", {})))
        for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    ]


def _pattern(rule: Mapping[str, Any]) -> dict[str, Any]:
    pattern = rule.get("Properties", {}).get("EventPattern", {})
    if isinstance(pattern, str):  # CloudFormation also accepts the pattern as JSON text
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError:
            return {}
    return pattern if isinstance(pattern, dict) else {}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def alarm_rules(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the rules that match CloudWatch alarm state-change events."""
    found = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Events::Rule":
            continue
        pattern = _pattern(resource)
        if ALARM_EVENT_SOURCE in _listed(pattern.get("source")) and ALARM_EVENT_DETAIL_TYPE in (
            _listed(pattern.get("detail-type"))
        ):
            found.append(logical_id)
    return found


def rollback_alarms(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The alarms an alarm-state-change rule listens to, as (logical id, Properties).

    A rule's ``resources`` entries are resolved when they are ``{"Fn::GetAtt": [LogicalId,
    "Arn"]}`` (what CDK writes for ``alarm.alarm_arn``) or a literal alarm ARN matching an
    alarm's ``AlarmName``; ``detail.alarmName`` lists are matched by name too.
    """
    resources = template.get("Resources", {})
    alarms = dict(all_alarms(template))
    by_name = {
        props["AlarmName"]: logical_id
        for logical_id, props in alarms.items()
        if isinstance(props.get("AlarmName"), str)
    }
    chosen: list[str] = []
    for rule_id in alarm_rules(template):
        pattern = _pattern(resources[rule_id])
        for entry in _listed(pattern.get("resources", [])):
            logical_id = None
            if isinstance(entry, dict) and "Fn::GetAtt" in entry:
                target = entry["Fn::GetAtt"]
                if isinstance(target, list) and target and target[-1] == "Arn":
                    logical_id = target[0]
            elif isinstance(entry, str) and ":alarm:" in entry:
                logical_id = by_name.get(entry.split(":alarm:", 1)[1])
            if logical_id in alarms and logical_id not in chosen:
                chosen.append(logical_id)
        detail = pattern.get("detail", {})
        names = detail.get("alarmName", []) if isinstance(detail, dict) else []
        for name in _listed(names):
            logical_id = by_name.get(name) if isinstance(name, str) else None
            if logical_id is not None and logical_id not in chosen:
                chosen.append(logical_id)
    return [(logical_id, alarms[logical_id]) for logical_id in chosen]


# --- What the kit looks like in the template -------------------------------------------------


@dataclass(frozen=True)
class WatchedAlarm:
    """An alarm the drill replays: the rollback alarms and their notify-only sibling."""

    logical_id: str
    label: str
    properties: Mapping[str, Any]
    spec: AlarmSpec
    rollback: bool

    def describe(self) -> str:
        spec = self.spec
        if spec.metric is not None:
            what = f"{spec.metric.metric_name} {spec.metric.stat}"
        else:
            what = next(q.expression for q in spec.queries if q.return_data and q.expression)
        op = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">="}.get(
            spec.comparison_operator, spec.comparison_operator
        )
        return (
            f"{what} {op} {spec.threshold:g}, {spec.datapoints_to_alarm} of "
            f"{spec.evaluation_periods} x {spec.period} s, missing data: "
            f"{spec.treat_missing_data}"
        )


@dataclass(frozen=True)
class RestoreInputs:
    """The restore model's inputs as the template states them, with where each came from."""

    instances: int
    deployment_config_name: str
    deregistration_delay_s: int
    health_check_interval_s: int
    healthy_threshold: int
    sources: Mapping[str, str]

    def estimate(self, lifecycle_s: int) -> timing.RestoreEstimate:
        return timing.restore_estimate(
            instances=self.instances,
            deployment_config_name=self.deployment_config_name,
            deregistration_delay_s=self.deregistration_delay_s,
            health_check_interval_s=self.health_check_interval_s,
            healthy_threshold=self.healthy_threshold,
            lifecycle_s=lifecycle_s,
        )

    def aws_default_estimate(self, lifecycle_s: int) -> timing.RestoreEstimate:
        return timing.aws_default_restore_estimate(self.instances, lifecycle_s)


@dataclass(frozen=True)
class Kit:
    """Everything the drill reads from the synthesized kit stack."""

    assembly: Assembly
    template: Template
    rule_id: str
    function_id: str
    handler: str
    asset_dir: Path
    environment: Mapping[str, Any]
    alarms: tuple[WatchedAlarm, ...]
    application_id: str
    group_id: str
    restore: RestoreInputs
    retry_attempts: int
    on_failure_id: str | None
    topic_ids: tuple[str, ...]
    load_balancer_id: str | None
    target_group_id: str | None
    distributions: tuple[tuple[str, Template, str], ...] = field(default=())

    @property
    def rule_pattern(self) -> Mapping[str, Any]:
        pattern = self.template.properties(self.rule_id).get("EventPattern", {})
        if isinstance(pattern, str):
            parsed: Mapping[str, Any] = json.loads(pattern)
            return parsed
        found: Mapping[str, Any] = pattern
        return found

    @property
    def rollback_alarms(self) -> tuple[WatchedAlarm, ...]:
        return tuple(a for a in self.alarms if a.rollback)

    @property
    def templates_read(self) -> list[Path]:
        return [self.template.path, *(t.path for _, t, _ in self.distributions)]


def _construct_label(resource: Mapping[str, Any], logical_id: str) -> str:
    path = resource.get("Metadata", {}).get("aws:cdk:path", "")
    parts = [p for p in str(path).split("/") if p]
    if len(parts) >= 2 and parts[-1] == "Resource":
        return parts[-2]
    return logical_id


def _scope(resource: Mapping[str, Any]) -> str:
    path = str(resource.get("Metadata", {}).get("aws:cdk:path", ""))
    return path.rsplit("/", 2)[0] + "/" if path.count("/") >= 2 else ""


def _getatt_target(value: Any, attribute: str) -> str | None:
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        if isinstance(target, list) and len(target) == 2 and target[1] == attribute:
            return str(target[0])
    return None


def _refs(value: Any) -> set[str]:
    """Logical ids referenced anywhere in ``value`` by Ref or Fn::GetAtt."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        target = value.get("Fn::GetAtt")
        if isinstance(target, list) and target:
            found.add(str(target[0]))
        for item in value.values():
            found |= _refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= _refs(item)
    return found


def _reads_only_alb(spec: AlarmSpec) -> bool:
    refs = spec.metric_refs()
    return bool(refs) and all(ref.namespace == ALB_NAMESPACE for ref in refs)


def find_kit(
    assembly: Assembly, *, alarm_fragments: Sequence[str] = (), target_type: str = "EC2"
) -> Kit:
    """Locate the rollback rule, its function and alarms in the first stack that has them,
    for a function of ``target_type`` (its ``TARGET_TYPE``: the service's ``EC2`` one, or
    the API stack's ``LAMBDA`` one).

    Besides the rollback alarms, the drill replays the other ALB alarms of the same
    construct (the notify-only target 5xx alarm) and any alarm whose logical id contains
    one of ``alarm_fragments`` (a scenario's ``expect.alarms`` keys).
    """
    for template in assembly.stacks.values():
        for rule_id in alarm_rules(template.body):
            function_id = _rule_function(template, rule_id)
            if function_id is not None and _target_type(template, function_id) == target_type:
                return _kit(assembly, template, rule_id, function_id, alarm_fragments)
    raise DrillTemplateError(
        f"no EventBridge rule on CloudWatch alarm state changes with a Lambda target in "
        f"{', '.join(sorted(t.path.name for t in assembly.stacks.values()))}; "
        "is the AutoRollback construct in the app?"
    )


def _target_type(template: Template, function_id: str) -> str:
    environment = template.properties(function_id).get("Environment", {}).get("Variables", {})
    return str(environment.get("TARGET_TYPE", ""))


def _rule_function(template: Template, rule_id: str) -> str | None:
    for target in template.properties(rule_id).get("Targets", []):
        function_id = _getatt_target(target.get("Arn"), "Arn")
        if function_id and template.resources.get(function_id, {}).get("Type") == LAMBDA_FUNCTION:
            return function_id
    return None


def _kit(
    assembly: Assembly,
    template: Template,
    rule_id: str,
    function_id: str,
    alarm_fragments: Sequence[str],
) -> Kit:
    function = template.resource(function_id)
    props = function.get("Properties", {})
    handler = props.get("Handler")
    if not isinstance(handler, str) or handler.count(".") < 1:
        raise DrillTemplateError(f"{template.path.name}: {function_id} has no Handler")
    asset_dir = _asset_dir(assembly, template, function_id)
    environment = props.get("Environment", {}).get("Variables", {})
    env_refs = _refs(environment)

    rollback_ids = [lid for lid, _ in rollback_alarms(template.body)]
    rule_scope = _scope(template.resource(rule_id))
    alarms: list[WatchedAlarm] = []
    for logical_id, properties in all_alarms(template.body):
        resource = template.resource(logical_id)
        is_rollback = logical_id in rollback_ids
        wanted = any(fragment in logical_id for fragment in alarm_fragments)
        sibling = bool(rule_scope) and _scope(resource) == rule_scope
        if not (is_rollback or wanted or sibling):
            continue
        spec = AlarmSpec.from_properties(properties, name=logical_id)
        if not (is_rollback or wanted or _reads_only_alb(spec)):
            continue
        label = _construct_label(resource, logical_id)
        alarms.append(WatchedAlarm(logical_id, label, properties, spec, is_rollback))
    alarms.sort(
        key=lambda a: (not a.rollback, rollback_ids.index(a.logical_id) if a.rollback else 0)
    )

    group_id = _pick(template, "AWS::CodeDeploy::DeploymentGroup", env_refs)
    group = template.properties(group_id)
    application_id = _ref_id(group.get("ApplicationName")) or _pick(
        template, "AWS::CodeDeploy::Application", env_refs
    )
    target_group_id = _target_group(template, group, env_refs)
    load_balancer_id = next(
        (lid for lid in template.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")), None
    )
    invoke = _invoke_config(template, function_id)
    distributions = tuple(
        (nested_id, nested, distribution_id)
        for nested_id, nested in assembly.nested_of(template)
        for distribution_id in nested.of_type(DISTRIBUTION)
    )
    return Kit(
        assembly=assembly,
        template=template,
        rule_id=rule_id,
        function_id=function_id,
        handler=handler,
        asset_dir=asset_dir,
        environment=environment,
        alarms=tuple(alarms),
        application_id=application_id,
        group_id=group_id,
        restore=_restore_inputs(template, group, target_group_id),
        retry_attempts=invoke[0],
        on_failure_id=invoke[1],
        topic_ids=tuple(template.of_type("AWS::SNS::Topic")),
        load_balancer_id=load_balancer_id,
        target_group_id=target_group_id,
        distributions=distributions,
    )


def _asset_dir(assembly: Assembly, template: Template, function_id: str) -> Path:
    """The function's code in cdk.out, from the asset manifest entry of its ``S3Key``."""
    function = template.resource(function_id)
    asset_dir = assembly.asset_path(function, function.get("Properties", {}).get("Code"))
    if asset_dir is None or not asset_dir.is_dir():
        raise DrillTemplateError(
            f"{template.path.name}: no asset directory for {function_id} in cdk.out (the drill "
            "runs the function's code from there); run `make synth`"
        )
    return asset_dir


def _ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    return None


def _pick(template: Template, type_: str, preferred: set[str]) -> str:
    candidates = template.of_type(type_)
    chosen = [c for c in candidates if c in preferred] or candidates
    if not chosen:
        raise DrillTemplateError(f"{template.path.name}: no {type_}")
    return chosen[0]


def _target_group(template: Template, group: Mapping[str, Any], env_refs: set[str]) -> str | None:
    infos = group.get("LoadBalancerInfo", {}).get("TargetGroupInfoList", [])
    for info in infos:
        found = _getatt_target(info.get("Name"), "TargetGroupName")
        if found:
            return found
    groups = template.of_type("AWS::ElasticLoadBalancingV2::TargetGroup")
    preferred = [g for g in groups if g in env_refs] or groups
    return preferred[0] if preferred else None


def _invoke_config(template: Template, function_id: str) -> tuple[int, str | None]:
    """Lambda's asynchronous retries (default 2) and the on-failure destination's logical id."""
    for logical_id in template.of_type("AWS::Lambda::EventInvokeConfig"):
        props = template.properties(logical_id)
        if _ref_id(props.get("FunctionName")) != function_id:
            continue
        destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        return int(props.get("MaximumRetryAttempts", 2)), _getatt_target(destination, "Arn")
    return 2, None


def _restore_inputs(
    template: Template, group: Mapping[str, Any], target_group_id: str | None
) -> RestoreInputs:
    sources: dict[str, str] = {}
    config_name = group.get("DeploymentConfigName")
    if isinstance(config_name, str):
        sources["deployment config"] = "DeploymentGroup DeploymentConfigName"
    else:
        config_name = timing.AWS_DEFAULT_DEPLOYMENT_CONFIG
        sources["deployment config"] = "CodeDeploy default (not set in the template)"
    instances = 0
    for asg in group.get("AutoScalingGroups", []):
        asg_id = _ref_id(asg)
        if asg_id:
            size = template.properties(asg_id).get("MinSize", 0)
            if not isinstance(size, int | str) or not str(size).isdigit():
                raise DrillTemplateError(
                    f"{template.path.name}: {asg_id} MinSize={size!r} is not a number the "
                    "restore model can use"
                )
            instances += int(size)
    if instances < 1:
        raise DrillTemplateError(
            f"{template.path.name}: the deployment group has no Auto Scaling group with a "
            "MinSize; the restore model needs the instance count"
        )
    sources["instances"] = "Auto Scaling group MinSize"
    dereg = timing.AWS_DEFAULT_DEREGISTRATION_DELAY_S
    interval = timing.AWS_DEFAULT_HEALTH_CHECK_INTERVAL_S
    threshold = timing.AWS_DEFAULT_HEALTHY_THRESHOLD
    if target_group_id is not None:
        tg = template.properties(target_group_id)
        for attribute in tg.get("TargetGroupAttributes", []):
            if attribute.get("Key") == "deregistration_delay.timeout_seconds":
                dereg = int(attribute["Value"])
                sources["deregistration delay"] = "target group attribute"
        if "HealthCheckIntervalSeconds" in tg:
            interval = int(tg["HealthCheckIntervalSeconds"])
            sources["health-check interval"] = "target group HealthCheckIntervalSeconds"
        if "HealthyThresholdCount" in tg:
            threshold = int(tg["HealthyThresholdCount"])
            sources["healthy threshold"] = "target group HealthyThresholdCount"
    for name in ("deregistration delay", "health-check interval", "healthy threshold"):
        sources.setdefault(name, "AWS default (not set in the template)")
    return RestoreInputs(
        instances=instances,
        deployment_config_name=config_name,
        deregistration_delay_s=dereg,
        health_check_interval_s=interval,
        healthy_threshold=threshold,
        sources=sources,
    )
