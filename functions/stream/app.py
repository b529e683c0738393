"""The whole API for uvicorn behind the Lambda Web Adapter: the function URL's streaming path.

``run.sh`` (the function's handler) starts uvicorn on this module's ``app``; the adapter relays
each chunk to the function URL as uvicorn writes it (``AWS_LWA_INVOKE_MODE=response_stream``).
"""

from lambdagate.lambda_runtime import streaming_app

app = streaming_app()
