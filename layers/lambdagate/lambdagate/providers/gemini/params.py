"""Gemini's parameter table: OpenAI sampling parameters -> ``generationConfig`` fields.

Checked against the Gemini API v1beta reference (``GenerationConfig``) on 2026-12-02.
``n`` is native: ``candidateCount``, "number of generated responses to return, default 1; does
not work for the Gemini 1.0 family". Gemini 3 models refuse any ``candidateCount`` above 1 with
a 400 "Multiple candidates is not enabled for this model" (reported on discuss.ai.google.dev,
thread 1609, and googleapis/python-genai#1723, both 2026, for gemini-3-flash-preview,
gemini-3.1-pro-preview and the GA gemini-3.1-flash-lite), so for the models that
:data:`SINGLE_CANDIDATE_MODELS` matches the adapter serves ``n`` with parallel calls instead.
"""

from __future__ import annotations

import re

from lambdagate.providers.base import ALWAYS_HANDLED, Param, ParamTable
from lambdagate.providers.transforms import stop_sequences

PARAMS: ParamTable = {
    "temperature": Param("generationConfig.temperature"),
    "top_p": Param("generationConfig.topP"),
    "top_k": Param("generationConfig.topK"),
    "max_tokens": Param("generationConfig.maxOutputTokens"),
    "stop": Param("generationConfig.stopSequences", transform=stop_sequences),
    "n": Param("generationConfig.candidateCount"),
    "seed": Param("generationConfig.seed"),
    "presence_penalty": Param("generationConfig.presencePenalty"),
    "frequency_penalty": Param("generationConfig.frequencyPenalty"),
    # Gemini's own request fields, accepted in snake case through the SDKs' extra_body.
    "safety_settings": Param("safetySettings"),
    "cached_content": Param("cachedContent"),
}

HANDLED = ALWAYS_HANDLED | {"tools", "tool_choice", "response_format", "reasoning_effort", "parallel_tool_calls"}
"""Translated by :mod:`.request` itself, because each becomes several Gemini fields."""

SINGLE_CANDIDATE_MODELS = re.compile(r"(?:models/)?gemini-(?:[3-9]|[1-9]\d)(?:\.|-|$)")
"""Gemini 3 and later: one candidate per request (see the module docstring)."""


def single_candidate(model: str) -> bool:
    """Whether ``model`` answers one candidate per request, so ``n`` needs parallel calls."""
    return SINGLE_CANDIDATE_MODELS.match(model) is not None
