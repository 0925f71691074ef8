"""Follow values a parent template reads from a nested stack's outputs.

A parent stack sees a nested stack's resource only as ``{"Fn::GetAtt": [<the
AWS::CloudFormation::Stack resource>, "Outputs.<name>"]}``. ``through_outputs`` swaps
each such reference for the nested template's output value, so a test can compare what
the parent uses (the ALB listener's required header) with what the nested stack uses
(the header CloudFront sends) in the nested stack's own terms.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template


def through_outputs(value: Any, parent: Template, nested: Template) -> Any:
    """``value`` (from ``parent``) with every read of a ``nested`` output replaced by it."""
    stacks = set(parent.find_resources("AWS::CloudFormation::Stack"))
    outputs: dict[str, Any] = nested.to_json().get("Outputs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        target = node.get("Fn::GetAtt")
        if isinstance(target, list) and target[0] in stacks and len(node) == 1:
            name = str(target[1]).removeprefix("Outputs.")
            assert name in outputs, f"{target[1]} is not an output of the nested stack"
            return outputs[name]["Value"]
        return {key: walk(item) for key, item in node.items()}

    return walk(value)
