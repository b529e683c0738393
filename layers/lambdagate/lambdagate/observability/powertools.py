"""Powertools' Logger, built on first use and only when its environment asks for it.

Powertools' own variables, which the SAM template sets, switch telemetry on: ``POWERTOOLS_SERVICE_NAME``
turns the request log into Powertools' JSON logger (with the request id as correlation id), and
``POWERTOOLS_METRICS_NAMESPACE`` turns on CloudWatch metrics in Embedded Metric Format (written by
:mod:`lambdagate.observability.emf`, in the document format Powertools' metrics print). Without
them (``lambdagate serve``, tests) nothing of Powertools is imported.

Importing Powertools costs about 34 ms on the development machine (its package ``__init__``
pulls in the tracer and jmespath whatever submodule is asked for), so it stays out of the import
of the request path; the Lambda entry points call :func:`setup` during init instead, where
SnapStart snapshots it and an on-demand cold start pays it once either way.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

from lambdagate import environment

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"

_logger: Logger | None = None
_stdlib_logger: logging.Logger | None = None
"""The stdlib logger Powertools configured under ``_logger``: its level says whether INFO is on."""


class _Stdout:
    """Whatever ``sys.stdout`` is at the time of writing (Lambda: the log stream; tests: capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def logging_enabled() -> bool:
    return bool(environment.read(SERVICE_ENV))


def metrics_enabled() -> bool:
    return bool(environment.read(NAMESPACE_ENV))


def logger() -> Logger:
    """The gateway's Powertools logger (JSON lines on stdout, which Lambda ships to CloudWatch)."""
    global _logger, _stdlib_logger
    if _logger is None:
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

        _logger = Logger(stream=_Stdout(), use_rfc3339=True)  # type: ignore[arg-type]
        # The gateway's own stdlib loggers (lambdagate.api, .router, ...) get the same JSON format
        # and level through their parent; when the service is named "lambdagate" the Powertools
        # logger is that parent already and Powertools skips it here.
        logging.getLogger("lambdagate")
        copy_config_to_registered_loggers(source_logger=_logger, include={"lambdagate"})
        _stdlib_logger = logging.getLogger(_logger.name)
    return _logger


_STANDARD_KEYS = ("level", "location", "message", "timestamp")
_TRACE_ENV = "_X_AMZN_TRACE_ID"
# Powertools stamps local time, ``datetime.now().astimezone()``: a time zone look-up on every line. A
# zone without daylight saving (Lambda runs in UTC) has one offset for good, so it is made once.
_FIXED_LOCAL_ZONE = None if time.daylight else timezone(timedelta(seconds=-time.timezone))


def info_line(message: str, fields: dict[str, Any], correlation_id: str | None = None) -> str | None:
    """One INFO line in the Powertools logger's JSON format, for the caller to write to stdout.

    It carries what ``logger().info(message, extra=fields)`` would (level, location, message,
    timestamp, service, the Lambda context keys and ``cold_start``, the correlation id, the X-Ray
    trace id, ``fields``; None values left out) without building a ``LogRecord``, finding the
    caller's frame and formatting through the handler: that machinery was about 6% of a
    request's CPU on the development machine, for the one line every request writes. A logger
    whose formatter is not Powertools' own (``log_record_order``, a custom formatter) gets the
    ordinary ``info`` call instead, and None is returned (as when INFO is off).
    """
    log = logger()
    formatter = log.registered_formatter
    keys = getattr(formatter, "log_format", None)
    # The Lambda handler set this invocation's id already; appending it again costs as much as the line's JSON.
    if correlation_id is not None and not (isinstance(keys, dict) and keys.get("correlation_id") == correlation_id):
        log.set_correlation_id(correlation_id)
    assert _stdlib_logger is not None
    if not _stdlib_logger.isEnabledFor(logging.INFO):
        return None
    if type(formatter).__name__ != "LambdaPowertoolsFormatter" or not isinstance(keys, dict) \
            or tuple(keys)[:4] != _STANDARD_KEYS:
        log.info(message, extra=fields, stacklevel=2)
        return None
    if getattr(formatter, "utc", False):
        now = datetime.now(UTC)
    else:
        now = datetime.now(_FIXED_LOCAL_ZONE) if _FIXED_LOCAL_ZONE is not None else datetime.now().astimezone()
    caller = sys._getframe(1)
    line: dict[str, Any] = {"level": "INFO", "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
                            "message": message, "timestamp": now.isoformat(timespec="milliseconds")}
    for name, value in keys.items():
        if name not in line and value is not None:
            line[name] = value
    for name, value in fields.items():
        if value is not None:
            line[name] = value
    trace = os.environ.get(_TRACE_ENV)
    if trace and keys.get("xray_trace_id", "") is not None:
        line["xray_trace_id"] = trace.split(";")[0].replace("Root=", "")
    return to_json(line).decode() + "\n"


def setup() -> None:
    """Build what the environment enables now (Lambda init) rather than on the first request."""
    if logging_enabled():
        logger()


def reset() -> None:
    """Forget the built objects and undo the logger set-up (tests, after changing the environment).

    Powertools marks the stdlib logger it configured and reuses it as is on the next ``Logger()``;
    clearing the marks lets the next build follow the environment again.
    """
    global _logger, _stdlib_logger
    environment.refresh()
    if _logger is not None:
        for name in {_logger.service, "lambdagate"}:
            configured = logging.getLogger(name)
            configured.handlers.clear()
            configured.setLevel(logging.NOTSET)
            configured.propagate = True
            for mark in ("init", "powertools_handler"):
                configured.__dict__.pop(mark, None)
    _logger = _stdlib_logger = None
