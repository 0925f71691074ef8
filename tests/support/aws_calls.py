"""The AWS calls the rollback function reports (``awsCalls``), as ``service:Operation``."""

LIST = "codedeploy:ListDeployments"
BATCH = "codedeploy:BatchGetDeployments"
STOP = "codedeploy:StopDeployment"
CREATE = "codedeploy:CreateDeployment"
INVALIDATE = "cloudfront:CreateInvalidation"
METRICS = "cloudwatch:GetMetricData"
PUBLISH = "sns:Publish"
CLAIM = "dynamodb:PutItem"
RELEASE = "dynamodb:DeleteItem"
# The Lambda undo's reads: the release's AppSpec, then where the alias points.
READ_APPSPEC = "codedeploy:GetApplicationRevision"
GET_ALIAS = "lambda:GetAlias"

# A redeploy without an edge, told to on-call: read, claim, create, diagnose, page.
REDEPLOY = [LIST, BATCH, CLAIM, CREATE, METRICS, PUBLISH]
# A CreateDeployment the group refused (another deployment holds it): the claim is given
# back and the group read again to decide what holds it.
REFUSED_THEN_REREAD = [LIST, BATCH, CLAIM, CREATE, RELEASE, LIST, BATCH]
# The Lambda undo of a succeeded release: read, its AppSpec, the alias, claim, create, page.
UNDO = [LIST, BATCH, READ_APPSPEC, GET_ALIAS, CLAIM, CREATE, PUBLISH]
