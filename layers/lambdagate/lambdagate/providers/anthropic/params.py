"""What each Anthropic API version accepts, as data: one parameter table per version.

Built against the Claude API reference as published on 2026-11-23 (platform.claude.com/docs:
"Versions", "Migrating to API version 2026-10-21", Messages API, "Structured outputs", "Adaptive
thinking", "Effort"). What differs between versions is data: one parameter table per version
(:data:`PARAMS_2023_06_01`, :data:`PARAMS_2026_10_21`; :data:`PARAMS` is the default's) and one
:class:`ApiVersion` row each in :data:`VERSIONS`:

- ``2023-06-01`` takes ``temperature`` (0..1), ``top_p`` and ``top_k``, and document blocks in
  assistant messages. The SDKs of that era send the key as ``x-api-key``.
- ``2026-10-21`` (the default of the current SDK majors) answers 400 to ``temperature``, ``top_p``
  and ``top_k`` even at their default values, and to document blocks in assistant messages; those
  are therefore unsupported here (dropped and listed, or refused when ``drop_params`` is off). The
  current SDKs send the key as ``Authorization: Bearer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from lambdagate.errors import InvalidRequest
from lambdagate.providers.base import ALWAYS_HANDLED, UNSET, Param, ParamTable
from lambdagate.providers.transforms import stop_sequences

DEFAULT_API_VERSION = "2026-10-21"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; OpenAI clients usually omit it (option ``default_max_tokens``).

Passed to :func:`~lambdagate.providers.base.map_params` as a per-call default; an operator who sets
the option to null makes ``max_tokens`` (or ``max_completion_tokens``) required of the client.
"""

RESPONSE_TOOL = "json_response"
"""The forced tool whose input is the answer, for ``json_object`` (and ``json_schema`` in tool mode)."""

HANDLED = ALWAYS_HANDLED | {"response_format", "reasoning_effort"}
"""Parameters the adapter translates itself because one OpenAI field becomes several Anthropic ones."""


def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    if tool.get("type", "function") != "function":
        raise InvalidRequest(f"Tool type '{tool.get('type')}' is not supported by the 'anthropic' provider.",
                             param="tools")
    function = tool["function"]
    # Anthropic requires an object schema; OpenAI lets a function omit its parameters.
    schema = {"type": "object", "properties": {}, **(function.get("parameters") or {})}
    converted: dict[str, Any] = {"name": function["name"], "input_schema": schema}
    if function.get("description"):
        converted["description"] = function["description"]
    if function.get("strict"):
        converted["strict"] = True
    return converted


def _tools(value: list[Mapping[str, Any]]) -> Any:
    return [_tool(tool) for tool in value] or UNSET


_TOOL_CHOICE = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}


def _tool_choice(value: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(value, str):
        if value not in _TOOL_CHOICE:
            raise InvalidRequest(f"Invalid tool_choice '{value}'.", param="tool_choice")
        return dict(_TOOL_CHOICE[value])
    if value.get("type") == "function" and isinstance(value.get("function"), Mapping):
        return {"type": "tool", "name": value["function"]["name"]}
    raise InvalidRequest("This tool_choice is not supported by the 'anthropic' provider.", param="tool_choice")


def _disable_parallel(value: bool) -> Any:
    # Anthropic's flag is the negation of OpenAI's and lives inside tool_choice.
    return True if value is False else UNSET


# Order matters: tool_choice is written before the flag that goes inside it.
PARAMS_2023_06_01: ParamTable = {
    "max_tokens": Param(required=True),
    "stop": Param(to="stop_sequences", transform=stop_sequences),
    "temperature": Param(min=0.0, max=1.0),
    "top_p": Param(),
    "top_k": Param(min=0),
    "user": Param(to="metadata.user_id"),
    "tools": Param(transform=_tools),
    "tool_choice": Param(transform=_tool_choice),
    "parallel_tool_calls": Param(to="tool_choice.disable_parallel_tool_use", transform=_disable_parallel),
    # Anthropic's own fields, for clients that know them: passed through unchanged.
    "thinking": Param(),
    "output_config": Param(),
}
"""``2023-06-01``: sampling parameters accepted (``temperature`` clamped to Anthropic's 0..1)."""


def _without(table: Mapping[str, Param], removed: frozenset[str]) -> dict[str, Param]:
    return {name: spec for name, spec in table.items() if name not in removed}


@dataclass(frozen=True, slots=True)
class ApiVersion:
    """Everything that depends on the ``anthropic-version`` header."""

    name: str
    params: ParamTable
    auth: Literal["bearer", "x-api-key"]
    assistant_documents: bool
    """Whether a document block may appear in an assistant message."""


PARAMS_2026_10_21: ParamTable = _without(PARAMS_2023_06_01, frozenset({"temperature", "top_p", "top_k"}))
"""``2026-10-21``: answers 400 to ``temperature``, ``top_p`` and ``top_k`` at any value, so they are unsupported."""

PARAMS: ParamTable = PARAMS_2026_10_21
"""The table of :data:`DEFAULT_API_VERSION`, the one the adapter declares."""

VERSIONS: dict[str, ApiVersion] = {
    "2023-06-01": ApiVersion("2023-06-01", PARAMS_2023_06_01, auth="x-api-key", assistant_documents=True),
    "2026-10-21": ApiVersion("2026-10-21", PARAMS_2026_10_21, auth="bearer", assistant_documents=False),
}


def api_version(name: str | None) -> ApiVersion:
    """The rules of ``name``; a version this table does not know gets those of the newest older one.

    Versions are dates and only ever remove or tighten, so a later unknown version is at least as
    strict as the newest one known here, and the header still carries the configured value.
    """
    name = name or DEFAULT_API_VERSION
    if name in VERSIONS:
        return VERSIONS[name]
    older = [known for known in VERSIONS if known <= name]
    return replace(VERSIONS[max(older) if older else min(VERSIONS)], name=name)


# reasoning_effort -> Anthropic's effort level (adaptive thinking) or a thinking budget (manual
# extended thinking, option ``thinking_mode: budget``, for models older than adaptive thinking).
# Effort levels per the "Effort" page: low, medium, high (the default), xhigh, max; OpenAI's
# "minimal" has no counterpart and takes the lowest.
EFFORT_LEVEL = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "max"}
THINKING_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768, "max": 65536}
MIN_THINKING_BUDGET = 1024
