"""Lambda entry point: POST /v1/embeddings behind API Gateway (buffered, through Mangum).

The app is built once here, at init (and snapshotted when SnapStart is on), not per invocation.
"""

from lambdagate.lambda_runtime import api_handler

handler = api_handler(endpoints=["embeddings"])
