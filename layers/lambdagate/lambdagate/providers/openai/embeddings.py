"""The OpenAI type's embeddings: ``POST {api_base}/embeddings``, the client's body and the answer's bytes.

Reference: OpenAI API "Create embeddings" (``CreateEmbeddingRequest`` / ``CreateEmbeddingResponse``
in the vendored openai-spec, and the openai-python 3.54 SDK's ``embeddings.create``), read
2026-12. Everything OpenAI takes passes through: ``input`` as text or token arrays, ``dimensions``
(text-embedding-3 and later), ``encoding_format`` (OpenAI encodes base64 itself, so the gateway
never re-encodes), ``user`` and any extra field. OpenAI caps a request at 2048 inputs, the bound
the front door already enforces, so nothing is split here. OpenAI-compatible servers (vLLM,
Ollama, Together...) answer the same path; Azure reuses this module with its own URL and auth.

The answer is forwarded as the upstream's bytes (:class:`~lambdagate.wire.RawJSON`) once the
shared reader has parsed it as a JSON object that is not an error, and it has its ``data`` list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lambdagate.providers import http
from lambdagate.providers.base import CallContext, Target
from lambdagate.providers.openai import response
from lambdagate.wire import RawJSON

if TYPE_CHECKING:
    from lambdagate.embedding_types import EmbeddingRequest
    from lambdagate.providers.openai.adapter import OpenAIProvider

PATH = "/embeddings"


def build_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    """The client's fields as sent (extras included), with the routed model."""
    body = request.sent_fields()
    body["model"] = model
    return body


def embedding_list(reply: http.Reply, target: Target) -> RawJSON:
    if not isinstance(reply.value.get("data"), list):
        raise http.bad_answer(target, "an object that is not an embedding list")
    return RawJSON(reply.content, value=reply.value)


async def embed(provider: OpenAIProvider, request: EmbeddingRequest, target: Target, ctx: CallContext) -> RawJSON:
    """One upstream call; ``provider`` supplies the URL, headers, model and error parser (OpenAI's or Azure's)."""
    reply = await http.request_json(
        target, provider.url(target, PATH), build_body(request, provider.model(target)), provider.headers(target),
        parse_error=provider.parse_error, error_in_body=response.has_error,
    )
    return embedding_list(reply, target)
