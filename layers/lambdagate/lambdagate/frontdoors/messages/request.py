"""The request transform: a Messages request as a chat request, for providers without the Messages API.

What maps (``MessageCreateParams`` -> ``CreateChatCompletionRequest``):

- ``system`` (a string, or text blocks joined by blank lines) -> a first ``system`` message.
- ``messages``: a user turn's ``text`` blocks become ``text`` parts, ``image`` blocks (base64 or
  URL sources) ``image_url`` parts (base64 as a data URL), ``document`` blocks a ``file`` part
  (base64 PDF, as a data URL) or text (plain-text and content sources); its ``tool_result``
  blocks become ``tool`` messages with the same ``tool_call_id``, placed before the rest of the
  turn (chat wants them right after the assistant's calls), their text as the content and
  their images in a user message after them (a chat tool message holds text only). An
  assistant turn's text becomes its ``content`` and its ``tool_use`` blocks its ``tool_calls``
  (``input`` as the JSON ``arguments``). ``thinking`` and ``redacted_thinking`` blocks of
  earlier turns are left out: no translated provider can take them back.
- ``tools`` (client tools) -> function tools (``input_schema`` as ``parameters``, ``strict``);
  ``tool_choice`` ``auto``/``any``/``tool``/``none`` -> ``auto``/``required``/the named
  function/``none``, ``disable_parallel_tool_use: true`` -> ``parallel_tool_calls: false``.
- ``max_tokens`` -> ``max_completion_tokens``; ``stop_sequences`` -> ``stop``;
  ``temperature``, ``top_p`` as they are; ``top_k`` as an extra field (OpenAI-compatible servers
  such as vLLM take it; other providers drop it); ``metadata.user_id`` -> ``user``.
- ``thinking`` -> ``reasoning_effort``, as far as the provider has it: ``output_config.effort``
  when sent (``max`` -> ``xhigh``), else an ``enabled`` budget by size (under 4096 tokens
  ``low``, under 16384 ``medium``, else ``high``); ``adaptive`` without an effort and
  ``disabled`` send none. ``output_config.format`` (a JSON schema) -> ``response_format``.
- ``stream`` -> ``stream`` with ``stream_options.include_usage``, so the stream's
  ``message_delta`` carries the usage.
- ``cache_control`` (anywhere), ``citations`` on request text, ``inference_geo`` and ``speed``
  are hints for Anthropic: left out without a word.

What is refused (400 naming the field): server tools (``web_search_*``, ``bash_*``,
``text_editor_*``, ``computer_*``, ``code_execution_*``...) and their blocks, other block types
the chat contract has no form for (``search_result``, ``container_upload``...), sources by
``file_id`` (Anthropic's Files API) or documents by URL. Fields the chat contract cannot carry
(``service_tier``, ``container``, ``mcp_servers``, ``context_management`` and any other unknown
top-level field) are dropped and listed in ``x-lambdagate-dropped-params``, or refused with
``drop_params: false``.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import to_json

from lambdagate.errors import InvalidRequest
from lambdagate.frontdoors.base import ChatTranslation
from lambdagate.frontdoors.messages.types import (
    Base64Source,
    ContentSource,
    DocumentBlockParam,
    ImageBlockParam,
    MessageCreateParams,
    MessageParam,
    RedactedThinkingBlockParam,
    TextBlockParam,
    TextSource,
    ThinkingBlockParam,
    ToolParamCustom,
    ToolResultBlockParam,
    ToolUseBlockParam,
    URLSource,
)
from lambdagate.types import ChatCompletionRequest

NAMES = {
    "messages": "messages",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "stop": "stop_sequences",
    "reasoning_effort": "thinking",
    "response_format": "output_config.format",
    "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
    "user": "metadata.user_id",
}
"""Chat parameter -> the Messages parameter it came from (a dropped or refused one is named so)."""

SILENT = frozenset({"inference_geo", "speed", "cache_control"})
"""Top-level Anthropic hints with no meaning elsewhere: not sent, not reported."""

CARRIED = frozenset({"top_k"})
"""Top-level fields sent to the chat request as extras (OpenAI-compatible servers take them)."""

EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}
"""``output_config.effort`` -> ``reasoning_effort`` (chat's highest is ``xhigh``)."""

BUDGET_EFFORT = ((4096, "low"), (16384, "medium"))
"""``thinking.budget_tokens`` below each bound -> that effort; at or above the last: ``high``."""


def to_chat(request: MessageCreateParams) -> ChatTranslation:
    fields: dict[str, Any] = {"model": request.model, "messages": messages(request)}
    if request.stream:
        fields["stream"] = True
        fields["stream_options"] = {"include_usage": True}
    fields["max_completion_tokens"] = request.max_tokens
    if request.stop_sequences:
        fields["stop"] = request.stop_sequences
    for name in ("temperature", "top_p", "top_k"):
        if (value := getattr(request, name)) is not None:
            fields[name] = value
    if request.metadata is not None and request.metadata.user_id:
        fields["user"] = request.metadata.user_id
    if request.timeout is not None:
        fields["timeout"] = request.timeout
    _tools(request, fields)
    if (effort := reasoning_effort(request)) is not None:
        fields["reasoning_effort"] = effort
    if request.output_config is not None and isinstance(request.output_config.format, dict):
        fields["response_format"] = _response_format(request.output_config.format)
    unsupported = [name for name in request.extras() if name not in SILENT and name not in CARRIED]
    if request.service_tier is not None:
        unsupported.append("service_tier")
    for name in CARRIED:
        if name in request.extras():
            fields[name] = request.extras()[name]
    try:
        chat = ChatCompletionRequest.model_validate(fields)
    except ValidationError as exc:  # a value the chat contract refuses that the Messages types let through
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidRequest(f"This request cannot be translated for this model: {error['msg']} ({where}).",
                             param=NAMES.get(str(error["loc"][0]), str(error["loc"][0]))) from None
    return ChatTranslation(chat, tuple(unsupported), NAMES)


def reasoning_effort(request: MessageCreateParams) -> str | None:
    thinking = request.thinking
    if thinking is None or thinking.type == "disabled":
        return None
    effort = request.output_config.effort if request.output_config is not None else None
    if effort is not None:
        return EFFORT[effort]
    if thinking.type == "enabled" and thinking.budget_tokens is not None:
        return next((level for bound, level in BUDGET_EFFORT if thinking.budget_tokens < bound), "high")
    return None


def _response_format(form: dict[str, Any]) -> dict[str, Any]:
    if form.get("type") != "json_schema" or not isinstance(form.get("schema"), dict):
        raise InvalidRequest("output_config.format must be {\"type\": \"json_schema\", \"schema\": {...}}.",
                             param="output_config.format")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": form["schema"], "strict": True}}


# --- messages --------------------------------------------------------------------------------------


def _system(request: MessageCreateParams) -> str:
    system = request.system
    if system is None or isinstance(system, str):
        return system or ""
    return "\n\n".join(block.text for block in system if block.text)


def messages(request: MessageCreateParams) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    if system := _system(request):
        converted.append({"role": "system", "content": system})
    for index, message in enumerate(request.messages):
        where = f"messages[{index}]"
        if message.role == "assistant":
            converted.append(_assistant(message, where))
        else:
            converted += _user(message, where)
    return converted


def _unsupported_block(kind: str, where: str) -> InvalidRequest:
    return InvalidRequest(
        f"Content blocks of type '{kind}' belong to Anthropic's own tools and features, which this model's provider "
        "does not have; they work only where the model is served by Anthropic or Bedrock.", param=f"{where}.type")


def _user(message: MessageParam, where: str) -> list[dict[str, Any]]:
    """A user turn: its tool results first (as tool messages), then the rest as one user message."""
    if isinstance(message.content, str):
        return [{"role": "user", "content": message.content}]
    results: list[dict[str, Any]] = []
    result_images: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for index, block in enumerate(message.content):
        at = f"{where}.content[{index}]"
        if isinstance(block, ToolResultBlockParam):
            text, images = _tool_result(block, at)
            results.append({"role": "tool", "tool_call_id": block.tool_use_id, "content": text})
            result_images += images
        elif isinstance(block, ThinkingBlockParam | RedactedThinkingBlockParam):
            continue
        else:
            parts += _part(block, at)
    turn: list[dict[str, Any]] = list(results)
    if result_images:
        turn.append({"role": "user", "content": [{"type": "text", "text": "Images returned by the tools:"},
                                                 *result_images]})
    if parts or not results:
        turn.append({"role": "user", "content": _compact(parts)})
    return turn


def _compact(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """One text part as a plain string (what every OpenAI-compatible server takes)."""
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def _tool_result(block: ToolResultBlockParam, where: str) -> tuple[str, list[dict[str, Any]]]:
    if block.content is None or isinstance(block.content, str):
        return block.content or "", []
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for index, item in enumerate(block.content):
        for part in _part(item, f"{where}.content[{index}]"):
            if part["type"] == "text":
                texts.append(part["text"])
            else:
                images.append(part)
    return "\n".join(texts), images


def _part(block: Any, where: str) -> list[dict[str, Any]]:
    """A user content block as chat content parts."""
    if isinstance(block, TextBlockParam):
        return [{"type": "text", "text": block.text}] if block.text else []
    if isinstance(block, ImageBlockParam):
        return [{"type": "image_url", "image_url": {"url": _image_url(block, where)}}]
    if isinstance(block, DocumentBlockParam):
        return _document(block, where)
    raise _unsupported_block(block.type, where)


def _image_url(block: ImageBlockParam, where: str) -> str:
    source = block.source
    if isinstance(source, Base64Source):
        return f"data:{source.media_type};base64,{source.data}"
    if isinstance(source, URLSource):
        return source.url
    raise InvalidRequest("Images by 'file_id' are files stored at Anthropic; for this model send the image as a "
                         "base64 or URL source.", param=f"{where}.source.type")


def _document(block: DocumentBlockParam, where: str) -> list[dict[str, Any]]:
    source = block.source
    if isinstance(source, Base64Source):
        file: dict[str, Any] = {"file_data": f"data:{source.media_type};base64,{source.data}"}
        if block.title:
            file["filename"] = block.title
        return [{"type": "file", "file": file}]
    title = f"{block.title}\n\n" if block.title else ""
    if isinstance(source, TextSource):
        return [{"type": "text", "text": title + source.data}]
    if isinstance(source, ContentSource):
        if isinstance(source.content, str):
            return [{"type": "text", "text": title + source.content}]
        texts = [item.get("text") for item in source.content if item.get("type") == "text"]
        return [{"type": "text", "text": title + "\n".join(text for text in texts if isinstance(text, str))}]
    raise InvalidRequest(f"Documents with a '{source.type}' source are read by Anthropic itself; for this model send "
                         "the document as base64 data or text.", param=f"{where}.source.type")


def _assistant(message: MessageParam, where: str) -> dict[str, Any]:
    if isinstance(message.content, str):
        return {"role": "assistant", "content": message.content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for index, block in enumerate(message.content):
        if isinstance(block, TextBlockParam):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlockParam):
            calls.append({"id": block.id, "type": "function",
                          "function": {"name": block.name, "arguments": to_json(block.input).decode()}})
        elif isinstance(block, ThinkingBlockParam | RedactedThinkingBlockParam):
            continue  # see the module docstring
        else:
            raise _unsupported_block(block.type, f"{where}.content[{index}]")
    converted: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        converted["tool_calls"] = calls
    return converted


# --- tools -----------------------------------------------------------------------------------------


def _tools(request: MessageCreateParams, fields: dict[str, Any]) -> None:
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(request.tools or ()):
        if not isinstance(tool, ToolParamCustom):
            raise InvalidRequest(
                f"The '{tool.type}' tool is run by Anthropic and this model's provider does not have it: it works only "
                "where the model is served by Anthropic or Bedrock. Declare a custom tool instead.",
                param=f"tools[{index}].type")
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
        if tool.description is not None:
            function["description"] = tool.description
        if tool.strict is not None:
            function["strict"] = tool.strict
        tools.append({"type": "function", "function": function})
    choice = request.tool_choice
    if not tools:
        if choice is not None and choice.type in ("any", "tool"):
            raise InvalidRequest("tool_choice can only require a tool when 'tools' offer one.", param="tool_choice")
        return
    fields["tools"] = tools
    if choice is None:
        return
    if choice.type == "tool":
        if not choice.name:
            raise InvalidRequest("Missing required parameter: 'tool_choice.name'.", param="tool_choice.name",
                                 code="missing_required_parameter")
        fields["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        fields["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel_tool_use and choice.type != "none":
        fields["parallel_tool_calls"] = False
