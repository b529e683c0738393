"""The request transform: OpenAI chat -> Gemini ``GenerateContentRequest`` (v1beta reference, 2026-11).

What maps where:

- ``system``/``developer`` messages -> ``systemInstruction`` (text only, joined).
- ``user`` -> role ``user``, ``assistant`` -> role ``model``; tool results -> ``functionResponse``
  parts of a ``user`` turn. Consecutive turns of one role are merged into one ``Content``, as
  parallel function responses must share one turn.
- Images: ``data:`` URLs -> ``inlineData``; ``http(s)`` URLs -> ``fileData.fileUri`` (the API
  fetches public and signed URLs itself since 2026-01). Other schemes are refused with a 400.
- Tools -> ``functionDeclarations`` with ``parametersJsonSchema`` (plain JSON Schema, so no
  conversion to the OpenAPI subset of ``parameters``); ``tool_choice`` -> ``toolConfig``.
- Sampling parameters -> ``generationConfig`` through :data:`.params.PARAMS` (``n`` ->
  ``candidateCount``: each candidate comes back as its own choice).
- ``reasoning_effort`` -> ``thinkingConfig``: ``thinkingLevel`` on Gemini 3 and later,
  ``thinkingBudget`` before; thoughts are then requested so they come back as reasoning.

Gemini 3 rejects a replayed ``functionCall`` without its ``thoughtSignature``. The response
carries each signature on the tool call as ``extra_content.google.thought_signature`` (where
Google's own OpenAI-compatible endpoint puts it), and it is sent back from there; a client that
rebuilt the message without it gets Google's documented bypass value instead of a 400.
"""

from __future__ import annotations

import json
import mimetypes
import re
from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import CallContext, map_params
from lambdagate.providers.content import text_only
from lambdagate.providers.gemini.params import HANDLED, PARAMS
from lambdagate.types import (
    AssistantMessage,
    AudioPart,
    ChatCompletionRequest,
    ContentPart,
    DeveloperMessage,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    RefusalPart,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

PROVIDER_TYPE = "gemini"
SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for a thought signature the client did not send back."""


# JSON Schema keywords Gemini's schema validator refuses or that mean nothing to it.
_DROPPED_SCHEMA_KEYS = frozenset({"$schema", "$comment", "strict"})

# reasoning_effort -> thinkingLevel (Gemini 3+) and thinkingBudget in tokens (Gemini 2.5).
# Gemini 3 cannot switch thinking off; "minimal" is the closest it has to "none".
_THINKING_LEVEL = {"none": "minimal", "minimal": "minimal", "low": "low", "medium": "medium",
                   "high": "high", "xhigh": "high"}
_THINKING_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "xhigh": 24576}
_LEGACY_MODEL = re.compile(r"(?:models/)?gemini-(?:1|2)(?:\.|-|$)")


def is_legacy_model(model: str) -> bool:
    """Gemini 1.x/2.x: thinking budgets instead of levels, and no thought-signature checks."""
    return _LEGACY_MODEL.match(model) is not None


def build_body(request: ChatCompletionRequest, model: str, ctx: CallContext) -> dict[str, Any]:
    body = map_params(request.translated_fields(), PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    system, contents = convert_messages(request.messages, legacy=is_legacy_model(model))
    body["contents"] = contents
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(tool.function) for tool in request.tools]}]
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _tool_choice(request.tool_choice)}
    if request.parallel_tool_calls is False:
        # Gemini decides how many calls to make; there is no switch to ask for one at most.
        ctx.unsupported("parallel_tool_calls", PROVIDER_TYPE)
    generation = body.setdefault("generationConfig", {})
    if request.response_format is not None:
        generation.update(_response_format(request.response_format.type, request.response_format.json_schema))
    if request.reasoning_effort is not None:
        generation["thinkingConfig"] = _thinking(request.reasoning_effort, model)
    if not generation:
        del body["generationConfig"]
    return body


# --- messages ----------------------------------------------------------------------------


def convert_messages(messages: list[Message], *, legacy: bool) -> tuple[str, list[dict[str, Any]]]:
    """The system instruction text and the ``contents`` turns."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for message in messages:
        if isinstance(message, SystemMessage | DeveloperMessage):
            system.append(text_only(message.content, "messages", "gemini", separator="\n"))
        elif isinstance(message, UserMessage):
            add("user", _parts(message.content))
        elif isinstance(message, AssistantMessage):
            add("model", _assistant_parts(message, call_names, legacy=legacy))
        elif isinstance(message, ToolMessage):
            add("user", [_function_response(message, call_names)])
        else:  # legacy "function" role: a result named by its function
            add("user", [{"functionResponse": {"name": message.name,
                                               "response": _response_object(message.content or "")}}])
    return "\n\n".join(s for s in system if s), contents


def _parts(content: str | list[ContentPart] | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [_part(part) for part in content]


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, RefusalPart):
        return {"text": part.refusal}
    if isinstance(part, ImagePart):
        return _media(part.image_url.url, default_mime="image/jpeg")
    if isinstance(part, AudioPart):
        return {"inlineData": {"mimeType": f"audio/{part.input_audio.format}", "data": part.input_audio.data}}
    if isinstance(part, FilePart):
        data = part.file.get("file_data")
        if isinstance(data, str) and data.startswith("data:"):
            return _media(data, default_mime="application/pdf")
        raise InvalidRequest("Gemini takes files as base64 data URLs in 'file_data'; uploaded file ids "
                             "belong to OpenAI.", param="messages")
    raise InvalidRequest(f"Content parts of type '{part.type}' are not supported by Gemini.", param="messages")


_DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,;]*)*;base64,(?P<data>.*)", re.DOTALL)


def _media(url: str, *, default_mime: str) -> dict[str, Any]:
    if url.startswith("data:"):
        match = _DATA_URL.fullmatch(url)
        if match is None:
            raise InvalidRequest("Data URLs must be base64 encoded ('data:<mime>;base64,...').", param="messages")
        return {"inlineData": {"mimeType": match["mime"] or default_mime, "data": match["data"]}}
    if url.startswith(("https://", "http://")):
        # fileData needs a MIME type; the URL's extension is the only hint without fetching it.
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or default_mime
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise InvalidRequest("Gemini takes images as base64 data URLs or http(s) URLs.", param="messages")


def _assistant_parts(message: AssistantMessage, call_names: dict[str, str], *, legacy: bool) -> list[dict[str, Any]]:
    parts = _parts(message.content)
    if message.refusal and not parts:
        parts.append({"text": message.refusal})
    for position, call in enumerate(message.tool_calls or []):
        call_names[call.id] = call.function.name
        part: dict[str, Any] = {"functionCall": {"name": call.function.name,
                                                 "args": _arguments(call.function.arguments)}}
        signature = _signature(call)
        if signature:
            part["thoughtSignature"] = signature
        elif position == 0 and not legacy:
            # Gemini 3 validates the first call of each step; parallel calls carry one signature.
            part["thoughtSignature"] = SKIP_SIGNATURE
        parts.append(part)
    if message.function_call is not None:
        parts.append({"functionCall": {"name": message.function_call.name,
                                       "args": _arguments(message.function_call.arguments)}})
    return parts


def _signature(call: Any) -> str | None:
    extra = (call.model_extra or {}).get("extra_content")
    if isinstance(extra, dict):
        google = extra.get("google")
        if isinstance(google, dict) and isinstance(google.get("thought_signature"), str):
            return str(google["thought_signature"])
    return None


def _arguments(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        raise InvalidRequest("Tool call arguments must be a JSON object.", param="messages") from None
    return value if isinstance(value, dict) else {"value": value}


def _function_response(message: ToolMessage, call_names: dict[str, str]) -> dict[str, Any]:
    name = call_names.get(message.tool_call_id)
    if name is None:
        raise InvalidRequest(
            f"Tool message refers to tool_call_id '{message.tool_call_id}', which no earlier assistant "
            "message called; Gemini needs the function's name.", param="messages",
        )
    content = text_only(message.content, "messages", "gemini", separator="\n")
    return {"functionResponse": {"name": name, "response": _response_object(content)}}


def _response_object(content: str) -> dict[str, Any]:
    """Gemini wants an object; the reference names ``output`` as the key for a plain result."""
    try:
        value = json.loads(content)
    except ValueError:
        return {"output": content}
    return value if isinstance(value, dict) else {"output": value}


# --- tools, output format, thinking --------------------------------------------------------


def clean_schema(schema: Any) -> Any:
    """A JSON Schema without the keywords Gemini refuses, recursively."""
    if isinstance(schema, dict):
        return {k: clean_schema(v) for k, v in schema.items() if k not in _DROPPED_SCHEMA_KEYS}
    if isinstance(schema, list):
        return [clean_schema(v) for v in schema]
    return schema


def _declaration(function: Any) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function.name}
    if function.description:
        declaration["description"] = function.description
    if function.parameters:
        declaration["parametersJsonSchema"] = clean_schema(function.parameters)
    return declaration


def _tool_choice(choice: Any) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"mode": "ANY", "allowedFunctionNames": [choice.function.name]}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str):
            return {"mode": "ANY", "allowedFunctionNames": [name]}
        raise InvalidRequest("tool_choice must be 'none', 'auto', 'required' or name a function.",
                             param="tool_choice")
    return {"mode": {"none": "NONE", "auto": "AUTO", "required": "ANY"}[choice]}


def _response_format(kind: str, json_schema: dict[str, Any] | None) -> dict[str, Any]:
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        schema = (json_schema or {}).get("schema")
        config: dict[str, Any] = {"responseMimeType": "application/json"}
        if schema:
            config["responseJsonSchema"] = clean_schema(schema)
        return config
    return {}


def _thinking(effort: str, model: str) -> dict[str, Any]:
    if effort not in _THINKING_BUDGET:
        raise InvalidRequest(f"Unknown reasoning_effort '{effort}'.", param="reasoning_effort")
    if is_legacy_model(model):
        budget = _THINKING_BUDGET[effort]
        return {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return {"thinkingLevel": _THINKING_LEVEL[effort], "includeThoughts": effort != "none"}


