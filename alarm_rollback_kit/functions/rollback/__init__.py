"""The rollback function: an ALB 5xx alarm goes to ALARM, CodeDeploy goes back a release.

EventBridge delivers CloudWatch "Alarm State Change" events here (``handler.lambda_handler``).
The function stops a deployment that is still running, or redeploys the previous good
revision when the newest deployment finished within the bake window, explains what the ALB
metrics say, and tells on-call through SNS. It depends on nothing but the Lambda runtime's
boto3: the decisions are plain functions (``decision``, ``diagnosis``, ``notification``), the
AWS calls live in ``aws`` and are sequenced by ``workflow``.
"""
