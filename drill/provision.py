"""Request bodies for the moto resources the drill creates from the synthesized template."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drill.assembly import Template

# PutMetricAlarm parameters the kit's alarms use; the evaluator, not moto, decides states.
ALARM_PARAMETERS = (
    "AlarmDescription",
    "ComparisonOperator",
    "DatapointsToAlarm",
    "EvaluationPeriods",
    "Threshold",
    "TreatMissingData",
    "Metrics",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "Dimensions",
)
# The managed CachingDisabled policy: the drill's distribution only needs to exist, so that
# the function's CreateInvalidation has a target.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def alarm_parameters(properties: Mapping[str, Any], name: str) -> dict[str, Any]:
    """PutMetricAlarm parameters for a resolved ``AWS::CloudWatch::Alarm``'s properties."""
    params = {key: properties[key] for key in ALARM_PARAMETERS if key in properties}
    params["AlarmName"] = name
    return params


def create_distribution(cloudfront: Any, nested: Template, distribution_id: str) -> Any:
    """A moto distribution standing for ``distribution_id`` of the nested edge stack."""
    config = nested.properties(distribution_id).get("DistributionConfig", {})
    origin = {
        "Id": "alb",
        "DomainName": "alb.drill.invalid",
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": "http-only",
        },
    }
    return cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": f"drill-{nested.name}-{distribution_id}",
            "Comment": str(config.get("Comment", ""))[:128],
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [origin]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "alb",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_DISABLED,
            },
        }
    )["Distribution"]
