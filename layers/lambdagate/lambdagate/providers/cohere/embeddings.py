"""Cohere embeddings: ``POST {api_base}/v2/embed``, 96 texts per call, float vectors back.

Reference: Cohere "Embed API (v2)" (docs.cohere.com/reference/embed and the cohere-openapi.yaml
of cohere-developer-experience), read 2026-12:

- Request: ``model``, ``texts`` (at most 96 per call), ``input_type`` (required for v3 models and
  later: ``search_document``, ``search_query``, ``classification``, ``clustering``, ``image``),
  ``embedding_types`` (``float`` asked for here; the gateway encodes base64 itself),
  ``output_dimension`` (256, 512, 1024 or 1536; embed-v4 and later only), ``truncate``,
  ``max_tokens``.
- Answer: ``{"id", "embeddings": {"float": [[...], ...]}, "texts", "meta": {"billed_units":
  {"input_tokens"}}}``, one vector per text in order.

``input_type`` comes from the request's extra field ``input_type``, else the provider or
deployment option ``input_type``, else ``search_document`` (what a client storing documents,
the common case behind an OpenAI-shaped embeddings call, needs). ``dimensions`` becomes
``output_dimension``; on the v2/v3 models, which have a fixed size, it is dropped (or refused)
per ``drop_params``. ``truncate`` and ``max_tokens`` pass through as extra fields; ``user`` and
other unknown fields are dropped or refused. More than 96 inputs are split into calls of 96, run a
few at a time and answered in input order. Errors are Cohere's (:func:`.response.cohere_error`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Param, ParamTable, Target, map_params
from lambdagate.providers.cohere.response import cohere_error
from lambdagate.providers.embeddings import Batch, embedding_list, expect_count, float_vector, input_errors, run_batches

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

PROVIDER_TYPE = "cohere"
BATCH_SIZE = 96
DEFAULT_INPUT_TYPE = "search_document"
PARAMS: ParamTable = {
    "dimensions": Param("output_dimension"),
    "input_type": Param(),
    "truncate": Param(),
    "max_tokens": Param(),
}
HANDLED = frozenset({"model", "input", "encoding_format"})
# Embed v2 and v3 models (embed-english-v3.0, embed-multilingual-light-v3.0...) have one output size.
_FIXED_SIZE = re.compile(r"-v[23](\.|$)")
parse_error = input_errors(cohere_error)


def build_body(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    """Everything of the upstream body but ``texts``, which each batch adds."""
    fields = request.sent_fields()
    if fields.get("dimensions") is not None and _FIXED_SIZE.search(target.model):
        fields.pop("dimensions")
        ctx.unsupported("dimensions", PROVIDER_TYPE)
    body = map_params(fields, PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED,
                      defaults={"input_type": target.option("input_type", DEFAULT_INPUT_TYPE)})
    body["model"] = target.model
    body["embedding_types"] = ["float"]
    return body


def vectors_of(value: dict[str, Any], target: Target) -> list[list[float]]:
    embeddings = value.get("embeddings")
    found = embeddings.get("float") if isinstance(embeddings, dict) else embeddings  # v1-style list: floats too
    if not isinstance(found, list):
        raise http.bad_answer(target, "an object without float embeddings")
    return [float_vector(vector, target) for vector in found]


def tokens_of(value: dict[str, Any]) -> int:
    units = (value.get("meta") or {}).get("billed_units") or {}
    tokens = units.get("input_tokens") if isinstance(units, dict) else None
    return int(tokens) if isinstance(tokens, int | float) else 0


async def embed(url: str, headers: dict[str, str], request: EmbeddingRequest, target: Target,
                ctx: CallContext) -> dict[str, Any]:
    base = build_body(request, target, ctx)
    texts = request.texts(PROVIDER_TYPE)

    async def call(batch: Sequence[str]) -> Batch:
        reply = await http.request_json(target, url, {**base, "texts": list(batch)}, headers, parse_error=parse_error)
        return Batch(expect_count(vectors_of(reply.value, target), len(batch), target), tokens_of(reply.value))

    result = await run_batches(texts, BATCH_SIZE, call)
    return embedding_list(result.vectors, target.model, result.prompt_tokens)
