"""Hand-made CloudFormation for the drill's tests, shaped like ``cdk synth`` output.

The kit's stacks are not synthesized in these tests (that is slow and another team's
work); these dicts are shaped like what aws-cdk-lib writes for ``cw.Alarm`` (single metric
and ``MathExpression``) and for an ``events.Rule`` on alarm state changes. They are not
copies of the kit's own alarms, whose expressions and thresholds differ.
"""

from __future__ import annotations

from typing import Any

ELB = "AWS/ApplicationELB"
LB_DIMENSION = {
    "Name": "LoadBalancer",
    "Value": {"Fn::GetAtt": ["ServiceLoadBalancer31A7DB79", "LoadBalancerFullName"]},
}
RATE_EXPRESSION = "IF(errors > 0 AND requests >= 50, 100 * errors / requests)"


def metric_stat(id_: str, name: str) -> dict[str, Any]:
    return {
        "Id": id_,
        "MetricStat": {
            "Metric": {"Dimensions": [LB_DIMENSION], "MetricName": name, "Namespace": ELB},
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def count_alarm_properties(threshold: float = 50) -> dict[str, Any]:
    return {
        "AlarmDescription": "ALB-generated 5xx per minute above the kit's threshold",
        "ComparisonOperator": "GreaterThanThreshold",
        "DatapointsToAlarm": 1,
        "Dimensions": [LB_DIMENSION],
        "EvaluationPeriods": 1,
        "MetricName": "HTTPCode_ELB_5XX_Count",
        "Namespace": ELB,
        "Period": 60,
        "Statistic": "Sum",
        "Threshold": threshold,
        "TreatMissingData": "notBreaching",
    }


def rate_alarm_properties(numerator: str, threshold: float) -> dict[str, Any]:
    return {
        "AlarmDescription": f"{numerator} above {threshold} % of requests",
        "ComparisonOperator": "GreaterThanThreshold",
        "DatapointsToAlarm": 1,
        "EvaluationPeriods": 1,
        "Metrics": [
            {"Expression": RATE_EXPRESSION, "Id": "expr_1", "Label": "rate", "ReturnData": True},
            metric_stat("errors", numerator),
            metric_stat("requests", "RequestCount"),
        ],
        "Threshold": threshold,
        "TreatMissingData": "notBreaching",
    }


# The kit's three alarms by construct id (stacks/constructs/auto_rollback.py).
KIT_ALARMS = {
    "Elb5xxCount": count_alarm_properties(),
    "Elb5xxRate": rate_alarm_properties("HTTPCode_ELB_5XX_Count", 1.0),
    "Target5xxRate": rate_alarm_properties("HTTPCode_Target_5XX_Count", 5.0),
}


def kit_template() -> dict[str, Any]:
    """Three alarms; the rollback rule listens to the two ELB ones (target 5xx notifies)."""
    return {
        "Resources": {
            "AutoRollbackElb5xxCount1B2C3D4E": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": KIT_ALARMS["Elb5xxCount"],
            },
            "AutoRollbackElb5xxRate5F6A7B8C": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": KIT_ALARMS["Elb5xxRate"],
            },
            "AutoRollbackTarget5xxRate9D0E1F2A": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": KIT_ALARMS["Target5xxRate"],
            },
            "AutoRollbackOnRollbackAlarm3B4C5D6E": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Description": "Rollback alarm entered ALARM: invoke the rollback function",
                    "EventPattern": {
                        "detail": {"state": {"value": ["ALARM"]}},
                        "detail-type": ["CloudWatch Alarm State Change"],
                        "resources": [
                            {"Fn::GetAtt": ["AutoRollbackElb5xxCount1B2C3D4E", "Arn"]},
                            {"Fn::GetAtt": ["AutoRollbackElb5xxRate5F6A7B8C", "Arn"]},
                        ],
                        "source": ["aws.cloudwatch"],
                    },
                    "State": "ENABLED",
                    "Targets": [
                        {"Arn": {"Fn::GetAtt": ["AutoRollbackFunction", "Arn"]}, "Id": "Target0"}
                    ],
                },
            },
            "DeploymentEventsRule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventPattern": {
                        "source": ["aws.codedeploy"],
                        "detail-type": ["CodeDeploy Deployment State-change Notification"],
                    },
                },
            },
        }
    }
