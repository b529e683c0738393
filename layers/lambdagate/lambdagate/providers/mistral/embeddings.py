"""Mistral embeddings: ``POST {api_base}/embeddings`` (OpenAI-like), 512 inputs per call.

Reference: Mistral AI API "Embeddings" (docs.mistral.ai/api/endpoint/embeddings) and the
mistralai/client-python models ``EmbeddingRequest`` / ``EmbeddingResponse`` / ``EncodingFormat``,
read 2026-12:

- Request: ``model``, ``input`` (a string or a list of strings: no token arrays),
  ``output_dimension`` ("when feature available": codestral-embed, up to 3072; mistral-embed is
  fixed at 1024), ``output_dtype``, ``encoding_format`` (``float`` | ``base64``).
- Answer: ``{"id", "object": "list", "data": [{"object": "embedding", "embedding", "index"}],
  "model", "usage": {"prompt_tokens", "total_tokens"}}``.
- A request carries at most 512 inputs (more is a 400 "Too many inputs in request, split into more
  batches", code 3210, as clients report it in 2026) and about 16k tokens in all; the count is
  split here, the token total (which needs Mistral's tokenizer) is not.

Floats are always asked for (``output_dtype`` is not forwarded: an int8 vector encoded as float32
base64 would decode to other numbers) and ``encoding_format: base64`` is done by the gateway, so
every batch answers the same way. ``dimensions`` becomes ``output_dimension``, and is dropped (or
refused) for ``mistral-embed``. Mistral answers unknown fields with a 422, so ``user`` and other
unknown fields are dropped or refused per ``drop_params``. Errors use :func:`.response.mistral_error`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Param, ParamTable, Target, map_params
from lambdagate.providers.embeddings import Batch, embedding_list, expect_count, float_vector, input_errors, run_batches
from lambdagate.providers.mistral.response import has_error, mistral_error

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

PROVIDER_TYPE = "mistral"
BATCH_SIZE = 512
PARAMS: ParamTable = {"dimensions": Param("output_dimension")}
HANDLED = frozenset({"model", "input", "encoding_format"})
_FIXED_SIZE = ("mistral-embed",)
parse_error = input_errors(mistral_error)


def build_body(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    """Everything of the upstream body but ``input``, which each batch adds."""
    fields = request.sent_fields()
    if fields.get("dimensions") is not None and target.model.startswith(_FIXED_SIZE):
        fields.pop("dimensions")
        ctx.unsupported("dimensions", PROVIDER_TYPE)
    body = map_params(fields, PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    return {"model": target.model, **body, "encoding_format": "float"}


def vectors_of(value: dict[str, Any], target: Target) -> list[list[float]]:
    data = value.get("data")
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise http.bad_answer(target, "an object that is not an embedding list")
    # In input order whatever order the items came in (OpenAI-like servers number them).
    ordered = sorted(data, key=lambda item: item.get("index") if isinstance(item.get("index"), int) else 0)
    return [float_vector(item.get("embedding"), target) for item in ordered]


def tokens_of(value: dict[str, Any]) -> int:
    usage = value.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return int(tokens) if isinstance(tokens, int | float) else 0


async def embed(url: str, headers: dict[str, str], request: EmbeddingRequest, target: Target,
                ctx: CallContext) -> dict[str, Any]:
    base = build_body(request, target, ctx)
    texts = request.texts(PROVIDER_TYPE)

    async def call(batch: Sequence[str]) -> Batch:
        reply = await http.request_json(target, url, {**base, "input": list(batch)}, headers,
                                        parse_error=parse_error, error_in_body=has_error)
        return Batch(expect_count(vectors_of(reply.value, target), len(batch), target), tokens_of(reply.value))

    result = await run_batches(texts, BATCH_SIZE, call)
    return embedding_list(result.vectors, target.model, result.prompt_tokens)
