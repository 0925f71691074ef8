"""Read the ``X-Origin-Verify`` value at both ends: what CloudFront sends, what the ALB requires.

Each returns the value as the template holds it (a Secrets Manager dynamic reference
built with ``Fn::Join``), found with ``Template.has_resource_properties`` and ``Capture``,
so a test can compare the two after ``through_outputs`` has followed the nested stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Capture, Match, Template

from alarm_rollback_kit.origin_verify import ORIGIN_VERIFY_HEADER


def header_cloudfront_sends(edge_template: Template) -> Any:
    """The custom header value of the distribution's (only) origin."""
    sent = Capture()
    edge_template.has_resource_properties(
        "AWS::CloudFront::Distribution",
        {
            "DistributionConfig": Match.object_like(
                {
                    "Origins": [
                        Match.object_like(
                            {
                                "OriginCustomHeaders": Match.array_with(
                                    [{"HeaderName": ORIGIN_VERIFY_HEADER, "HeaderValue": sent}]
                                )
                            }
                        )
                    ]
                }
            )
        },
    )
    return sent.as_object()


def header_listener_requires(service_template: Template) -> Any:
    """The one value the ALB listener rule's ``http-header`` condition accepts."""
    required = Capture()
    service_template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        {
            "Conditions": [
                {
                    "Field": "http-header",
                    "HttpHeaderConfig": {
                        "HttpHeaderName": ORIGIN_VERIFY_HEADER,
                        "Values": [required],
                    },
                }
            ]
        },
    )
    return required.as_object()
