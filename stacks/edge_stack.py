"""The nested stack the CloudFront edge lives in, inside the service stack.

The rollback function in the service stack needs the distribution id (to invalidate
cached errors after a rollback) and the distribution needs the service's ALB, so two
top-level stacks would reference each other. A nested stack breaks the cycle: the parent
passes the ALB's DNS name and security group id in as parameters and reads the
distribution id and the origin-verify secret's ARN (the edge owns the secret; the ALB
listener in the parent requires it) back from outputs, all inside one deployment. Its
template is written to ``cdk.out`` as ``*.nested.template.json``.
"""

from __future__ import annotations

import aws_cdk as cdk


class EdgeStack(cdk.NestedStack):
    """Holds one ``alarm_rollback_kit.edge.Edge``, which the parent builds in it.

    A stack only composes: the edge's arguments are the construct's own, so the parent
    calls ``Edge(edge_stack, "Edge", ...)`` rather than this class repeating them.
    """
