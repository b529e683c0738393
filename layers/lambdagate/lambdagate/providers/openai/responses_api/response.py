"""The response transform of the bridge: a Responses API ``Response`` as an exact ``chat.completion``.

Built against the OpenAI API reference (Responses, "The response object", read 2026-12) and the
vendored ``Response`` schema:

- ``message`` items: ``output_text`` parts -> ``content`` (their ``logprobs`` -> the choice's
  ``logprobs.content``), ``refusal`` parts -> ``refusal``;
- ``function_call`` items -> ``tool_calls`` (``id`` = ``call_id``, the id a ``tool`` message
  answers; ``arguments`` the JSON string as generated);
- ``reasoning`` items: summary texts (or, for open-weight models, ``reasoning_text`` content) ->
  ``reasoning_content``, and the item itself -> ``reasoning_details``, OpenRouter's extension
  field for reasoning a client must echo back (read by OpenRouter's SDKs, the Vercel AI SDK's
  OpenRouter provider, LangChain, Roo Code/Cline/Kilo...): ``{"type": "reasoning.summary",
  "summary", "id", "format", "index"}`` and ``{"type": "reasoning.encrypted", "data", "id",
  "format", "index"}``, ``format`` naming where it was made (``openai-responses-v1``). A client
  that keeps the assistant message as it came sends them back, and :mod:`.request` turns them
  into ``reasoning`` input items;
- ``finish_reason``: ``length`` / ``content_filter`` from ``incomplete_details.reason``
  (``max_output_tokens`` / ``content_filter``), else ``tool_calls`` when the model called a
  function, else ``stop``;
- usage: ``input_tokens`` -> ``prompt_tokens``, ``output_tokens`` -> ``completion_tokens``,
  ``input_tokens_details.cached_tokens`` -> ``prompt_tokens_details.cached_tokens`` (and
  ``cache_write_tokens``), ``output_tokens_details.reasoning_tokens`` ->
  ``completion_tokens_details.reasoning_tokens``.

A ``failed`` response is the upstream's error; a body that is no ``Response`` is a retryable 502.
"""

from __future__ import annotations

from typing import Any

from lambdagate.errors import UpstreamError, upstream_error
from lambdagate.providers import http, shapes
from lambdagate.providers.base import Target

_FAILURE_STATUS = {"rate_limit_exceeded": 429, "invalid_prompt": 400, "server_error": 500}


def finish_reason(response: dict[str, Any], called: bool) -> str:
    if response.get("status") == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        if reason == "content_filter":
            return "content_filter"
        return "length"  # max_output_tokens, or a reason of a newer API version: the answer was cut
    return "tool_calls" if called else "stop"


def usage(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("input_tokens_details") or {}
    output_details = raw.get("output_tokens_details") or {}
    result = shapes.usage(
        int(raw.get("input_tokens") or 0), int(raw.get("output_tokens") or 0),
        cached_tokens=prompt_details.get("cached_tokens"), reasoning_tokens=output_details.get("reasoning_tokens"),
    )
    if isinstance(total := raw.get("total_tokens"), int):
        result["total_tokens"] = total
    if prompt_details.get("cache_write_tokens"):
        result.setdefault("prompt_tokens_details", {"cached_tokens": 0})["cache_write_tokens"] = (
            prompt_details["cache_write_tokens"])
    return result


def logprobs(entries: list[Any]) -> list[dict[str, Any]]:
    """``output_text.logprobs`` as chat's ``ChatCompletionTokenLogprob`` list (same fields)."""
    result = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        top = [{"token": t.get("token", ""), "logprob": t.get("logprob", 0), "bytes": t.get("bytes")}
               for t in entry.get("top_logprobs") or [] if isinstance(t, dict)]
        result.append({"token": entry.get("token", ""), "logprob": entry.get("logprob", 0),
                       "bytes": entry.get("bytes"), "top_logprobs": top})
    return result


def reasoning_details(item: dict[str, Any], fmt: str, start: int) -> list[dict[str, Any]]:
    """One ``reasoning`` output item as ``reasoning_details`` entries, numbered from ``start``."""
    details: list[dict[str, Any]] = []
    item_id = item.get("id")
    for part in item.get("summary") or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            details.append({"type": "reasoning.summary", "summary": part["text"], "id": item_id, "format": fmt})
    if isinstance(item.get("encrypted_content"), str):
        details.append({"type": "reasoning.encrypted", "data": item["encrypted_content"], "id": item_id,
                        "format": fmt})
    for offset, detail in enumerate(details):
        detail["index"] = start + offset
    return details


def reasoning_text(item: dict[str, Any]) -> str:
    """A reasoning item's readable text: its summaries, else its raw reasoning (open-weight models)."""
    summaries = [part.get("text") or "" for part in item.get("summary") or [] if isinstance(part, dict)]
    if any(summaries):
        return "\n\n".join(text for text in summaries if text)
    return "".join(part.get("text") or "" for part in item.get("content") or []
                   if isinstance(part, dict) and part.get("type") == "reasoning_text")


def failure(response: dict[str, Any], target: Target, parse_error: http.ErrorParser) -> UpstreamError:
    """A ``failed`` response (or ``response.failed`` event) as the upstream error it reports."""
    info = parse_error({"error": response.get("error") or {}})
    status = info.status or _FAILURE_STATUS.get(info.code or "", 500)
    return upstream_error(target.provider_name, status, info.message or "the response failed.", code=info.code,
                          param=info.param, secrets=target.secrets)


def chat_completion(response: Any, target: Target, fmt: str, parse_error: http.ErrorParser) -> dict[str, Any]:
    """The ``chat.completion`` for a ``Response``."""
    if not isinstance(response, dict) or response.get("object") != "response" \
            or not isinstance(response.get("output"), list):
        raise http.bad_answer(target, "an object that is not a response")
    if response.get("status") == "failed":
        raise failure(response, target, parse_error)
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    reasoning: list[str] = []
    details: list[dict[str, Any]] = []
    token_logprobs: list[dict[str, Any]] = []
    for item in response["output"]:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "output_text":
                    texts.append(str(part.get("text") or ""))
                    token_logprobs += logprobs(part.get("logprobs") or [])
                elif part.get("type") == "refusal":
                    refusals.append(str(part.get("refusal") or ""))
        elif kind == "function_call":
            calls.append(shapes.tool_call(str(item.get("call_id") or item.get("id") or shapes.new_id("call")),
                                          str(item.get("name") or ""), str(item.get("arguments") or "{}")))
        elif kind == "reasoning":
            if text := reasoning_text(item):
                reasoning.append(text)
            details += reasoning_details(item, fmt, len(details))
    content = "".join(texts) if texts else (None if calls or refusals else "")
    message = shapes.chat_message(content, tool_calls=calls or None, reasoning_content="\n\n".join(reasoning) or None,
                                  refusal="".join(refusals) or None)
    if details:
        message["reasoning_details"] = details
    choice = shapes.chat_choice(0, message, finish_reason(response, bool(calls)))
    if token_logprobs:
        choice["logprobs"] = {"content": token_logprobs, "refusal": None}
    created = response.get("created_at")
    completion = shapes.chat_completion(
        str(response.get("model") or target.model), [choice], usage(response.get("usage")),
        id=str(response.get("id") or "") or None, created=int(created) if isinstance(created, int | float) else None,
    )
    if isinstance(response.get("service_tier"), str):
        completion["service_tier"] = response["service_tier"]
    return completion


__all__ = ["chat_completion", "failure", "finish_reason", "logprobs", "reasoning_details", "reasoning_text", "usage"]
