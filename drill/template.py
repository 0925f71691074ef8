"""Reads what ``cdk synth`` wrote to ``cdk.out``: the kit's alarms, rule, function and fleet.

The drill restates nothing about the kit by hand: it finds the EventBridge rule on CloudWatch
alarm state changes with a Lambda target, the alarms that rule names, and follows what the
function and its CodeDeploy group reference (one lookup, ``_linked``) to the fleet, the
target group and the asynchronous-invocation settings. Values a template leaves out are AWS's
defaults (``alarm_rollback_kit/timing.py``: ELB API Reference, CreateTargetGroup; CodeDeploy
User Guide, deployment configurations; Lambda Developer Guide, asynchronous invocation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alarm_rollback_kit import timing
from alarm_rollback_kit.alarms import ALARM_EVENT_DETAIL_TYPE, ALARM_EVENT_SOURCE
from alarm_rollback_kit.rollback_targets import EC2
from drill.alarm_spec import AlarmSpec
from drill.assembly import ALB_NAMESPACE, Assembly, DrillTemplateError, Template

# restore_estimate's target-group inputs: keyword -> (source name, key in the template). A
# key the template leaves out takes the keyword's value in timing.AWS_DEFAULT_TARGET_GROUP.
_TARGET_GROUP_INPUTS = {
    "deregistration_delay_s": ("deregistration delay", "deregistration_delay.timeout_seconds"),
    "health_check_interval_s": ("health-check interval", "HealthCheckIntervalSeconds"),
    "healthy_threshold": ("healthy threshold", "HealthyThresholdCount"),
}


def all_alarms(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every ``AWS::CloudWatch::Alarm`` as (logical id, Properties), in template order."""
    return [
        (logical_id, dict(resource.get("Properties", {})))
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::CloudWatch::Alarm"
    ]


def _pattern(rule: Mapping[str, Any]) -> dict[str, Any]:
    pattern = rule.get("Properties", {}).get("EventPattern", {})
    # CloudFormation also accepts the pattern as JSON text; text that is not JSON is no
    # pattern the drill can match, as before.
    if isinstance(pattern, str):
        try:
            pattern = json.loads(pattern)
        except json.JSONDecodeError:
            return {}
    return dict(pattern) if isinstance(pattern, dict) else {}


def alarm_rules(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of the rules that match CloudWatch alarm state-change events."""
    return [
        logical_id
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Events::Rule"
        and ALARM_EVENT_SOURCE in _pattern(resource).get("source", [])
        and ALARM_EVENT_DETAIL_TYPE in _pattern(resource).get("detail-type", [])
    ]


def rollback_alarms(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The alarms an alarm-state-change rule lists in ``resources`` by ``Fn::GetAtt`` Arn
    (CDK's ``alarm.alarm_arn``) or a literal ARN ending in ``AlarmName``, with Properties."""
    alarms = dict(all_alarms(template))
    names = {str(p.get("AlarmName")): logical_id for logical_id, p in alarms.items()}
    rules = [_pattern(template["Resources"][rule_id]) for rule_id in alarm_rules(template)]
    entries = [entry for pattern in rules for entry in pattern.get("resources", [])]
    refs = _refs(
        [
            {"Ref": names.get(e.split(":alarm:")[-1], e)} if isinstance(e, str) else e
            for e in entries
        ]
    )
    return [
        (logical_id, alarms[logical_id])
        for logical_id in dict.fromkeys(refs)
        if logical_id in alarms
    ]


def _refs(value: Any) -> list[str]:
    """Logical ids ``value`` references by Ref or Fn::GetAtt, in order."""
    match value:
        case {"Ref": str(target)} | {"Fn::GetAtt": [str(target), _]}:
            return [target]
        case Mapping():
            return [ref for item in value.values() for ref in _refs(item)]
        case list():
            return [ref for item in value for ref in _refs(item)]
    return []


def _linked(template: Template, type_: str, *values: Any) -> list[str]:
    """The ``type_`` resources that ``values`` reference, in order."""
    of_type = template.of_type(type_)
    return [ref for ref in dict.fromkeys(_refs(list(values))) if ref in of_type]


def _first(template: Template, type_: str, *values: Any) -> str | None:
    """The first ``type_`` resource that ``values`` reference, else the template's first."""
    return next(iter([*_linked(template, type_, *values), *template.of_type(type_)]), None)


def _pick(template: Template, type_: str, *values: Any) -> str:
    found = _first(template, type_, *values)
    if found is None:
        raise DrillTemplateError(f"{template.path.name}: no {type_}")
    return found


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
        spec, metric = self.spec, self.spec.metric
        returned = (q.expression for q in spec.queries if q.return_data and q.expression)
        what = f"{metric.metric_name} {metric.stat}" if metric else next(returned)
        op = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">="}
        return (
            f"{what} {op.get(spec.comparison_operator, spec.comparison_operator)} "
            f"{spec.threshold:g}, {spec.datapoints_to_alarm} of {spec.evaluation_periods} x "
            f"{spec.period} s, missing data: {spec.treat_missing_data}"
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
        inputs = {k: v for k, v in vars(self).items() if k != "sources"}
        return timing.restore_estimate(**inputs, lifecycle_s=lifecycle_s)

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
    on_failure_id: str
    topic_ids: tuple[str, ...]
    load_balancer_id: str | None
    target_group_id: str | None
    distributions: tuple[tuple[str, Template, str], ...]

    @property
    def rule_pattern(self) -> Mapping[str, Any]:
        return _pattern(self.template.resource(self.rule_id))

    @property
    def rollback_alarms(self) -> tuple[WatchedAlarm, ...]:
        return tuple(a for a in self.alarms if a.rollback)

    @property
    def templates_read(self) -> list[Path]:
        return [self.template.path, *(t.path for _, t, _ in self.distributions)]


def _cdk_path(resource: Mapping[str, Any]) -> list[str]:
    return str(resource.get("Metadata", {}).get("aws:cdk:path", "")).split("/")


def construct_label(resource: Mapping[str, Any], logical_id: str) -> str:
    parts = _cdk_path(resource)
    return parts[-2] if len(parts) >= 2 and parts[-1] == "Resource" else logical_id


def rule_function(template: Template, rule_id: str) -> str | None:
    targets = template.properties(rule_id).get("Targets")
    return next(iter(_linked(template, "AWS::Lambda::Function", targets)), None)


def _environment(template: Template, function_id: str) -> Mapping[str, Any]:
    variables: Mapping[str, Any] = template.properties(function_id).get("Environment", {})
    return dict(variables.get("Variables", {}))


def find_kit(assembly: Assembly, *, alarm_fragments: Sequence[str] = ()) -> Kit:
    """The kit in the first stack whose alarm rule targets the EC2 rollback function. Its
    alarms are the rule's, the other ALB alarms of its construct (the notify-only target 5xx
    alarm) and any whose logical id contains one of ``alarm_fragments``."""
    found = (
        (template, rule_id, function_id)
        for template in assembly.stacks.values()
        for rule_id in alarm_rules(template.body)
        if (function_id := rule_function(template, rule_id))
        and _environment(template, function_id).get("TARGET_TYPE") == EC2
    )
    template, rule_id, function_id = next(found, (None, "", ""))
    if template is None:
        raise DrillTemplateError(
            f"no EventBridge rule on CloudWatch alarm state changes with a Lambda target in "
            f"{', '.join(sorted(t.path.name for t in assembly.stacks.values()))}; "
            "is the AutoRollback construct in the app?"
        )
    environment = _environment(template, function_id)
    group_id = _pick(template, "AWS::CodeDeploy::DeploymentGroup", environment)
    group = template.properties(group_id)
    target_group_id = _first(
        template, "AWS::ElasticLoadBalancingV2::TargetGroup", group, environment
    )
    configs = (template.properties(c) for c in template.of_type("AWS::Lambda::EventInvokeConfig"))
    invoke = next((c for c in configs if function_id in _refs(c.get("FunctionName"))), {})
    on_failure_id = next(iter(_refs(invoke.get("DestinationConfig", {}).get("OnFailure"))), None)
    if on_failure_id is None:
        # The drill replays Lambda's retries ending in the on-failure destination; the kit's
        # function always has one, so a template without it is not the kit's.
        raise DrillTemplateError(
            f"function {function_id} in {template.path.name} has no on-failure destination "
            "(AWS::Lambda::EventInvokeConfig DestinationConfig.OnFailure); the drill replays "
            "Lambda's retries into it"
        )
    return Kit(
        assembly=assembly,
        template=template,
        rule_id=rule_id,
        function_id=function_id,
        handler=str(template.properties(function_id)["Handler"]),
        asset_dir=asset_dir(assembly, template, function_id),
        environment=environment,
        alarms=_watched(template, rule_id, alarm_fragments),
        application_id=_pick(template, "AWS::CodeDeploy::Application", group),
        group_id=group_id,
        restore=_restore_inputs(template, group, target_group_id),
        retry_attempts=int(invoke.get("MaximumRetryAttempts", 2)),  # Lambda's default
        on_failure_id=on_failure_id,
        topic_ids=tuple(template.of_type("AWS::SNS::Topic")),
        load_balancer_id=_first(template, "AWS::ElasticLoadBalancingV2::LoadBalancer", environment),
        target_group_id=target_group_id,
        distributions=tuple(
            (nested_id, nested, distribution_id)
            for nested_id, nested in assembly.nested_of(template)
            for distribution_id in nested.of_type("AWS::CloudFront::Distribution")
        ),
    )


def _watched(
    template: Template, rule_id: str, alarm_fragments: Sequence[str]
) -> tuple[WatchedAlarm, ...]:
    rollback_ids = [logical_id for logical_id, _ in rollback_alarms(template.body)]
    scope = _cdk_path(template.resource(rule_id))[:-2]
    alarms = []
    for logical_id, properties in all_alarms(template.body):
        resource = template.resource(logical_id)
        rollback = logical_id in rollback_ids
        wanted = rollback or any(fragment in logical_id for fragment in alarm_fragments)
        if not (wanted or (scope and _cdk_path(resource)[:-2] == scope)):
            continue
        spec = AlarmSpec.from_properties(properties, name=logical_id)
        refs = spec.metric_refs()
        if wanted or (refs and all(ref.namespace == ALB_NAMESPACE for ref in refs)):
            label = construct_label(resource, logical_id)
            alarms.append(WatchedAlarm(logical_id, label, properties, spec, rollback))
    order = {logical_id: i for i, logical_id in enumerate(rollback_ids)}
    return tuple(sorted(alarms, key=lambda a: order.get(a.logical_id, len(order))))


def asset_dir(assembly: Assembly, template: Template, function_id: str) -> Path:
    """The function's code in cdk.out, from the asset manifest entry of its ``S3Key``."""
    function = template.resource(function_id)
    path = assembly.asset_path(function, function.get("Properties", {}).get("Code"))
    if path is None or not path.is_dir():
        raise DrillTemplateError(
            f"{template.path.name}: no asset directory for {function_id} in cdk.out (the drill "
            "runs the function's code from there); run `make synth`"
        )
    return path


def _restore_inputs(
    template: Template, group: Mapping[str, Any], target_group_id: str | None
) -> RestoreInputs:
    config = group.get("DeploymentConfigName")
    fleet = _linked(template, "AWS::AutoScaling::AutoScalingGroup", group.get("AutoScalingGroups"))
    instances = sum(int(template.properties(asg).get("MinSize", 0)) for asg in fleet)
    if instances < 1:
        raise DrillTemplateError(
            f"{template.path.name}: the deployment group has no Auto Scaling group with a "
            "MinSize; the restore model needs the instance count"
        )
    sources = {
        "deployment config": "DeploymentGroup DeploymentConfigName"
        if config
        else "CodeDeploy default (not set in the template)",
        "instances": "Auto Scaling group MinSize",
    }
    target_group = dict(template.properties(target_group_id)) if target_group_id else {}
    target_group |= {a["Key"]: a["Value"] for a in target_group.get("TargetGroupAttributes", [])}
    values: dict[str, Any] = {}
    for keyword, (name, key) in _TARGET_GROUP_INPUTS.items():
        values[keyword] = int(target_group.get(key, timing.AWS_DEFAULT_TARGET_GROUP[keyword]))
        where = f"target group {'attribute' if '.' in key else key}"
        sources[name] = where if key in target_group else "AWS default (not set in the template)"
    return RestoreInputs(
        instances=instances,
        deployment_config_name=config or timing.AWS_DEFAULT_DEPLOYMENT_CONFIG,
        sources=sources,
        **values,
    )
