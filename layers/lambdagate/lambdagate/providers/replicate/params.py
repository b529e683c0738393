"""Replicate's parameter table: the OpenAI sampling fields, put under the prediction's ``input``.

The common language models on Replicate (Meta Llama, Mistral, ...) take these input names
(model API schemas read on 2026-11-23); ``max_tokens`` is renamed per deployment where an older
model calls it ``max_new_tokens`` (:mod:`.request`). ``max_completion_tokens`` needs no entry:
the typed request folds it into ``max_tokens``.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers.base import UNSET, Param, ParamTable
from lambdagate.providers.transforms import stop_sequences


def comma_separated_stops(value: str | list[str]) -> Any:
    """Replicate's LLMs take the stop sequences as one comma-separated string."""
    stops = stop_sequences(value)
    return UNSET if stops is UNSET else ",".join(stops)


PARAMS: ParamTable = {
    "max_tokens": Param(to="input.max_tokens"),
    "temperature": Param(to="input.temperature"),
    "top_p": Param(to="input.top_p"),
    "top_k": Param(to="input.top_k"),
    "stop": Param(to="input.stop_sequences", transform=comma_separated_stops),
    "seed": Param(to="input.seed"),
    "presence_penalty": Param(to="input.presence_penalty"),
    "frequency_penalty": Param(to="input.frequency_penalty"),
}
