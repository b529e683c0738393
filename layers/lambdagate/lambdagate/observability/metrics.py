"""CloudWatch metrics of one request, per model and provider, in Embedded Metric Format.

Each request writes its own EMF document (a stdout line, :mod:`lambdagate.observability.emf`) as
soon as it ends, on the buffered path and at the end of a stream alike, so no metric waits for a
handler to return: under the Lambda Web Adapter the response stream outlives nothing that a
decorator could hook.

Dimensions are ``model`` and ``provider`` (plus ``service``); failures are also counted per
``error_type``, and authenticated requests per key and team, in further metric sets of the same
document. Only a model that routed (an alias the key may use, known to the configuration)
becomes a dimension value: a client that sends random model names must not create a custom
metric per name, so those requests are counted under ``model=(none)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambdagate.observability.emf import COUNT, MILLISECONDS, NO_UNIT, EmfWriter, Metric, MetricSet

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


def metric_lines(record: RequestRecord) -> str:
    """The record's EMF document as a stdout line: its metric sets by model and provider, by error
    type when the request failed, and by key, team and model once the key was known."""
    writer = EmfWriter.from_environment()
    if writer is None:
        return ""
    dims = dimensions(record)
    failed = record.status >= 400 or record.error_type is not None
    values: list[Metric] = [(REQUESTS, COUNT, 1), (ERRORS, COUNT, 1 if failed else 0),
                            (LATENCY, MILLISECONDS, round(record.latency_ms, 3))]
    if record.time_to_first_token_ms is not None:
        values.append((TIME_TO_FIRST_TOKEN, MILLISECONDS, round(record.time_to_first_token_ms, 3)))
    if record.prompt_tokens is not None:
        values.append((PROMPT_TOKENS, COUNT, record.prompt_tokens))
    if record.completion_tokens is not None:
        values.append((COMPLETION_TOKENS, COUNT, record.completion_tokens))
    sets: list[MetricSet] = [(dims, values)]
    if failed:
        error_type = record.error_type or f"http_{record.status}"
        sets.append(({**dims, "error_type": error_type}, [(ERRORS_BY_TYPE, COUNT, 1)]))
    if record.key_name is not None:
        sets.append(_by_key(record, dims["model"]))
    return writer.document(*sets)


# --- spend and limits per key, team and model (lambdagate.limits) ------------------------------

SPEND, KEY_REQUESTS = "SpendUSD", "KeyRequests"
LIMIT_REJECTIONS, LIMIT_STORE_ERRORS = "LimitRejections", "LimitStoreErrors"


def _by_key(record: RequestRecord, model: str) -> MetricSet:
    """The metric set of an authenticated request, by ``key``, ``team`` and ``model``.

    Key and team names come from the configuration (a request only gets here once its key is
    known), so they bound the dimension values as the model's do.
    """
    values: list[Metric] = [(KEY_REQUESTS, COUNT, 1), (LIMIT_REJECTIONS, COUNT, 1 if record.limited else 0),
                            (LIMIT_STORE_ERRORS, COUNT, 1 if record.limits_error else 0)]
    if record.cost_usd is not None:
        values.append((SPEND, NO_UNIT, round(record.cost_usd, 10)))
    return {"key": record.key_name or NONE, "team": record.team or NONE, "model": model}, values


def emit_limit_store_error(operation: str) -> None:
    """A store failure after the request's own metrics were written (a settlement that was lost)."""
    writer = EmfWriter.from_environment()
    if writer is not None:
        writer.write({"operation": operation}, [(LIMIT_STORE_ERRORS, COUNT, 1)])
