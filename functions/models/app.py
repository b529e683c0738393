"""Lambda entry point: GET /v1/models and /v1/models/{id} behind API Gateway (through Mangum).

The app is built once here, at init (and snapshotted when SnapStart is on), not per invocation.
"""

from lambdagate.lambda_runtime import api_handler

handler = api_handler(endpoints=["models"])
