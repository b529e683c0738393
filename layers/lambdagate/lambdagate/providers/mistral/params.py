"""Mistral's parameter table, for ``POST /v1/chat/completions``.

Built against Mistral's chat completion API as its official SDK (mistralai/client-python,
``ChatCompletionRequest``, 2026-11) and docs.mistral.ai declare it (``n`` checked 2026-12-02):
``temperature``, ``top_p``, ``max_tokens``, ``stop``, ``random_seed``, ``n`` ("the number of
completions to return for each request"; input tokens are billed once; the sampling guide notes
that mistral-large-2512 does not support it), ``presence_penalty``, ``frequency_penalty``,
``response_format`` (``json_object`` and ``json_schema`` in OpenAI's shape), ``tool_choice``
(``auto``/``none``/``any``/``required``/named), ``parallel_tool_calls``, ``prediction``,
``reasoning_effort`` (``none``/``high``), ``prompt_mode``, ``guardrails``, ``metadata``,
``prompt_cache_key``, ``safe_prompt``. It has no ``logit_bias``, ``user``, ``logprobs``,
``top_logprobs``, ``store``, ``service_tier``, ``modalities`` or ``stream_options``: those are
dropped (or refused when ``drop_params`` is off), because Mistral answers unknown fields with 422.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers.base import ALWAYS_HANDLED, Param, ParamTable


def _tool_choice(value: Any) -> Any:
    # Mistral's name for "must call a tool" is "any" ("required" is accepted too, "any" everywhere).
    return "any" if value == "required" else value


def _reasoning_effort(value: Any) -> Any:
    # Mistral has two levels; any OpenAI level above "none" asks for reasoning.
    return "none" if value == "none" else "high"


PARAMS: ParamTable = {
    "temperature": Param(),
    "top_p": Param(),
    "max_tokens": Param(),
    "stop": Param(),
    "seed": Param("random_seed"),
    "random_seed": Param(),
    "n": Param(),
    "presence_penalty": Param(),
    "frequency_penalty": Param(),
    "response_format": Param(),
    "tool_choice": Param(transform=_tool_choice),
    "parallel_tool_calls": Param(),
    "prediction": Param(),
    "reasoning_effort": Param(transform=_reasoning_effort),
    "metadata": Param(),
    "prompt_cache_key": Param(),
    # Mistral's own fields, sent by clients through the SDKs' extra_body.
    "safe_prompt": Param(),
    "prompt_mode": Param(),
    "guardrails": Param(),
}

HANDLED = ALWAYS_HANDLED | {"tools"}
"""Translated by :mod:`.request` itself."""
