"""Physical names and CloudFormation intrinsics for the resources the drill creates.

``Resolver`` turns the intrinsics the kit's environment, rule, alarms and outputs use
(``Ref``, ``Fn::GetAtt`` including a nested stack's ``Outputs.<name>``, ``Fn::Join`` and the
pseudo parameters ``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``) into the physical
names the drill gives the resources it creates under moto; any other intrinsic, or an
attribute the drill has no value for, raises, naming it, rather than inventing a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from drill.assembly import ACCOUNT, NESTED_STACK, REGION, Assembly, DrillTemplateError, Template

_PSEUDO = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}

# Ref and Fn::GetAtt of the resources the drill does not create itself, by type, as
# format strings over the CloudFormation-style generated names below; other types get a Ref.
_DEFAULTS = {
    "AWS::CloudWatch::Alarm": {"Ref": "{name}", "Arn": "arn:aws:cloudwatch:{at}:alarm:{name}"},
    "AWS::Lambda::Function": {"Ref": "{name}", "Arn": "arn:aws:lambda:{at}:function:{name}"},
    "AWS::SNS::Topic": {"Ref": "arn:aws:sns:{at}:{name}", "TopicName": "{name}"},
    "AWS::SQS::Queue": {
        "Ref": "https://sqs.{url}/{name}",
        "Arn": "arn:aws:sqs:{at}:{name}",
        "QueueName": "{name}",
    },
    "AWS::S3::Bucket": {"Ref": "{bucket}"},
    "AWS::EC2::SecurityGroup": {"Ref": "{name}", "GroupId": "sg-{sg}"},
    "AWS::ElasticLoadBalancingV2::TargetGroup": {
        "Ref": "arn:aws:elasticloadbalancing:{at}:targetgroup/{short}/{id}",
        "TargetGroupFullName": "targetgroup/{short}/{id}",
    },
}


def suffix(*parts: str, length: int = 12) -> str:
    """A stable stand-in for CloudFormation's random name suffix."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length].upper()


def physical_name(template: Template, logical_id: str, *, limit: int = 100) -> str:
    """A CloudFormation-style generated name: ``<stack>-<logical id>-<suffix>``."""
    name = f"{template.name}-{logical_id}"[: limit - 13]
    return f"{name}-{suffix(template.name, logical_id)}"


def _short_and_id(template: Template, logical_id: str) -> tuple[str, str]:
    """An ELB name (at most 32 characters) and its resource id, as ELB generates them."""
    short = f"{template.name[:19]}-{suffix(template.name, logical_id)}"
    return short, suffix(template.name, logical_id, "id", length=16).lower()


def default_attributes(template: Template, logical_id: str) -> dict[str, str]:
    """Physical values for one resource when the drill did not create it itself; an alarm
    given an ``AlarmName`` has that name, as CloudFormation gives it, else a generated one."""
    given = template.properties(logical_id).get("AlarmName")
    name = given if isinstance(given, str) else physical_name(template, logical_id)
    short, id_ = _short_and_id(template, logical_id)
    values = {
        "name": name,
        "bucket": name.lower()[:63],
        "at": f"{REGION}:{ACCOUNT}",
        "url": f"{REGION}.amazonaws.com/{ACCOUNT}",
        "short": short,
        "id": id_,
        "sg": suffix(template.name, logical_id, length=17).lower(),
    }
    type_ = template.resource(logical_id).get("Type")
    if type_ == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        return load_balancer_attributes(template, logical_id, None)
    formats = _DEFAULTS.get(str(type_), {"Ref": "{name}"})
    return {attribute: text.format(**values) for attribute, text in formats.items()}


def load_balancer_attributes(
    template: Template, logical_id: str, full_name: str | None
) -> dict[str, str]:
    """An ALB's Ref, LoadBalancerFullName and DNSName (``full_name`` as a scenario gives it)."""
    if full_name is None:
        full_name = "app/{}/{}".format(*_short_and_id(template, logical_id))
    _, short, id_ = full_name.split("/")
    return {
        "Ref": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/{full_name}",
        "LoadBalancerFullName": full_name,
        "LoadBalancerName": short,
        "DNSName": f"{short}-{id_[:10]}.{REGION}.elb.amazonaws.com",
    }


class Resolver:
    """Resolves intrinsics against ``physical`` ((template name, logical id) -> attributes);
    resources not listed get ``default_attributes``."""

    def __init__(
        self, assembly: Assembly, physical: Mapping[tuple[str, str], Mapping[str, str]]
    ) -> None:
        self._assembly = assembly
        self._physical = physical

    def attributes(self, template: Template, logical_id: str) -> Mapping[str, str]:
        return self._physical.get((template.name, logical_id)) or default_attributes(
            template, logical_id
        )

    def resolve(
        self, value: Any, template: Template, parameters: Mapping[str, Any] | None = None
    ) -> Any:
        params = parameters or {}
        match value:
            case {"Ref": str(name)} if name in _PSEUDO or name in params:
                return {**_PSEUDO, **params}[name]
            case {"Ref": str(name)}:
                return self._getatt(template, name, "Ref")
            case {"Fn::GetAtt": [str(logical_id), str(attribute)]}:
                return self._getatt(template, logical_id, attribute)
            case {"Fn::Join": [str(separator), list(items)]}:
                return separator.join(str(self.resolve(i, template, params)) for i in items)
            case list():
                return [self.resolve(v, template, params) for v in value]
            case Mapping():
                intrinsic = next((k for k in value if k.startswith("Fn::")), None)
                if intrinsic is not None:
                    raise DrillTemplateError(f"{template.path.name}: cannot resolve {intrinsic}")
                return {k: self.resolve(v, template, params) for k, v in value.items()}
        return value

    def _getatt(self, template: Template, logical_id: str, attribute: str) -> Any:
        resource = template.resource(logical_id)
        if resource.get("Type") == NESTED_STACK and attribute.startswith("Outputs."):
            child = self._assembly.nested(template, logical_id)
            outputs = child.body.get("Outputs", {}) if child else {}
            output = outputs.get(attribute.removeprefix("Outputs."))
            if child is None or output is None:
                raise DrillTemplateError(
                    f"{template.path.name}: nested stack {logical_id} has no {attribute} in cdk.out"
                )
            raw = resource.get("Properties", {}).get("Parameters", {})
            params = {k: self.resolve(v, template) for k, v in raw.items()}
            return self.resolve(output["Value"], child, params)
        attributes = self.attributes(template, logical_id)
        if attribute not in attributes:
            raise DrillTemplateError(
                f"{template.path.name}: cannot resolve Fn::GetAtt {logical_id}.{attribute} "
                f"({resource.get('Type')})"
            )
        return attributes[attribute]
