#!/bin/sh
# Handler of the streaming function. With AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap the Lambda Web
# Adapter runs this script instead of the Python runtime, waits until the app answers on $PORT and
# then forwards each function URL request to it, streaming the response back as it is written.
# Locally: PORT=8080 LAMBDAGATE_CONFIG=gateway.example.yaml functions/stream/run.sh
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
# The layer's packages live in /opt/python; the managed runtime adds that to sys.path for its own
# handlers only, so say it here for this separate interpreter.
export PYTHONPATH="${here}:/opt/python${PYTHONPATH:+:${PYTHONPATH}}"
# stdout is a pipe here: unbuffered, each JSON log line and EMF metrics document reaches CloudWatch
# when it is written, not when a buffer fills (or never, if the environment is frozen first).
export PYTHONUNBUFFERED=1
exec python3 -m uvicorn app:app \
    --host 127.0.0.1 --port "${PORT:-8080}" \
    --lifespan off --no-access-log --no-server-header \
    --timeout-keep-alive 300 --log-level "$(echo "${POWERTOOLS_LOG_LEVEL:-warning}" | tr 'A-Z' 'a-z')"
