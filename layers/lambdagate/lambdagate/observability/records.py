"""One structured record per request, written when the request ends (streams included).

The record holds names and numbers only: the key's *name*, the alias, the provider's *name*,
statuses, timings and token counts. Keys, upstream URLs and prompts never enter it (prompt
logging, ``settings.log_prompts``, is not implemented: nothing here ever sees a prompt).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from lambdagate.observability import powertools
from lambdagate.providers.base import JSONBody, RawJSON

logger = logging.getLogger("lambdagate.request")


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    endpoint: str
    status: int = 200
    key_name: str | None = None
    model: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    stream: bool = False
    attempts: int = 0
    latency_ms: float = 0.0
    time_to_first_token_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error_type: str | None = None
    dropped_params: tuple[str, ...] = ()

    def add_usage(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.prompt_tokens = (self.prompt_tokens or 0) + int(usage.get("prompt_tokens") or 0)
            self.completion_tokens = (self.completion_tokens or 0) + int(usage.get("completion_tokens") or 0)


def record_request(record: RequestRecord) -> None:
    """Write the record as one JSON log line and, when enabled, its CloudWatch metrics.

    With ``POWERTOOLS_SERVICE_NAME`` set (the deployed functions) the line comes from Powertools'
    Logger with the request id as correlation id; otherwise from the ``lambdagate.request``
    stdlib logger. Telemetry never fails a request: a broken metric is logged and dropped.
    """
    fields = asdict(record)
    if powertools.logging_enabled():
        log = powertools.logger()
        log.set_correlation_id(record.request_id)
        log.info("request", extra=fields)
    elif logger.isEnabledFor(logging.INFO):
        logger.info(json.dumps({"message": "request", **fields}, separators=(",", ":")))
    if powertools.metrics_enabled():
        try:
            from lambdagate.observability.metrics import emit_metrics

            emit_metrics(record)
        except Exception as exc:  # a metrics schema error must not turn a served request into a 500
            logger.warning("metrics not emitted: %s", exc)


_USAGE = b'"usage"'


def usage_of(body: JSONBody) -> dict[str, Any] | None:
    """The ``usage`` object of a response or chunk, read from raw bytes without a full parse.

    The usage object sits at the end of OpenAI responses, so decoding from its key is cheap.
    """
    if not isinstance(body, RawJSON):
        usage = body.get("usage")
        return usage if isinstance(usage, dict) else None
    data = body.data
    at = data.rfind(_USAGE)
    if at < 0:
        return None
    start = data.find(b":", at + len(_USAGE))
    try:
        value, _ = json.JSONDecoder().raw_decode(data[start + 1:].decode("utf-8").lstrip())
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, dict) else None
