"""Bedrock embeddings through ``InvokeModel``: Amazon Titan Text Embeddings and Cohere Embed.

References (Amazon Bedrock user guide, "Amazon Titan Embeddings G1 - Text" with its V2 request, and
"Cohere Embed v3" / "Cohere Embed v4", model-parameters-*; Bedrock Runtime API 2023-09-30 as in
botocore 1.44), read 2026-12:

- Titan Text Embeddings V2 (``amazon.titan-embed-text-v2:0``): one text per call,
  ``{"inputText", "dimensions": 1024 (default) | 512 | 256, "normalize": true (default)}`` ->
  ``{"embedding": [...], "inputTextTokenCount"}``. Titan G1 (``amazon.titan-embed-text-v1``)
  takes ``inputText`` only. A request of N texts is N calls, a few at a time, answered in order.
- Cohere Embed (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``,
  ``cohere.embed-v4:0``): ``{"texts": [...] (at most 96), "input_type", "embedding_types",
  "truncate", "output_dimension" (v4: 256 | 512 | 1024 | 1536)}`` -> ``{"embeddings": [[...]]}``,
  or ``{"embeddings": {"float": [[...]]}}`` when ``embedding_types`` is given (always, here). The
  token count comes in the ``X-Amzn-Bedrock-Input-Token-Count`` response header.

Which API a model speaks is read from its id (``amazon.titan-embed-text``, ``cohere.embed``, with
or without a cross-region prefix such as ``us.``); an inference-profile ARN says neither, so the
deployment option ``embedding_api: titan | cohere`` names it. ``dimensions``: Titan V2 takes only
256, 512 and 1024 (another value is a 400 naming ``dimensions``); Titan G1 and Cohere v3 have one
size (dropped or refused per ``drop_params``). ``normalize`` (Titan) and ``input_type`` (Cohere;
default the option ``input_type``, else ``search_document``) and ``truncate`` come from extra
fields or options; ``user`` and other unknown fields are dropped or refused.

The call is this module's own (:func:`invoke`): ``InvokeModel``'s body is a stream that must be
read in the worker thread too, which :func:`.client.call` does not do. It reuses the client's
cached boto3 clients and its failure mapping (:func:`.client.map_exception`, Bedrock's errors via
:func:`.response.parse_error`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from lambdagate.errors import InvalidRequest
from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Param, ParamTable, Target, map_params
from lambdagate.providers.bedrock import client
from lambdagate.providers.bedrock.response import parse_error as bedrock_error
from lambdagate.providers.embeddings import Batch, embedding_list, expect_count, float_vector, input_errors, run_batches

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest

PROVIDER_TYPE = "bedrock"
COHERE_BATCH_SIZE = 96
TITAN_CONCURRENCY = 8
"""Titan takes one text per call: this many calls of one request are in flight at a time."""
TITAN_V2_DIMENSIONS = frozenset({256, 512, 1024})
DEFAULT_INPUT_TYPE = "search_document"
TOKEN_HEADER = "x-amzn-bedrock-input-token-count"
HANDLED = frozenset({"model", "input", "encoding_format"})
TITAN_PARAMS: ParamTable = {"dimensions": Param(), "normalize": Param()}
COHERE_PARAMS: ParamTable = {
    "dimensions": Param("output_dimension"),
    "input_type": Param(),
    "truncate": Param(),
    "max_tokens": Param(),
}
parse_error = input_errors(bedrock_error)

Family = Literal["titan", "cohere"]


def family_of(target: Target) -> Family:
    """Which request shape the model takes, from the ``embedding_api`` option or the model id."""
    named = target.option("embedding_api")
    if named in ("titan", "cohere"):
        return cast(Family, named)
    model = target.model.lower()
    if "amazon.titan-embed-text" in model or "amazon.titan-embed-g1-text" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    raise InvalidRequest(
        f"The Bedrock model '{target.model}' of '{target.alias}' is not an embeddings model lambdagate knows: use "
        "Titan Text Embeddings (amazon.titan-embed-text-*) or Cohere Embed (cohere.embed-*), or name the API with the "
        "deployment option embedding_api: titan | cohere.", param="model",
    )


def _drop(fields: dict[str, Any], name: str, ctx: CallContext) -> None:
    if fields.get(name) is not None:
        fields.pop(name)
        ctx.unsupported(name, PROVIDER_TYPE)


def titan_fields(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    """Titan's body without ``inputText``."""
    fields = request.sent_fields()
    if "v2" not in target.model.lower() and target.option("embedding_api") != "titan":
        _drop(fields, "dimensions", ctx)  # Titan G1: one size
    dimensions = fields.get("dimensions")
    if dimensions is not None and dimensions not in TITAN_V2_DIMENSIONS:
        raise InvalidRequest(f"Invalid 'dimensions': {target.model} takes 256, 512 or 1024, not {dimensions}.",
                             param="dimensions", code="invalid_value")
    defaults = {"normalize": target.option("normalize")} if target.option("normalize") is not None else None
    return map_params(fields, TITAN_PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED, defaults=defaults)


def cohere_fields(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    """Cohere Embed's body without ``texts``."""
    fields = request.sent_fields()
    if "embed-v" not in target.model.lower():  # cohere.embed-english-v3 / -multilingual-v3: one size
        _drop(fields, "dimensions", ctx)
    body = map_params(fields, COHERE_PARAMS, ctx, PROVIDER_TYPE, handled=HANDLED,
                      defaults={"input_type": target.option("input_type", DEFAULT_INPUT_TYPE)})
    body["embedding_types"] = ["float"]
    return body


async def invoke(target: Target, body: dict[str, Any]) -> tuple[Any, int]:
    """One ``InvokeModel`` in a worker thread: the parsed JSON answer and the input token count."""

    def run() -> tuple[bytes, dict[str, str]]:
        response = client.client_for(target).invoke_model(
            modelId=target.model, body=http.encode(body), contentType="application/json", accept="application/json",
        )
        headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        return response["body"].read(), headers

    try:
        content, headers = await asyncio.to_thread(run)
    except Exception as exc:
        raise client.map_exception(exc, target, parse_error) from None
    header = headers.get(TOKEN_HEADER, "")
    return http.parse(content, target), int(header) if header.isdigit() else 0


def titan_vector(value: dict[str, Any], target: Target) -> list[float]:
    embedding = value.get("embedding")
    if embedding is None:
        embedding = (value.get("embeddingsByType") or {}).get("float")
    return float_vector(embedding, target)


def cohere_vectors(value: dict[str, Any], target: Target) -> list[list[float]]:
    embeddings = value.get("embeddings")
    found = embeddings.get("float") if isinstance(embeddings, dict) else embeddings
    if not isinstance(found, list):
        raise http.bad_answer(target, "an object without float embeddings")
    return [float_vector(vector, target) for vector in found]


async def embed(request: EmbeddingRequest, target: Target, ctx: CallContext) -> dict[str, Any]:
    family = family_of(target)
    texts = request.texts(PROVIDER_TYPE)
    if family == "titan":
        shared = titan_fields(request, target, ctx)

        async def call(batch: Sequence[str]) -> Batch:
            value, header_tokens = await invoke(target, {"inputText": batch[0], **shared})
            tokens = value.get("inputTextTokenCount")
            return Batch([titan_vector(value, target)], int(tokens) if isinstance(tokens, int) else header_tokens)

        result = await run_batches(texts, 1, call, concurrency=TITAN_CONCURRENCY)
    else:
        base = cohere_fields(request, target, ctx)

        async def call(batch: Sequence[str]) -> Batch:
            value, tokens = await invoke(target, {**base, "texts": list(batch)})
            return Batch(expect_count(cohere_vectors(value, target), len(batch), target), tokens)

        result = await run_batches(texts, COHERE_BATCH_SIZE, call)
    return embedding_list(result.vectors, target.model, result.prompt_tokens)
