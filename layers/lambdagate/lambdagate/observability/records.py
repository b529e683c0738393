"""One structured record per request, written when the request ends (streams included).

The record holds names and numbers only: the key's *name*, the alias, the provider's *name*,
statuses, timings and token counts. Keys, upstream URLs and prompts never enter it: nothing
here ever sees a prompt.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import fields as dataclass_fields
from typing import Any

from pydantic_core import to_json

from lambdagate.observability import powertools
from lambdagate.observability.metrics import metric_lines
from lambdagate.observability.record import RequestRecord
from lambdagate.wire import JSONBody, RawEvent, RawJSON

logger = logging.getLogger("lambdagate.request")

FIELDS = tuple(field.name for field in dataclass_fields(RequestRecord))
"""The record's fields, in order: read one by one per request (``dataclasses.asdict`` deep-copies
every value and cost about 15 times as much; the values are numbers, strings and tuples)."""


def record_request(record: RequestRecord) -> None:
    """Write the record as one JSON log line and, when enabled, its CloudWatch metrics.

    With ``POWERTOOLS_SERVICE_NAME`` set (the deployed functions) the line comes from Powertools'
    Logger with the request id as correlation id; otherwise from the ``lambdagate.request``
    stdlib logger. Telemetry never fails a request: a broken metric is logged and dropped.
    """
    text = ""
    if powertools.logging_enabled():
        text = powertools.info_line("request", {name: getattr(record, name) for name in FIELDS},
                                    record.request_id) or ""
    elif logger.isEnabledFor(logging.INFO):
        line = {"message": "request"}
        line.update({name: getattr(record, name) for name in FIELDS})
        logger.info(to_json(line).decode())
    if powertools.metrics_enabled():
        try:
            text += metric_lines(record)
        except Exception as exc:  # a broken metric must not turn a served request into a 500
            logger.warning("metrics not emitted: %s", exc)
    if text:
        # One write for the log line and the EMF document: stdout is unbuffered where it matters.
        sys.stdout.write(text)


_USAGE = b'"usage"'
_DECODER = json.JSONDecoder()  # stateless: one serves every call (building one per call doubled the read)


def usage_of(body: JSONBody) -> dict[str, Any] | None:
    """The ``usage`` object of a response or chunk: the top-level one of the parsed value a whole
    answer's passthrough bytes carry, else read from the raw bytes without a full parse (the last
    ``"usage"`` key: it sits at the end of OpenAI responses, so decoding from it is cheap)."""
    if isinstance(body, RawJSON):
        # An event's usage may sit inside it (``message.usage``, ``response.usage``): its bytes are read.
        if body.value is None or isinstance(body, RawEvent):
            return _usage_in_bytes(body.data)
        parsed: Any = body.value
    else:
        parsed = body
    usage = parsed.get("usage") if isinstance(parsed, dict) else None
    return usage if isinstance(usage, dict) else None


def _usage_in_bytes(data: bytes) -> dict[str, Any] | None:
    at = data.rfind(_USAGE)
    if at < 0:
        return None
    start = data.find(b":", at + len(_USAGE))
    try:
        value, _ = _DECODER.raw_decode(data[start + 1:].decode("utf-8").lstrip())
    except (ValueError, IndexError):
        return None
    return value if isinstance(value, dict) else None
