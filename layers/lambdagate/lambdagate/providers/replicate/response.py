"""A Replicate prediction -> a ``chat.completion``, and Replicate's errors -> the gateway's.

Written against Replicate's HTTP API v1 reference (predictions, errors; read on 2026-11-23):

- API errors are problem details, ``{"title", "detail", "status"}`` (422 for input validation,
  429 with ``Retry-After`` when throttled).
- A prediction ends ``succeeded``, ``failed`` (``error`` holds the model's message) or
  ``canceled``. Replicate has no error code of its own for a prompt over the model's context:
  the model's runtime reports it in ``error`` (vLLM "maximum context length is N tokens",
  TensorRT-LLM "Prompt length (N) exceeds maximum input length", llama.cpp "prompt is too
  long"), so those wordings are mapped to OpenAI's ``context_length_exceeded`` (400).
- Replicate reports no finish reason: ``length`` when the output reached the token limit, else
  ``stop``. Usage comes from ``metrics.input_token_count``/``output_token_count`` when the model
  reports them and is left out otherwise (usage is optional in OpenAI's schema; no estimate is
  better than a wrong one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from lambdagate.errors import UpstreamError, upstream_error
from lambdagate.providers import http, shapes
from lambdagate.providers.base import Target
from lambdagate.types import ChatCompletionRequest
from lambdagate.wire import JSONBody

TERMINAL = frozenset({"succeeded", "failed", "canceled"})

_CONTEXT_TOO_LONG = re.compile(
    r"maximum (?:context|input|sequence) length|context (?:length|window)|prompt (?:length )?(?:\(\d+\) )?"
    r"(?:is too long|exceeds)|too many (?:input )?tokens|input is too long",
    re.IGNORECASE,
)


def too_long(message: str | None) -> bool:
    """Whether a model's error message says the prompt did not fit its context."""
    return bool(message and _CONTEXT_TOO_LONG.search(message))


def _string(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else http.encode(value).decode()


def replicate_error(body: Any) -> http.ErrorInfo:
    """Replicate's problem details: ``{"title", "detail", "status"}`` (or just ``detail``)."""
    if isinstance(body, dict) and ("detail" in body or "title" in body):
        title = body.get("title")
        message = _string(body.get("detail")) or (title if isinstance(title, str) else None)
        if too_long(message):
            return http.ErrorInfo(message, http.CONTEXT_LENGTH_EXCEEDED, status=400)
        return http.ErrorInfo(message)
    return http.openai_error(body)


def prediction_error(target: Target, status: str, error: Any) -> UpstreamError:
    """A prediction that failed (the model raised) or was canceled: a 502 the client may retry.

    A prompt too long for the model is the client's to fix: OpenAI's 400 ``context_length_exceeded``.
    """
    message = error if isinstance(error, str) and error else f"the prediction {status}"
    if status == "failed" and too_long(message):
        return upstream_error(target.provider_name, 400, message, code=http.CONTEXT_LENGTH_EXCEEDED,
                              secrets=target.secrets)
    return upstream_error(target.provider_name, 500, message, code=f"prediction_{status}", secrets=target.secrets)


def output_text(output: Any) -> str:
    """Language models return a list of string pieces; some return one string."""
    if output is None:
        return ""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(piece if isinstance(piece, str) else http.encode(piece).decode() for piece in output)
    return http.encode(output).decode()


def usage_of(prediction: Mapping[str, Any]) -> dict[str, Any] | None:
    metrics = prediction.get("metrics")
    if not isinstance(metrics, dict):
        return None
    prompt, completion = metrics.get("input_token_count"), metrics.get("output_token_count")
    if isinstance(prompt, int) and isinstance(completion, int):
        return shapes.usage(prompt, completion)
    return None


def finish_reason(request: ChatCompletionRequest, usage: Mapping[str, Any] | None) -> str:
    limit = request.output_token_limit
    if limit is not None and usage is not None and usage["completion_tokens"] >= limit:
        return "length"
    return "stop"


def finished(prediction: Mapping[str, Any], target: Target) -> dict[str, Any]:
    """A terminal prediction that succeeded, or its failure raised."""
    status = prediction.get("status")
    if status != "succeeded":
        raise prediction_error(target, str(status), prediction.get("error"))
    return dict(prediction)


def completion(prediction: Mapping[str, Any], request: ChatCompletionRequest, target: Target) -> JSONBody:
    """A succeeded prediction as a ``chat.completion``; prediction URLs and ids never reach the client."""
    usage = usage_of(prediction)
    choice = shapes.chat_choice(0, shapes.chat_message(output_text(prediction.get("output"))),
                                finish_reason(request, usage))
    return shapes.chat_completion(target.model, [choice], usage)


def chunks(prediction: Mapping[str, Any], request: ChatCompletionRequest, target: Target) -> Iterator[JSONBody]:
    """A succeeded prediction as one streamed answer (a model that cannot stream)."""
    chunker = shapes.ChatChunks(target.model)
    yield chunker.role()
    if text := output_text(prediction.get("output")):
        yield chunker.content(text)
    usage = usage_of(prediction)
    yield chunker.finish(finish_reason(request, usage))
    if request.wants_usage_chunk and usage is not None:
        yield chunker.usage(usage)
