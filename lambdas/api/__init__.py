"""order-api: the Lambda functions behind the REST API (API Gateway v1, Lambda proxy integration).

``api.handler.lambda_handler`` answers HTTP requests and ``api.worker.lambda_handler`` runs
export jobs from SQS. The handler never lets an exception escape, because API Gateway turns
a function error into a 502 that hides what happened (API Gateway Developer Guide,
"Handle Lambda errors in API Gateway").
"""
