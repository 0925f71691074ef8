"""Reads what ``cdk synth`` wrote to ``cdk.out``: the kit's alarms, rule, function and fleet.

The drill restates nothing about the kit by hand. This module finds, in the synthesized
templates, the EventBridge rule that listens to CloudWatch alarm state changes and invokes
a Lambda function (``drill.backtest.alarm_rules``), the alarms that rule names, the
function's handler, asset directory and environment, its asynchronous-invocation settings
(retries, on-failure destination), the CodeDeploy deployment group and the numbers the
restore model needs (instances, deployment configuration, deregistration delay, health
check). ``Resolver`` turns CloudFormation intrinsics (``Ref``, ``Fn::GetAtt`` including a
nested stack's ``Outputs.<name>``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, pseudo
parameters) into the physical names the drill gives the resources it creates under moto.

Defaults used when a template leaves a value out are AWS's own: deregistration delay 300 s,
health-check interval 30 s, healthy threshold 5 (ELB API Reference, CreateTargetGroup and
target group attributes) and ``CodeDeployDefault.OneAtATime`` (CodeDeploy User Guide,
deployment configurations).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alarm_rollback_kit import timing
from drill.backtest import alarm_rules, all_alarms, rollback_alarms
from drill.evaluator import AlarmSpec

ACCOUNT = "123456789012"  # moto's default account (moto.core.models.DEFAULT_ACCOUNT_ID)
REGION = "us-east-1"
ALB_NAMESPACE = "AWS/ApplicationELB"
LAMBDA_FUNCTION = "AWS::Lambda::Function"
NESTED_STACK = "AWS::CloudFormation::Stack"
DISTRIBUTION = "AWS::CloudFront::Distribution"


class DrillTemplateError(ValueError):
    """cdk.out lacks something the drill needs, or holds something it cannot resolve."""


# --- The cloud assembly ----------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One template file: a top-level stack or a nested stack."""

    name: str
    path: Path
    body: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Any]:
        found: Mapping[str, Any] = self.body.get("Resources", {})
        return found

    def resource(self, logical_id: str) -> Mapping[str, Any]:
        try:
            found: Mapping[str, Any] = self.resources[logical_id]
        except KeyError:
            raise DrillTemplateError(f"{self.path.name}: no resource {logical_id}") from None
        return found

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        props: Mapping[str, Any] = self.resource(logical_id).get("Properties", {})
        return props

    def of_type(self, type_: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == type_]


@dataclass(frozen=True)
class Assembly:
    cdk_out: Path
    stacks: Mapping[str, Template]

    def nested(self, parent: Template, logical_id: str) -> Template | None:
        """The template of nested stack ``logical_id`` in ``parent`` (None if not in cdk.out)."""
        resource = parent.resource(logical_id)
        if resource.get("Type") != NESTED_STACK:
            return None
        asset = resource.get("Metadata", {}).get("aws:asset:path")
        if not isinstance(asset, str):
            return None
        path = parent.path.parent / asset
        if not path.is_file():
            return None
        return _read_template(path)

    def nested_of(self, parent: Template) -> list[tuple[str, Template]]:
        found = []
        for logical_id in parent.of_type(NESTED_STACK):
            child = self.nested(parent, logical_id)
            if child is not None:
                found.append((logical_id, child))
        return found


def _read_template(path: Path) -> Template:
    name = path.name.removesuffix(".json").removesuffix(".template").removesuffix(".nested")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DrillTemplateError(f"{path}: not a readable template: {err}") from None
    return Template(name, path, body)


def load_assembly(cdk_out: Path) -> Assembly:
    """Every top-level stack template in ``cdk_out`` (nested ones are reached through it)."""
    paths = sorted(p for p in cdk_out.glob("*.template.json") if ".nested." not in p.name)
    if not paths:
        raise DrillTemplateError(
            f"no *.template.json under {cdk_out}: run `make synth` (or pass --cdk-out)"
        )
    return Assembly(cdk_out, {t.name: t for t in (_read_template(p) for p in paths)})


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


def find_kit(assembly: Assembly, *, alarm_fragments: Sequence[str] = ()) -> Kit:
    """Locate the rollback rule, its function and alarms in the first stack that has them.

    Besides the rollback alarms, the drill replays the other ALB alarms of the same
    construct (the notify-only target 5xx alarm) and any alarm whose logical id contains
    one of ``alarm_fragments`` (a scenario's ``expect.alarms`` keys).
    """
    for template in assembly.stacks.values():
        for rule_id in alarm_rules(template.body):
            function_id = _rule_function(template, rule_id)
            if function_id is not None:
                return _kit(assembly, template, rule_id, function_id, alarm_fragments)
    raise DrillTemplateError(
        f"no EventBridge rule on CloudWatch alarm state changes with a Lambda target in "
        f"{', '.join(sorted(t.path.name for t in assembly.stacks.values()))}; "
        "is the AutoRollback construct in the app?"
    )


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
    asset_dir = _asset_dir(template, function_id)
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


def _asset_dir(template: Template, function_id: str) -> Path:
    """The function's code in cdk.out: ``aws:asset:path`` metadata (the CDK CLI writes it),
    else the staged directory named after the S3 key's asset hash."""
    function = template.resource(function_id)
    asset = function.get("Metadata", {}).get("aws:asset:path")
    if not isinstance(asset, str):
        key = function.get("Properties", {}).get("Code", {}).get("S3Key")
        asset = f"asset.{key.removesuffix('.zip')}" if isinstance(key, str) else ""
    asset_dir = template.path.parent / asset
    if not asset or not asset_dir.is_dir():
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


# --- Resolving intrinsics --------------------------------------------------------------------


def suffix(*parts: str, length: int = 12) -> str:
    """A stable stand-in for CloudFormation's random name suffix."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return digest[:length].upper()


def physical_name(template: Template, logical_id: str, *, limit: int = 100) -> str:
    """A CloudFormation-style generated name: ``<stack>-<logical id>-<suffix>``."""
    name = f"{template.name}-{logical_id}"[: limit - 13]
    return f"{name}-{suffix(template.name, logical_id)}"


# Ref and Fn::GetAtt of the resource types the kit's environment and rule use. Anything
# else raises, naming the intrinsic, rather than inventing a value.
_ARN_SERVICE = {
    "AWS::CloudWatch::Alarm": ("cloudwatch", "alarm:"),
    "AWS::SQS::Queue": ("sqs", ""),
    "AWS::Lambda::Function": ("lambda", "function:"),
    "AWS::SNS::Topic": ("sns", ""),
}


def default_attributes(template: Template, logical_id: str) -> dict[str, str]:
    """Physical values for one resource when the drill did not create it itself."""
    type_ = str(template.resource(logical_id).get("Type", ""))
    name = physical_name(template, logical_id)
    attributes = {"Ref": name}
    if type_ in _ARN_SERVICE:
        service, prefix = _ARN_SERVICE[type_]
        arn = f"arn:aws:{service}:{REGION}:{ACCOUNT}:{prefix}{name}"
        attributes["Arn"] = arn
        if type_ == "AWS::SNS::Topic":
            attributes["Ref"] = arn
            attributes["TopicName"] = name
        if type_ == "AWS::SQS::Queue":
            attributes["Ref"] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            attributes["QueueName"] = name
    elif type_ == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        attributes.update(load_balancer_attributes(template, logical_id, None))
    elif type_ == "AWS::ElasticLoadBalancingV2::TargetGroup":
        short = f"{template.name[:19]}-{suffix(template.name, logical_id, length=12)}"
        id_ = suffix(template.name, logical_id, "id", length=16).lower()
        arn = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{short}/{id_}"
        attributes.update(
            {
                "Ref": arn,
                "TargetGroupArn": arn,
                "TargetGroupName": short,
                "TargetGroupFullName": f"targetgroup/{short}/{id_}",
            }
        )
    elif type_ == "AWS::IAM::Role":
        attributes["Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    elif type_ == "AWS::EC2::SecurityGroup":
        attributes["GroupId"] = "sg-" + suffix(template.name, logical_id, length=17).lower()
    elif type_ == "AWS::S3::Bucket":
        bucket = name.lower()[:63]
        attributes.update(
            {
                "Ref": bucket,
                "Arn": f"arn:aws:s3:::{bucket}",
                "RegionalDomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
            }
        )
    return attributes


def load_balancer_attributes(
    template: Template, logical_id: str, full_name: str | None
) -> dict[str, str]:
    """An ALB's Ref, LoadBalancerFullName and DNSName (``full_name`` as a scenario gives it)."""
    if full_name is None:
        short = f"{template.name[:19]}-{suffix(template.name, logical_id, length=12)}"
        full_name = f"app/{short}/{suffix(template.name, logical_id, 'id', length=16).lower()}"
    _, short, id_ = full_name.split("/")
    return {
        "Ref": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/{full_name}",
        "LoadBalancerFullName": full_name,
        "LoadBalancerName": short,
        "DNSName": f"{short}-{id_[:10]}.{REGION}.elb.amazonaws.com",
    }


Physical = Mapping[tuple[str, str], Mapping[str, str]]


class Resolver:
    """Resolves intrinsics against ``physical`` ((template name, logical id) -> attributes);
    resources not listed get ``default_attributes``."""

    def __init__(self, assembly: Assembly, physical: Physical) -> None:
        self._assembly = assembly
        self._physical = physical

    def resolve(
        self,
        value: Any,
        template: Template,
        parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        params = parameters or {}
        if isinstance(value, list):
            return [self.resolve(v, template, params) for v in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(arg, template, params)
        return {k: self.resolve(v, template, params) for k, v in value.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any, Template, Mapping[str, Any]], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._getatt,
            "Fn::Join": self._join,
            "Fn::Sub": self._sub,
            "Fn::Select": self._select,
        }

    def attributes(self, template: Template, logical_id: str) -> Mapping[str, str]:
        return self._physical.get((template.name, logical_id)) or default_attributes(
            template, logical_id
        )

    def _ref(self, name: Any, template: Template, params: Mapping[str, Any]) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": template.name,
        }
        if name in pseudo:
            return pseudo[name]
        if name in params:
            return params[name]
        if name in template.resources:
            return self.attributes(template, str(name))["Ref"]
        raise DrillTemplateError(f"{template.path.name}: cannot resolve Ref {name!r}")

    def _getatt(self, arg: Any, template: Template, params: Mapping[str, Any]) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        logical_id, attribute = str(arg[0]), str(arg[1])
        resource = template.resource(logical_id)
        if resource.get("Type") == NESTED_STACK and attribute.startswith("Outputs."):
            return self._nested_output(template, logical_id, attribute.removeprefix("Outputs."))
        attributes = self.attributes(template, logical_id)
        if attribute not in attributes:
            raise DrillTemplateError(
                f"{template.path.name}: cannot resolve Fn::GetAtt {logical_id}.{attribute} "
                f"({resource.get('Type')})"
            )
        return attributes[attribute]

    def _nested_output(self, parent: Template, logical_id: str, output: str) -> Any:
        child = self._assembly.nested(parent, logical_id)
        if child is None:
            raise DrillTemplateError(
                f"{parent.path.name}: nested stack {logical_id} has no template in cdk.out"
            )
        outputs = child.body.get("Outputs", {})
        if output not in outputs:
            raise DrillTemplateError(f"{child.path.name}: no output {output}")
        raw_params = parent.properties(logical_id).get("Parameters", {})
        params = {k: self.resolve(v, parent) for k, v in raw_params.items()}
        return self.resolve(outputs[output]["Value"], child, params)

    def _join(self, arg: Any, template: Template, params: Mapping[str, Any]) -> str:
        separator, items = arg
        return str(separator).join(str(self.resolve(i, template, params)) for i in items)

    def _select(self, arg: Any, template: Template, params: Mapping[str, Any]) -> Any:
        index, items = arg
        resolved = self.resolve(items, template, params)
        return resolved[int(self.resolve(index, template, params))]

    def _sub(self, arg: Any, template: Template, params: Mapping[str, Any]) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: self.resolve(v, template, params) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._getatt(name.split(".", 1), template, params))
            return str(self._ref(name, template, params))

        return re.sub(r"\$\{([^}!]+)\}", replace, str(text))
