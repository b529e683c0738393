"""The mock provider's embeddings: deterministic unit vectors derived from each input's text.

A vector depends only on its text: its components come from SHA-256 of the text (and a block
counter), mapped to [-1, 1) and normalised to unit length. ``dimensions`` is honoured the way
OpenAI's text-embedding-3 models do it: the shorter vector is the prefix of the longer one,
renormalised, so a smoke test can check both. The default length is the ``embedding_dimensions``
option (provider or deployment), else 64. Usage counts whitespace-separated words, like the
mock's chat. Token-array inputs are refused as on every provider but OpenAI's and Azure's, and
unknown extra fields are dropped (or refused) per ``drop_params``, so the mock behaves like a
translating provider for tests of the gateway.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import TYPE_CHECKING, Any

from lambdagate.providers.base import CallContext, Param, ParamTable, Target, map_params
from lambdagate.providers.embeddings import embedding_list

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

PROVIDER_TYPE = "mock"
DEFAULT_DIMENSIONS = 64
PARAMS: ParamTable = {"dimensions": Param(), "user": Param()}
HANDLED = frozenset({"model", "input", "encoding_format"})


def vector(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text``: 8 components per SHA-256 block of ``text`` and the block's number."""
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{block}\0{text}".encode()).digest()
        values.extend(word / 2**31 - 1.0 for word in struct.unpack("<8I", digest))
        block += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embed(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    fields = map_params(request.sent_fields(), PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    dimensions = int(fields.get("dimensions") or target.option("embedding_dimensions", DEFAULT_DIMENSIONS))
    texts = request.texts(PROVIDER_TYPE)
    tokens = sum(len(text.split()) for text in texts)
    return embedding_list([vector(text, dimensions) for text in texts], target.model, tokens)
