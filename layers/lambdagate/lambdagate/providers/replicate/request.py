"""The chat contract -> a Replicate prediction: its create path and body. Pure, no I/O.

The chat becomes the ``prompt`` (and ``system_prompt``) inputs of the common LLM models.
Options (provider or deployment):

- ``turn_templates``: role -> template with ``{content}``, for conversations of more than one
  user message (default: ``User: ...`` / ``Assistant: ...`` transcript ending in ``Assistant:``);
  a single user message is sent as it is, so the model's own chat template applies.
- ``system_prompt_field``: input field for system messages (default ``system_prompt``; empty:
  the system text is put in front of the prompt instead).
- ``max_tokens_field``: ``max_tokens`` (current official models) or ``max_new_tokens`` (older).
- ``input``: fixed model inputs merged under the client's (``prompt_template``, ``min_tokens``...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import ALWAYS_HANDLED, CallContext, Target, map_params
from lambdagate.providers.content import text_only
from lambdagate.providers.replicate.params import PARAMS
from lambdagate.types import ChatCompletionRequest, Message

TYPE_NAME = "replicate"

DEFAULT_TURN_TEMPLATES: Mapping[str, str] = {
    "user": "User: {content}",
    "assistant": "Assistant: {content}",
    "tool": "Tool result: {content}",
    "function": "Function result: {content}",
    "generation": "Assistant:",
}


def _text(message: Message) -> str:
    """A message's text; Replicate LLM inputs are text only."""
    return text_only(message.content, "messages", TYPE_NAME, separator="\n")


def _turn(message: Message) -> str:
    text = _text(message)
    for call in getattr(message, "tool_calls", None) or []:
        text += f"\n[called {call.function.name}({call.function.arguments})]"
    return text.strip()


def build_prompt(messages: list[Message], target: Target) -> dict[str, str]:
    """The ``prompt`` (and ``system_prompt``) inputs for a conversation."""
    templates = {**DEFAULT_TURN_TEMPLATES, **(target.option("turn_templates") or {})}
    system = "\n\n".join(_text(m) for m in messages if m.role in ("system", "developer"))
    turns = [m for m in messages if m.role not in ("system", "developer")]
    if len(turns) == 1 and turns[0].role == "user":
        prompt = _turn(turns[0])
    else:
        lines = [templates.get(m.role, "{content}").format(content=_turn(m)) for m in turns]
        prompt = "\n\n".join([*lines, templates["generation"]])
    field = target.option("system_prompt_field", "system_prompt")
    if system and not field:
        return {"prompt": f"{system}\n\n{prompt}"}
    return {"prompt": prompt, field: system} if system else {"prompt": prompt}


def model_path(model: str) -> tuple[str, dict[str, Any]]:
    """The create path for a model reference, and what it adds to the body (a pinned version).

    ``owner/name`` -> ``/models/owner/name/predictions``; ``owner/name:<version>`` ->
    ``/predictions`` with ``version``; ``deployments/owner/name`` -> ``/deployments/owner/name/predictions``.
    """
    name, _, version = model.partition(":")
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "deployments" and all(parts):
        return f"/deployments/{parts[1]}/{parts[2]}/predictions", {}
    if len(parts) != 2 or not all(parts):
        raise InvalidRequest(
            f"'{model}' is not a Replicate model; use owner/name or owner/name:version.", param="model"
        )
    if version:
        return "/predictions", {"version": version}
    return f"/models/{parts[0]}/{parts[1]}/predictions", {}


def build_request(
    request: ChatCompletionRequest, target: Target, ctx: CallContext, *, stream: bool
) -> tuple[str, dict[str, Any]]:
    """The create path and body of the prediction for a chat request."""
    path, extra = model_path(target.model)
    mapped = map_params(request.translated_fields(), PARAMS, ctx, TYPE_NAME, handled=ALWAYS_HANDLED)
    inputs: dict[str, Any] = dict(target.option("input") or {})
    inputs.update(build_prompt(request.messages, target))
    client_inputs = mapped.get("input", {})
    max_field = target.option("max_tokens_field", "max_tokens")
    if "max_tokens" in client_inputs and max_field != "max_tokens":
        client_inputs[max_field] = client_inputs.pop("max_tokens")
    inputs.update(client_inputs)
    body: dict[str, Any] = {**extra, "input": inputs}
    if stream:
        body["stream"] = True
    return path, body
