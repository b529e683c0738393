"""Lambda entry point: POST /v1/messages and /v1/messages/count_tokens behind API Gateway (buffered, through Mangum).

Anthropic's Messages API (Claude Code, the Anthropic SDKs). The app is built once here, at init
(and snapshotted when SnapStart is on), not per invocation; so are the doors' validators, which
``create_app`` builds by itself only for an app of one endpoint.
"""

from lambdagate.frontdoors.messages import DOOR
from lambdagate.lambda_runtime import api_handler

handler = api_handler(endpoints=["messages", "count_tokens"])
DOOR.warm()
