"""The request transform of the bridge: a chat request as a stateless Responses API request.

Built against the OpenAI API reference, Responses ("Create a model response", read 2026-12) and
the vendored schemas (``CreateResponse``, ``InputItem``). Nothing is stored upstream
(``store: false``): the whole conversation travels as ``input`` items on every call.

- ``messages`` -> ``input``: ``system``/``developer``/``user`` messages keep their role and place
  (text -> ``input_text``, ``image_url`` -> ``input_image``, ``file`` -> ``input_file``); an
  assistant message becomes its reasoning items (from ``reasoning_details``, see
  :mod:`.response`), a ``message`` with its text (the string form, read as ``output_text``), and
  one ``function_call`` item per tool call (``call_id`` = the tool call's id); a ``tool`` message is a
  ``function_call_output`` with the same ``call_id``.
- ``tools`` -> flattened function tools (``strict`` sent as chat's default, false, when unset:
  the Responses API's default is true); ``tool_choice`` (modes, a named function,
  ``allowed_tools``) and ``parallel_tool_calls``.
- ``reasoning_effort`` -> ``reasoning.effort``; ``max_completion_tokens``/``max_tokens`` ->
  ``max_output_tokens``; ``response_format`` -> ``text.format``; ``verbosity`` ->
  ``text.verbosity``; ``logprobs``/``top_logprobs`` -> ``include: message.output_text.logprobs``
  and ``top_logprobs``.
- Same name, same meaning: ``temperature``, ``top_p``, ``user`` (still a Responses field, marked
  deprecated in favour of ``safety_identifier`` and ``prompt_cache_key``; it is sent as it came
  rather than renamed, because ``safety_identifier`` takes at most 64 characters and ``user`` has
  no limit), ``safety_identifier``,
  ``prompt_cache_key``, ``prompt_cache_retention``, ``service_tier``, ``metadata``. Fields this
  module does not know pass through, as they do to the OpenAI type (``truncation``, a
  ``reasoning`` object whose keys are merged, ``include``).
- No Responses counterpart, so dropped (listed) or refused (``drop_params: false``): ``stop``,
  ``presence_penalty``, ``frequency_penalty``, ``logit_bias``, ``seed``, ``audio`` and a non-text
  ``modalities``, ``prediction``, ``web_search_options``, ``store: true`` (the bridge stores
  nothing). Legacy ``functions``/``function_call`` and ``function`` messages are refused with a
  400 naming them: the Responses API has only tools.
- ``include: ["reasoning.encrypted_content"]`` when the model reasons, so its reasoning can come
  back on the next turn (:func:`lambdagate.providers.openai.responses_api.route.Route`).
"""

from __future__ import annotations

from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import CallContext
from lambdagate.types import (
    AssistantMessage,
    AudioPart,
    ChatCompletionRequest,
    ContentPart,
    DeveloperMessage,
    FilePart,
    ImagePart,
    NamedToolChoice,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

ENCRYPTED_REASONING = "reasoning.encrypted_content"
LOGPROBS = "message.output_text.logprobs"

COPIED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "prompt_cache_key",
          "prompt_cache_retention", "service_tier", "metadata", "top_logprobs")
"""Chat parameters with the same name and meaning in the Responses API."""

UNSUPPORTED = ("stop", "presence_penalty", "frequency_penalty", "logit_bias", "seed", "audio", "prediction",
               "web_search_options")
"""Chat parameters the Responses API has no counterpart for."""

HANDLED = frozenset({
    *COPIED, *UNSUPPORTED, "model", "messages", "stream", "stream_options", "n", "max_tokens",
    "max_completion_tokens", "tools", "tool_choice", "response_format", "reasoning_effort", "verbosity", "logprobs",
    "store", "modalities", "functions", "function_call",
})
"""Every chat field this module reads; any other the client sent passes through as it came."""

REASONING_FORMATS = {"openai": "openai-responses-v1", "azure": "azure-openai-responses-v1",
                     "bedrock": "bedrock-openai-responses-v1"}
"""``reasoning_details[].format`` per provider type: encrypted reasoning decrypts only where it was made."""


def reasoning_format(provider_type: str) -> str:
    return REASONING_FORMATS.get(provider_type, f"{provider_type}-responses-v1")


def build_body(request: ChatCompletionRequest, model: str, ctx: CallContext, provider_type: str, *,
               stream: bool, encrypted_reasoning: bool, reasoning_summary: str | None = None) -> dict[str, Any]:
    """The Responses request for ``request`` (no I/O); unsupported parameters reported on ``ctx``."""
    sent = request.sent_fields()
    for name in ("functions", "function_call"):
        if sent.get(name) is not None:
            raise InvalidRequest(f"'{name}' cannot be sent through the Responses API, which this model needs; "
                                 "use 'tools' and 'tool_choice' instead.", param=name)
    body: dict[str, Any] = {name: value for name, value in sent.items() if name not in HANDLED}
    body.update(model=model, input=input_items(request, reasoning_format(provider_type)), store=False)
    for name in UNSUPPORTED:
        if sent.get(name) is not None:
            ctx.unsupported(name, provider_type)
    if request.store:
        ctx.unsupported("store", provider_type)
    if request.modalities and any(modality != "text" for modality in request.modalities):
        ctx.unsupported("modalities", provider_type)
    for name in COPIED:
        if sent.get(name) is not None:
            body[name] = sent[name]
    if (limit := request.output_token_limit) is not None:
        body["max_output_tokens"] = limit
    if request.tools:
        body["tools"] = [tool(definition.function.model_dump(exclude_unset=True)) for definition in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = tool_choice(request.tool_choice)
    _reasoning(body, request, reasoning_summary)
    _text(body, request, sent)
    include = [name for name in body.get("include") or () if isinstance(name, str)]
    if encrypted_reasoning and ENCRYPTED_REASONING not in include:
        include.append(ENCRYPTED_REASONING)
    if request.logprobs:
        if LOGPROBS not in include:
            include.append(LOGPROBS)
    else:
        body.pop("top_logprobs", None)  # chat takes top_logprobs only with logprobs
    if include:
        body["include"] = include
    if stream:
        body["stream"] = True
        options = request.stream_options
        if options is not None and options.include_obfuscation is not None:
            body["stream_options"] = {"include_obfuscation": options.include_obfuscation}
    return body


def _reasoning(body: dict[str, Any], request: ChatCompletionRequest, summary: str | None) -> None:
    reasoning = dict(body.get("reasoning") or {}) if isinstance(body.get("reasoning"), dict) else {}
    if request.reasoning_effort is not None:
        reasoning["effort"] = request.reasoning_effort
    if summary and "summary" not in reasoning:
        reasoning["summary"] = summary
    if reasoning:
        body["reasoning"] = reasoning
    else:
        body.pop("reasoning", None)


def _text(body: dict[str, Any], request: ChatCompletionRequest, sent: dict[str, Any]) -> None:
    text = dict(body.get("text") or {}) if isinstance(body.get("text"), dict) else {}
    if request.response_format is not None:
        text["format"] = text_format(request.response_format.type, request.response_format.json_schema)
    if sent.get("verbosity") is not None:
        text["verbosity"] = sent["verbosity"]
    if text:
        body["text"] = text
    else:
        body.pop("text", None)


def text_format(kind: str, json_schema: dict[str, Any] | None) -> dict[str, Any]:
    """Chat's ``response_format`` as ``text.format``: the json_schema object flattened."""
    if kind != "json_schema":
        return {"type": kind}
    spec = json_schema or {}
    result: dict[str, Any] = {"type": "json_schema", "name": spec.get("name") or "response",
                              "schema": spec.get("schema") or {"type": "object"}}
    for name in ("strict", "description"):
        if spec.get(name) is not None:
            result[name] = spec[name]
    return result


def tool(function: dict[str, Any]) -> dict[str, Any]:
    """A chat function tool, flattened; chat's defaults made explicit where the Responses API's differ."""
    result: dict[str, Any] = {
        "type": "function",
        "name": function["name"],
        # Chat: "omitting parameters defines a function with an empty parameter list".
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
        "strict": bool(function.get("strict")),
    }
    if function.get("description") is not None:
        result["description"] = function["description"]
    extra = {k: v for k, v in function.items() if k not in ("name", "parameters", "strict", "description")}
    return {**result, **extra}


def tool_choice(choice: Any) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "name": choice.function.name}
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "function" and isinstance(choice.get("function"), dict):
            return {"type": "function", "name": choice["function"].get("name")}
        if kind == "allowed_tools" and isinstance(choice.get("allowed_tools"), dict):
            allowed = choice["allowed_tools"]
            tools = [{"type": "function", "name": (entry.get("function") or {}).get("name")}
                     for entry in allowed.get("tools") or [] if isinstance(entry, dict)]
            return {"type": "allowed_tools", "mode": allowed.get("mode", "auto"), "tools": tools}
    raise InvalidRequest("This 'tool_choice' has no Responses API form; name a function or use a mode.",
                         param="tool_choice")


# --- messages -> input items ----------------------------------------------------------------------


def input_items(request: ChatCompletionRequest, fmt: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for index, message in enumerate(request.messages):
        param = f"messages[{index}]"
        if isinstance(message, SystemMessage | DeveloperMessage | UserMessage):
            items.append({"type": "message", "role": message.role, "content": input_content(message.content, param)})
        elif isinstance(message, AssistantMessage):
            items += assistant_items(message, fmt, param)
        elif isinstance(message, ToolMessage):
            items.append({"type": "function_call_output", "call_id": message.tool_call_id,
                          "output": tool_output(message.content, param)})
        else:
            raise InvalidRequest("'function' messages cannot be sent through the Responses API; use tool calls and "
                                 "'tool' messages instead.", param=param)
    return items


def input_content(content: str | list[ContentPart], param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [input_part(part, f"{param}.content[{index}]") for index, part in enumerate(content)]


def input_part(part: ContentPart, param: str) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "input_image", "image_url": part.image_url.url, "detail": part.image_url.detail or "auto"}
    if isinstance(part, FilePart):
        file = {k: v for k, v in part.file.items() if k in ("file_id", "file_data", "filename", "file_url")}
        return {"type": "input_file", **file}
    if isinstance(part, AudioPart):
        raise InvalidRequest("Audio input cannot be sent through the Responses API.", param=param)
    raise InvalidRequest(f"Content parts of type '{part.type}' cannot be sent in this message.", param=param)


def tool_output(content: str | list[ContentPart], param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if all(isinstance(part, TextPart) for part in content):
        return "".join(part.text for part in content if isinstance(part, TextPart))
    return [input_part(part, f"{param}.content[{index}]") for index, part in enumerate(content)]


def assistant_items(message: AssistantMessage, fmt: str, param: str) -> list[dict[str, Any]]:
    """An assistant turn: its reasoning items first (the API wants each before what followed it), then
    its text, then its tool calls."""
    if message.function_call is not None:
        raise InvalidRequest("A legacy 'function_call' cannot be sent through the Responses API; send it as "
                             "'tool_calls'.", param=f"{param}.function_call")
    calls = [{"type": "function_call", "call_id": call.id, "name": call.function.name,
              "arguments": call.function.arguments} for call in message.tool_calls or ()]
    text = _assistant_text(message)
    if not text and not calls:
        return []  # nothing the reasoning could precede
    items = reasoning_items((message.model_extra or {}).get("reasoning_details"), fmt)
    if text:
        # The string form of an input message: every Responses implementation reads it as the assistant's
        # output text, while output_text parts need the id and status of a stored item to be valid.
        items.append({"type": "message", "role": "assistant", "content": text})
    return items + calls


def _assistant_text(message: AssistantMessage) -> str:
    """The assistant's text (a refusal when it said nothing else: the words it answered with)."""
    content = message.content
    if isinstance(content, str):
        text = content
    else:
        text = "".join(part.text for part in content or () if isinstance(part, TextPart))
        if not text:
            text = "".join(part.refusal for part in content or () if isinstance(part, RefusalPart))
    return text or message.refusal or ""


def reasoning_items(details: Any, fmt: str) -> list[dict[str, Any]]:
    """The ``reasoning`` input items carried back in an assistant message's ``reasoning_details``.

    Only encrypted entries of this provider's format (or of none, written by a client) become items,
    each with the summaries before it; other providers' entries cannot be decrypted here and are left out.
    """
    if not isinstance(details, list):
        return []
    items: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    for detail in details:
        if not isinstance(detail, dict) or detail.get("format") not in (None, fmt):
            continue
        kind = detail.get("type")
        if kind == "reasoning.summary" and isinstance(detail.get("summary"), str):
            summaries.append({"type": "summary_text", "text": detail["summary"]})
        elif kind == "reasoning.encrypted" and isinstance(detail.get("data"), str):
            item: dict[str, Any] = {"type": "reasoning", "summary": summaries, "encrypted_content": detail["data"]}
            if isinstance(detail.get("id"), str):
                item["id"] = detail["id"]
            items.append(item)
            summaries = []
    return items


__all__ = ["ENCRYPTED_REASONING", "REASONING_FORMATS", "build_body", "input_items", "reasoning_format",
           "reasoning_items", "text_format", "tool", "tool_choice"]
