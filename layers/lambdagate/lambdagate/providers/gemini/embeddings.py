"""Gemini embeddings: ``POST {api_base}/models/{model}:batchEmbedContents``, 100 texts per call.

Reference: the Gemini API v1beta REST reference, "Embeddings" (ai.google.dev/api/embeddings:
``models.batchEmbedContents``, ``EmbedContentRequest``, ``ContentEmbedding``), read 2026-12:

- Request: ``{"requests": [{"model": "models/{model}", "content": {"parts": [{"text": ...}]},
  "taskType", "title", "outputDimensionality"}]}``; each request's ``model`` must be the URL's.
- Answer: ``{"embeddings": [{"values": [...]}, ...]}`` "in the same order as provided in the batch
  request". The Gemini API reports no token count for embeddings (a ``usageMetadata
  .promptTokenCount``, where an answer has one, is read), so usage is 0 otherwise.
- At most 100 requests per batch: the reference does not say so, but the API answers more with 400
  "BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch" (the limit the
  Google SDK integrations of LangChain.js, Weaviate and the Vercel AI SDK adopted, 2024-2026).

``dimensions`` becomes ``outputDimensionality`` ("supported by newer models since 2024 only"):
for ``embedding-001`` it is dropped or refused per ``drop_params``. ``taskType`` comes from the
extra field ``task_type`` (or ``taskType``), else the provider or deployment option ``task_type``,
else Gemini's default; ``title`` (for ``RETRIEVAL_DOCUMENT``) passes through as an extra field.
``user`` and other unknown fields are dropped or refused. The key goes in ``x-goog-api-key``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Param, ParamTable, Target, map_params
from lambdagate.providers.embeddings import Batch, embedding_list, expect_count, float_vector, input_errors, run_batches
from lambdagate.providers.gemini.response import gemini_error

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

PROVIDER_TYPE = "gemini"
BATCH_SIZE = 100
PARAMS: ParamTable = {
    "dimensions": Param("outputDimensionality"),
    "task_type": Param("taskType"),
    "taskType": Param(),
    "title": Param(),
}
HANDLED = frozenset({"model", "input", "encoding_format"})
# The first embedding model predates outputDimensionality (and taskType is its only option).
_NO_DIMENSIONS = frozenset({"embedding-001"})
parse_error = input_errors(gemini_error)


def model_name(target: Target) -> str:
    return "models/" + target.model.removeprefix("models/")


def request_fields(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    """The fields every ``EmbedContentRequest`` of the batch shares (all but ``content``)."""
    fields = request.sent_fields()
    if fields.get("dimensions") is not None and target.model.removeprefix("models/") in _NO_DIMENSIONS:
        fields.pop("dimensions")
        ctx.unsupported("dimensions", PROVIDER_TYPE)
    shared = map_params(fields, PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED)
    if "taskType" not in shared and (task := target.option("task_type")):
        shared["taskType"] = task
    return {"model": model_name(target), **shared}


def build_body(texts: Sequence[str], shared: dict[str, Any]) -> dict[str, Any]:
    return {"requests": [{**shared, "content": {"parts": [{"text": text}]}} for text in texts]}


def vectors_of(value: dict[str, Any], target: Target) -> list[list[float]]:
    embeddings = value.get("embeddings")
    if not isinstance(embeddings, list):
        raise http.bad_answer(target, "an object without embeddings")
    return [float_vector(item.get("values") if isinstance(item, dict) else None, target) for item in embeddings]


def tokens_of(value: dict[str, Any]) -> int:
    metadata = value.get("usageMetadata")
    tokens = metadata.get("promptTokenCount") if isinstance(metadata, dict) else None
    return int(tokens) if isinstance(tokens, int | float) else 0


async def embed(url: str, headers: dict[str, str], request: EmbeddingRequest, target: Target,
                ctx: CallContext) -> dict[str, Any]:
    shared = request_fields(request, target, ctx)
    texts = request.texts(PROVIDER_TYPE)

    async def call(batch: Sequence[str]) -> Batch:
        reply = await http.request_json(target, url, build_body(batch, shared), headers, parse_error=parse_error)
        return Batch(expect_count(vectors_of(reply.value, target), len(batch), target), tokens_of(reply.value))

    result = await run_batches(texts, BATCH_SIZE, call)
    return embedding_list(result.vectors, target.model.removeprefix("models/"), result.prompt_tokens)
