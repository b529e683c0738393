"""The token estimate of ``count_tokens`` where the deployment has no count of its own.

No tokenizer: a tokenizer is megabytes to import or download, and a count from one model's
tokenizer is still an estimate for another's. The estimate is the rule of thumb the gateway's
limits use too, a token per four characters, over what the model would read: the system prompt,
the messages and the tools, serialized as JSON. Base64 images and documents are not read as
text (a screenshot's base64 would otherwise count as hundreds of thousands of tokens): each
counts a flat :data:`BINARY_BLOCK_TOKENS`, about what Anthropic counts for a 1.15-megapixel image
(width x height / 750). The answer says it is an estimate (:data:`ESTIMATE_HEADER`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import to_json

if TYPE_CHECKING:
    from lambdagate.frontdoors.messages.types import MessageCountTokensParams

ESTIMATE_HEADER = "x-lambdagate-token-estimate"
CHARS_PER_TOKEN = 4
BINARY_BLOCK_TOKENS = 1600


def _strip_binary(value: Any, found: list[int]) -> Any:
    """``value`` with every base64 source's data left out (each one counted in ``found``)."""
    if isinstance(value, dict):
        if value.get("type") == "base64" and isinstance(value.get("data"), str):
            found[0] += 1
            return {key: item for key, item in value.items() if key != "data"}
        return {key: _strip_binary(item, found) for key, item in value.items()}
    if isinstance(value, list):
        return [_strip_binary(item, found) for item in value]
    return value


def estimate(request: MessageCountTokensParams) -> int:
    """Input tokens of ``request``, estimated: characters / 4 of system, messages and tools, plus binary blocks."""
    read = {name: value for name, value in request.sent_fields().items()
            if name in ("system", "messages", "tools", "tool_choice")}
    binary = [0]
    text = to_json(_strip_binary(read, binary))
    return max(1, -(-len(text.decode("utf-8", "replace")) // CHARS_PER_TOKEN) + binary[0] * BINARY_BLOCK_TOKENS)


def answer(tokens: int) -> dict[str, Any]:
    """The ``MessageTokensCount`` object."""
    return {"input_tokens": tokens}
