"""CloudWatch metrics of one request, per model and provider, in Embedded Metric Format.

Each request flushes its own EMF document (one stdout line) as soon as it ends, on the buffered
path and at the end of a stream alike, so no metric waits for a handler to return: under the
Lambda Web Adapter the response stream outlives nothing that a decorator could hook.

Dimensions are ``model`` and ``provider`` (plus Powertools' ``service``); failures are also counted
per ``error_type`` in a second document. Only a model that routed (an alias the key may use, known
to the configuration) becomes a dimension value: a client that sends random model names must not
create a custom metric per name, so those requests are counted under ``model=(none)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdagate.observability import powertools

if TYPE_CHECKING:
    from lambdagate.observability.record import RequestRecord

NONE = "(none)"
REQUESTS, ERRORS, ERRORS_BY_TYPE = "Requests", "Errors", "ErrorsByType"
LATENCY, TIME_TO_FIRST_TOKEN = "Latency", "TimeToFirstToken"
PROMPT_TOKENS, COMPLETION_TOKENS = "PromptTokens", "CompletionTokens"
# Statuses the router answers only after the model passed its checks (upstream trouble, retries
# exhausted): the alias is a configured one even when no provider answered.
_ROUTED_STATUSES = range(429, 600)


def dimensions(record: RequestRecord) -> dict[str, str]:
    """The ``model``/``provider`` dimension values of a record, bounded to configured names."""
    routed = record.provider is not None or (record.error_type is not None and record.status in _ROUTED_STATUSES)
    return {
        "model": (record.model or NONE) if routed else NONE,
        "provider": record.provider or NONE,
    }


def emit_metrics(record: RequestRecord) -> None:
    """Add the record's metrics and flush them now (one EMF line, two when the request failed)."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = powertools.metrics()
    dims = dimensions(record)
    failed = record.status >= 400 or record.error_type is not None
    try:
        for name, value in dims.items():
            metrics.add_dimension(name, value)
        metrics.add_metric(REQUESTS, MetricUnit.Count, 1)
        metrics.add_metric(ERRORS, MetricUnit.Count, 1 if failed else 0)
        metrics.add_metric(LATENCY, MetricUnit.Milliseconds, round(record.latency_ms, 3))
        if record.time_to_first_token_ms is not None:
            metrics.add_metric(TIME_TO_FIRST_TOKEN, MetricUnit.Milliseconds, round(record.time_to_first_token_ms, 3))
        if record.prompt_tokens is not None:
            metrics.add_metric(PROMPT_TOKENS, MetricUnit.Count, record.prompt_tokens)
        if record.completion_tokens is not None:
            metrics.add_metric(COMPLETION_TOKENS, MetricUnit.Count, record.completion_tokens)
        metrics.flush_metrics()
        if failed:
            for name, value in dims.items():
                metrics.add_dimension(name, value)
            metrics.add_dimension("error_type", record.error_type or f"http_{record.status}")
            metrics.add_metric(ERRORS_BY_TYPE, MetricUnit.Count, 1)
            metrics.flush_metrics()
        if record.key_name is not None:
            _emit_by_key(metrics, record, dims["model"])
    finally:
        # Powertools keeps the buffer when metrics are disabled (POWERTOOLS_METRICS_DISABLED) or a
        # flush failed; the next request must not inherit this one's dimensions.
        metrics.clear_metrics()


# --- spend and limits per key, team and model (lambdagate.limits) ------------------------------

SPEND, KEY_REQUESTS = "SpendUSD", "KeyRequests"
LIMIT_REJECTIONS, LIMIT_STORE_ERRORS = "LimitRejections", "LimitStoreErrors"


def _emit_by_key(metrics: Any, record: RequestRecord, model: str) -> None:
    """One more EMF document for an authenticated request, by ``key``, ``team`` and ``model``.

    Key and team names come from the configuration (a request only gets here once its key is
    known), so they bound the dimension values as the model's do.
    """
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_dimension("key", record.key_name or NONE)
    metrics.add_dimension("team", record.team or NONE)
    metrics.add_dimension("model", model)
    metrics.add_metric(KEY_REQUESTS, MetricUnit.Count, 1)
    metrics.add_metric(LIMIT_REJECTIONS, MetricUnit.Count, 1 if record.limited else 0)
    metrics.add_metric(LIMIT_STORE_ERRORS, MetricUnit.Count, 1 if record.limits_error else 0)
    if record.cost_usd is not None:
        metrics.add_metric(SPEND, MetricUnit.NoUnit, round(record.cost_usd, 10))
    metrics.flush_metrics()


def emit_limit_store_error(operation: str) -> None:
    """A store failure after the request's own metrics were written (a settlement that was lost)."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = powertools.metrics()
    try:
        metrics.add_dimension("operation", operation)
        metrics.add_metric(LIMIT_STORE_ERRORS, MetricUnit.Count, 1)
        metrics.flush_metrics()
    finally:
        metrics.clear_metrics()
