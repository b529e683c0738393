"""Powertools Logger and Metrics, built on first use and only when their environment asks for them.

Powertools is switched on by its own variables, which the SAM template sets: ``POWERTOOLS_SERVICE_NAME``
turns the request log into Powertools' JSON logger (with the request id as correlation id), and
``POWERTOOLS_METRICS_NAMESPACE`` turns on CloudWatch metrics in Embedded Metric Format. Without
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.metrics import EphemeralMetrics

SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"

_logger: Logger | None = None
_metrics: EphemeralMetrics | None = None


class _Stdout:
    """Whatever ``sys.stdout`` is at the time of writing (Lambda: the log stream; tests: capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def logging_enabled() -> bool:
    return bool(os.environ.get(SERVICE_ENV))


def metrics_enabled() -> bool:
    return bool(os.environ.get(NAMESPACE_ENV))


def logger() -> Logger:
    """The gateway's Powertools logger (JSON lines on stdout, which Lambda ships to CloudWatch)."""
    global _logger
    if _logger is None:
        from aws_lambda_powertools import Logger
        from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

        _logger = Logger(stream=_Stdout(), use_rfc3339=True)  # type: ignore[arg-type]
        # The gateway's own stdlib loggers (lambdagate.api, .router, ...) get the same JSON format
        # and level through their parent; when the service is named "lambdagate" the Powertools
        # logger is that parent already and Powertools skips it here.
        logging.getLogger("lambdagate")
        copy_config_to_registered_loggers(source_logger=_logger, include={"lambdagate"})
    return _logger


def metrics() -> EphemeralMetrics:
    """One metrics buffer, flushed after every request (so streams and buffered calls alike report).

    ``EphemeralMetrics`` keeps its state per instance rather than per class, so nothing else in
    the process (a user's own ``Metrics``) shares the buffer or its dimensions.
    """
    global _metrics
    if _metrics is None:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        _metrics = EphemeralMetrics()
    return _metrics


def setup() -> None:
    """Build what the environment enables now (Lambda init) rather than on the first request."""
    if logging_enabled():
        logger()
    if metrics_enabled():
        metrics()


def reset() -> None:
    """Forget the built objects and undo the logger set-up (tests, after changing the environment).

    Powertools marks the stdlib logger it configured and reuses it as is on the next ``Logger()``;
    clearing the marks lets the next build follow the environment again.
    """
    global _logger, _metrics
    if _logger is not None:
        for name in {_logger.service, "lambdagate"}:
            configured = logging.getLogger(name)
            configured.handlers.clear()
            configured.setLevel(logging.NOTSET)
            configured.propagate = True
            for mark in ("init", "powertools_handler"):
                configured.__dict__.pop(mark, None)
    _logger, _metrics = None, None
