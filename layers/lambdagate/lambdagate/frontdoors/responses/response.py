"""The response transform: a ``chat.completion`` as a Responses API ``Response`` object.

- ``output``: a ``reasoning`` item (the chat message's ``reasoning_content`` as its summary), a
  ``message`` item with one ``output_text`` part (and a ``refusal`` part when the model refused),
  then one ``function_call`` item per tool call (``call_id`` is the chat tool call's id, so a
  ``function_call_output`` sent back with it reaches the same call).
- ``status``: ``completed``; ``incomplete`` with ``incomplete_details.reason`` ``max_output_tokens``
  for ``finish_reason: length`` and ``content_filter`` for ``content_filter``.
- ``usage``: ``input_tokens``/``output_tokens`` with their details (cached and cache-write input
  tokens, reasoning output tokens).
- The request's parameters are echoed as OpenAI echoes them (``instructions``, ``tools``,
  ``tool_choice``, ``text``, ``temperature``, ``metadata``...), with ``store: false``: nothing is
  kept.

The stream translator (:mod:`.stream`) builds the same objects, item by item.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from lambdagate.errors import GatewayError
from lambdagate.frontdoors.responses.types import CreateResponse, FunctionTool

INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}
"""``finish_reason`` -> ``incomplete_details.reason``; every other reason completes the response."""


def new_id(prefix: str) -> str:
    """An id in OpenAI's form (``resp_``, ``msg_``, ``fc_``, ``rs_`` + 48 hex digits)."""
    return f"{prefix}_{secrets.token_hex(24)}"


# --- the parts of a response ------------------------------------------------------------------------


def usage(chat_usage: dict[str, Any] | None) -> dict[str, Any] | None:
    """A chat ``usage`` as a ``ResponseUsage``."""
    if not chat_usage:
        return None
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    prompt_details = chat_usage.get("prompt_tokens_details") or {}
    completion_details = chat_usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": int(prompt_details.get("cached_tokens") or 0),
            # lambdagate's chat usage names Anthropic's and Bedrock's cache writes cache_creation_tokens.
            "cache_write_tokens": int(prompt_details.get("cache_creation_tokens")
                                      or prompt_details.get("cache_write_tokens") or 0),
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int(completion_details.get("reasoning_tokens") or 0)},
        "total_tokens": int(chat_usage.get("total_tokens") or prompt + completion),
    }


def chat_usage(response_usage: Any) -> dict[str, Any] | None:
    """A ``ResponseUsage`` in chat terms, for the request record (and the cost of a passthrough)."""
    if not isinstance(response_usage, dict):
        return None
    prompt = int(response_usage.get("input_tokens") or 0)
    completion = int(response_usage.get("output_tokens") or 0)
    input_details = response_usage.get("input_tokens_details") or {}
    output_details = response_usage.get("output_tokens_details") or {}
    converted: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": int(response_usage.get("total_tokens") or prompt + completion)}
    if isinstance(input_details, dict) and input_details:
        converted["prompt_tokens_details"] = {"cached_tokens": int(input_details.get("cached_tokens") or 0)}
        if input_details.get("cache_write_tokens"):
            converted["prompt_tokens_details"]["cache_creation_tokens"] = int(input_details["cache_write_tokens"])
    if isinstance(output_details, dict) and output_details:
        converted["completion_tokens_details"] = {"reasoning_tokens": int(output_details.get("reasoning_tokens") or 0)}
    return converted


def output_text(text: str, logprobs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs or []}


def refusal(text: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": text}


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}


def reasoning_item(item_id: str, summary: str | None) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": summary}] if summary
            else []}


def response_error(error: GatewayError) -> dict[str, Any]:
    """A gateway error as a response's ``error`` (its ``code`` is one of ``ResponseErrorCode``)."""
    if error.status == 429:
        code = "rate_limit_exceeded"
    elif 400 <= error.status < 500:
        code = "invalid_prompt"
    else:
        code = "server_error"
    return {"code": code, "message": error.message}


class Shape:
    """The ``Response`` objects of one request: one id and creation time, the request's echoed fields."""

    __slots__ = ("created_at", "echo", "id", "model")

    def __init__(self, request: CreateResponse, model: str) -> None:
        self.id = new_id("resp")
        self.created_at = int(time.time())
        self.model = model
        self.echo = _echo(request)

    def response(
        self, status: str, output: list[dict[str, Any]], *, usage: dict[str, Any] | None = None,
        incomplete_reason: str | None = None, error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": int(time.time()) if status == "completed" else None,
            "error": error,
            "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
            "model": self.model,
            "output": output,
            **self.echo,
        }
        if usage is not None:
            body["usage"] = usage
        return body


def _echo(request: CreateResponse) -> dict[str, Any]:
    """The request's parameters as a ``Response`` repeats them (OpenAI's defaults where it sent none)."""
    text: dict[str, Any] = {"format": {"type": "text"}}
    if request.text is not None:
        sent = request.text.model_dump(exclude_none=True, by_alias=True)
        text = {**text, **sent}
    reasoning = None
    if request.reasoning is not None:
        reasoning = {"effort": request.reasoning.effort,
                     "summary": request.reasoning.summary or request.reasoning.generate_summary}
    tool_choice: Any = request.tool_choice if request.tool_choice is not None else "auto"
    if not isinstance(tool_choice, str):
        tool_choice = tool_choice.model_dump(exclude_none=True)
    echo: dict[str, Any] = {
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "parallel_tool_calls": True if request.parallel_tool_calls is None else request.parallel_tool_calls,
        "previous_response_id": None,
        "reasoning": reasoning,
        "store": False,
        "temperature": request.temperature,
        "text": text,
        "tool_choice": tool_choice,
        "tools": [_tool(tool) for tool in request.tools or ()],
        "top_p": request.top_p,
        "truncation": request.truncation or "disabled",
        "metadata": request.metadata or {},
    }
    for name in ("top_logprobs", "safety_identifier", "prompt_cache_key", "service_tier"):
        if (value := getattr(request, name)) is not None:
            echo[name] = value
    if request.user is not None:
        echo["user"] = request.user
    return echo


def _tool(tool: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = tool.model_dump(exclude_none=True)
    if isinstance(tool, FunctionTool):  # the Response schema always names both
        dumped.setdefault("parameters", None)
        dumped.setdefault("strict", None)
    return dumped


# --- chat.completion -> Response ----------------------------------------------------------------------


def output_items(message: dict[str, Any], status: str, logprobs: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The ``output`` items of one chat message."""
    items: list[dict[str, Any]] = []
    if reasoning := message.get("reasoning_content"):
        items.append(reasoning_item(new_id("rs"), reasoning))
    content: list[dict[str, Any]] = []
    if (text := message.get("content")) or (message.get("content") == "" and not message.get("tool_calls")):
        content.append(output_text(text or "", logprobs))
    if message.get("refusal"):
        content.append(refusal(message["refusal"]))
    if content:
        items.append(message_item(new_id("msg"), content, status))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        items.append(function_call_item(new_id("fc"), call.get("id") or new_id("call"), function.get("name") or "",
                                        function.get("arguments") or "", "completed"))
    return items


def from_chat(completion: dict[str, Any], request: CreateResponse) -> dict[str, Any]:
    choices = completion.get("choices") or [{}]
    choice = choices[0]
    reason = INCOMPLETE_REASONS.get(choice.get("finish_reason") or "")
    status = "incomplete" if reason else "completed"
    logprobs = (choice.get("logprobs") or {}).get("content")
    output = output_items(choice.get("message") or {}, status, logprobs)
    shape = Shape(request, str(completion.get("model") or request.model))
    return shape.response(status, output, usage=usage(completion.get("usage")), incomplete_reason=reason)
