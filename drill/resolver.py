"""Physical names and CloudFormation intrinsics for the resources the drill creates.

``Resolver`` turns the intrinsics the kit's environment and rule use (``Ref``,
``Fn::GetAtt`` including a nested stack's ``Outputs.<name>``, ``Fn::Join``, ``Fn::Sub``,
``Fn::Select``, pseudo parameters) into the physical names the drill gives the resources it
creates under moto; anything else raises, naming the intrinsic, rather than inventing a value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from drill.assembly import ACCOUNT, NESTED_STACK, REGION, Assembly, DrillTemplateError, Template


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
