"""The request transform: a ``CreateResponse`` as a chat request, for providers without the Responses API.

What maps (``CreateResponse`` -> ``CreateChatCompletionRequest``):

- ``instructions`` -> a first ``system`` message; ``input`` (a string, or items) -> ``messages``:
  a message item keeps its role (``output_text`` and ``refusal`` parts of an echoed assistant
  message become its text and ``refusal``), ``input_text``/``input_image``/``input_file`` become
  ``text``/``image_url``/``file`` parts; ``function_call`` items become the ``tool_calls`` of an
  assistant message (consecutive calls, and the text before them, make one message), and a
  ``function_call_output`` a ``tool`` message with the same ``call_id``. Reasoning items of earlier
  turns are left out: no translated provider can take them back (Anthropic's would need their
  signatures), and the request works without them.
- ``tools`` (function tools) -> chat tools; ``tool_choice``: the modes as they are, a function by
  name, ``allowed_tools`` as the allowed subset of the tools with its mode.
- ``text.format`` -> ``response_format`` (``json_schema`` with its name, schema, strict and
  description; ``json_object``); ``text.verbosity`` -> ``verbosity``.
- ``reasoning.effort`` -> ``reasoning_effort``; ``max_output_tokens`` -> ``max_completion_tokens``;
  ``top_logprobs`` (or ``include: ["message.output_text.logprobs"]``) -> ``logprobs`` and
  ``top_logprobs``; ``temperature``, ``top_p``, ``parallel_tool_calls``, ``user``,
  ``safety_identifier``, ``prompt_cache_key``, ``prompt_cache_retention``, ``service_tier`` as
  they are. Fields this door does not know go to the chat request as extras, for the provider to
  use (``seed``, say) or to drop and report.
- ``metadata`` is not sent: it is attached to the response object the gateway returns.
- ``stream`` -> ``stream`` with ``stream_options.include_usage``, so a streamed response ends
  with its usage.

What is refused (400 naming the parameter), because it needs state or tools the gateway does not
have: ``previous_response_id``, ``store: true`` (an absent ``store`` is served statelessly),
``conversation``, ``prompt`` (stored prompts), ``background: true``, ``item_reference`` items,
``input_image``/``input_file`` by ``file_id`` (files stored at OpenAI) or ``file_url``, built-in
tools (``web_search``, ``file_search``, ``computer_use_preview``, ``code_interpreter``,
``image_generation``, ``mcp``, ``custom``...) and their ``tool_choice``, and input items of those
tools. ``truncation: "auto"``, ``max_tool_calls``, ``context_management``, ``moderation`` and
``prompt_cache_options`` cannot be carried: providers drop them (header) or refuse them
(``drop_params: false``). ``include`` asks for extra output where there is some: only
``message.output_text.logprobs`` has a counterpart (chat logprobs); the others add nothing here.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from lambdagate.errors import InvalidRequest
from lambdagate.frontdoors.base import ChatTranslation
from lambdagate.frontdoors.responses.types import (
    AllowedTools,
    CreateResponse,
    FormatJSONObject,
    FormatJSONSchema,
    FunctionCall,
    FunctionCallOutput,
    FunctionChoice,
    FunctionTool,
    InputFile,
    InputImage,
    InputText,
    ItemReference,
    Message,
    OtherChoice,
    OutputText,
    Reasoning,
    Refusal,
)
from lambdagate.types import ChatCompletionRequest

NAMES = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "max_completion_tokens": "max_output_tokens",
    "response_format": "text.format",
    "verbosity": "text.verbosity",
    "reasoning_effort": "reasoning.effort",
    "logprobs": "top_logprobs",
}
"""Chat parameter -> the Responses parameter it came from (a dropped or refused one is named so)."""

COPIED = ("temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "prompt_cache_key",
          "prompt_cache_retention", "service_tier")
"""Parameters with the same name and meaning in both APIs."""

LOGPROBS_INCLUDE = "message.output_text.logprobs"

_NO_STORE = (
    "lambdagate keeps no responses, so {what} works only where the model is served by OpenAI or Azure; "
    "this model is served through the chat contract. Send the whole conversation as 'input' items instead."
)


def to_chat(request: CreateResponse) -> ChatTranslation:
    _refuse_state(request)
    fields: dict[str, Any] = {**request.extras(), "model": request.model, "messages": _messages(request)}
    if request.stream:
        fields["stream"] = True
        fields["stream_options"] = {"include_usage": True}
    for name in COPIED:
        if (value := getattr(request, name)) is not None:
            fields[name] = value
    if request.max_output_tokens is not None:
        fields["max_completion_tokens"] = request.max_output_tokens
    if request.timeout is not None:
        fields["timeout"] = request.timeout
    _tools(request, fields)
    _text(request, fields)
    if request.reasoning is not None and request.reasoning.effort is not None:
        fields["reasoning_effort"] = request.reasoning.effort
    if request.top_logprobs is not None or LOGPROBS_INCLUDE in (request.include or ()):
        fields["logprobs"] = True
        fields["top_logprobs"] = request.top_logprobs or 0
    unsupported = [name for name, given in (
        ("truncation", request.truncation == "auto"),
        ("max_tool_calls", request.max_tool_calls is not None),
        ("context_management", request.context_management is not None),
        ("moderation", request.moderation is not None),
        ("prompt_cache_options", request.prompt_cache_options is not None),
    ) if given]
    try:
        chat = ChatCompletionRequest.model_validate(fields)
    except ValidationError as exc:  # a value the chat contract refuses that the Responses types let through
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidRequest(f"This request cannot be translated for this model: {error['msg']} ({where}).",
                             param=NAMES.get(str(error["loc"][0]), str(error["loc"][0]))) from None
    return ChatTranslation(chat, tuple(unsupported), NAMES)


def _refuse_state(request: CreateResponse) -> None:
    if request.previous_response_id is not None:
        raise InvalidRequest(_NO_STORE.format(what="'previous_response_id'"), param="previous_response_id")
    if request.store:
        raise InvalidRequest("lambdagate keeps no responses, so 'store: true' works only where the model is served "
                             "by OpenAI or Azure; this model is served through the chat contract. Send 'store': false "
                             "(or leave it out) with the whole conversation as 'input' items.", param="store")
    if request.conversation is not None:
        raise InvalidRequest(_NO_STORE.format(what="'conversation'"), param="conversation")
    if request.prompt is not None:
        raise InvalidRequest("Stored prompts ('prompt') live at OpenAI and work only where the model is served by "
                             "OpenAI or Azure; send 'instructions' and 'input' instead.", param="prompt")
    if request.background:
        raise InvalidRequest(_NO_STORE.format(what="'background: true'"), param="background")


# --- input -----------------------------------------------------------------------------------------


def _messages(request: CreateResponse) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    items = request.input
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    else:
        for index, item in enumerate(items or ()):
            _add_item(messages, item, f"input[{index}]")
    if not any(m["role"] != "system" for m in messages):
        raise InvalidRequest("Missing required parameter: 'input'.", param="input", code="missing_required_parameter")
    return messages


def _add_item(messages: list[dict[str, Any]], item: Any, where: str) -> None:
    if isinstance(item, Message):
        messages.append(_message(item, where))
    elif isinstance(item, FunctionCall):
        call = {"id": item.call_id, "type": "function", "function": {"name": item.name, "arguments": item.arguments}}
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif isinstance(item, FunctionCallOutput):
        if not item.call_id:
            raise InvalidRequest(f"Missing required parameter: '{where}.call_id'.", param=f"{where}.call_id",
                                 code="missing_required_parameter")
        output = item.output if isinstance(item.output, str) else _parts(item.output, f"{where}.output")
        messages.append({"role": "tool", "tool_call_id": item.call_id, "content": output})
    elif isinstance(item, Reasoning):
        return  # see the module docstring
    elif isinstance(item, ItemReference):
        raise InvalidRequest(_NO_STORE.format(what=f"an 'item_reference' ({where})"), param=where)
    else:
        kind = getattr(item, "type", "?")
        raise InvalidRequest(f"Input items of type '{kind}' belong to tools built into OpenAI's Responses API, which "
                             "lambdagate does not run; they work only where the model is served by OpenAI or Azure.",
                             param=f"{where}.type")


def _message(message: Message, where: str) -> dict[str, Any]:
    content = message.content
    if message.role != "assistant":
        return {"role": message.role, "content": content if isinstance(content, str)
                else _parts(content, f"{where}.content")}
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    refusals: list[str] = []
    for index, part in enumerate(content):
        if isinstance(part, OutputText | InputText):
            texts.append(part.text)
        elif isinstance(part, Refusal):
            refusals.append(part.refusal)
        else:
            raise InvalidRequest(f"An assistant message can hold text and refusals only, not '{part.type}'.",
                                 param=f"{where}.content[{index}].type")
    converted: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not refusals else None}
    if refusals:
        converted["refusal"] = "".join(refusals)
    return converted


_IMAGE_DETAIL = {"low": "low", "high": "high", "auto": "auto", "original": "high"}
"""Chat has no ``original`` (no downscaling at all); ``high`` is the nearest."""


def _parts(parts: list[Any], where: str) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        at = f"{where}[{index}]"
        if isinstance(part, InputText | OutputText):
            converted.append({"type": "text", "text": part.text})
        elif isinstance(part, Refusal):
            converted.append({"type": "text", "text": part.refusal})
        elif isinstance(part, InputImage):
            if not part.image_url:
                raise _stored_file(f"{at}.file_id" if part.file_id else f"{at}.image_url", "Images")
            image: dict[str, Any] = {"url": part.image_url}
            if part.detail is not None:
                image["detail"] = _IMAGE_DETAIL[part.detail]
            converted.append({"type": "image_url", "image_url": image})
        elif isinstance(part, InputFile):
            if part.file_url is not None:
                raise InvalidRequest("Files by 'file_url' are fetched by OpenAI's Responses API; for this model send "
                                     "the file's content as 'file_data' instead.", param=f"{at}.file_url")
            if part.file_data is None:
                raise _stored_file(f"{at}.file_id" if part.file_id else f"{at}.file_data", "Files")
            file: dict[str, Any] = {"file_data": part.file_data}
            if part.filename is not None:
                file["filename"] = part.filename
            converted.append({"type": "file", "file": file})
    return converted


def _stored_file(param: str, what: str) -> InvalidRequest:
    return InvalidRequest(f"{what} by 'file_id' are files stored at OpenAI and work only where the model is served "
                          "by OpenAI or Azure; send the content itself (a URL or a data URL for images, "
                          "'file_data' for files).", param=param)


# --- tools, text, reasoning ------------------------------------------------------------------------


def _builtin(kind: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"The '{kind}' tool is built into OpenAI's Responses API and lambdagate does not run it: it works only where "
        "the model is served by OpenAI or Azure. Declare a function tool instead.", param=param)


def _tools(request: CreateResponse, fields: dict[str, Any]) -> None:
    tools: list[dict[str, Any]] = []
    for index, tool in enumerate(request.tools or ()):
        if not isinstance(tool, FunctionTool):
            raise _builtin(tool.type, f"tools[{index}].type")
        function: dict[str, Any] = {"name": tool.name}
        for name in ("description", "parameters", "strict"):
            if (value := getattr(tool, name)) is not None:
                function[name] = value
        tools.append({"type": "function", "function": function})
    choice = request.tool_choice
    if isinstance(choice, OtherChoice):
        raise _builtin(choice.type, "tool_choice.type")
    if isinstance(choice, AllowedTools):
        allowed = set()
        for index, entry in enumerate(choice.tools):
            if entry.get("type") != "function" or not isinstance(entry.get("name"), str):
                raise _builtin(str(entry.get("type")), f"tool_choice.tools[{index}]")
            allowed.add(entry["name"])
        tools = [tool for tool in tools if tool["function"]["name"] in allowed]
        choice = choice.mode
    if tools:
        fields["tools"] = tools
        if isinstance(choice, FunctionChoice):
            fields["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        elif choice is not None:
            fields["tool_choice"] = choice
    elif choice not in (None, "none", "auto"):
        raise InvalidRequest("Invalid value for 'tool_choice': a tool can only be required when 'tools' offer one.",
                             param="tool_choice")


def _text(request: CreateResponse, fields: dict[str, Any]) -> None:
    text = request.text
    if text is None:
        return
    form = text.format
    if isinstance(form, FormatJSONSchema):
        schema: dict[str, Any] = {"name": form.name, "schema": form.schema_}
        if form.description is not None:
            schema["description"] = form.description
        if form.strict is not None:
            schema["strict"] = form.strict
        fields["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(form, FormatJSONObject):
        fields["response_format"] = {"type": "json_object"}
    if text.verbosity is not None:
        fields["verbosity"] = text.verbosity
