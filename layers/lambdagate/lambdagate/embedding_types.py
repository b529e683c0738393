"""The typed ``POST /v1/embeddings`` request, as strict as the OpenAI reference's ``CreateEmbeddingRequest``.

Bounds are the schema's (tests/openai-spec/schemas.json, ``CreateEmbeddingRequest``): ``input`` is
a string, a list of 1 to 2048 strings, a token array of 1 to 2048 ids, or a list of 1 to 2048
non-empty token arrays; ``encoding_format`` is ``float`` or ``base64``; ``dimensions`` is an
integer >= 1. Types are strict as in :mod:`lambdagate.types` (no number read from a string, no
boolean taken for an integer). The reference also says an input "cannot be an empty string",
which OpenAI answers with a 400; so does this model, before any upstream is paid for it.

Extra fields are allowed: an OpenAI-type upstream receives them as sent (``extra_body``), and a
translating provider maps the ones it knows (Cohere's ``input_type``, Gemini's ``task_type``) or
drops/refuses the rest per ``drop_params``. Kept apart from :mod:`lambdagate.types` so the chat
functions never import it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from lambdagate.errors import InvalidRequest
from lambdagate.types import GATEWAY_FIELDS, Number

MAX_INPUTS = 2048
"""The reference's ``maxItems`` of every array form of ``input``."""

Text = Annotated[StrictStr, Field(min_length=1)]
TokenArray = Annotated[list[StrictInt], Field(min_length=1, max_length=MAX_INPUTS)]
EmbeddingInput = (
    Text
    | Annotated[list[StrictStr], Field(min_length=1, max_length=MAX_INPUTS)]
    | TokenArray
    | Annotated[list[Annotated[list[StrictInt], Field(min_length=1)]], Field(min_length=1, max_length=MAX_INPUTS)]
)


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    model: str = Field(min_length=1)
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[StrictInt, Field(ge=1)] | None = None
    user: str | None = None
    # Per-request upstream timeout in seconds, as on chat; may only lower settings.request_timeout.
    timeout: Annotated[Number, Field(gt=0)] | None = None

    @property
    def stream(self) -> bool:
        """Embeddings never stream; the gateway's request path reads this as it does for chat."""
        return False

    @property
    def tokens(self) -> bool:
        """The input is token ids (one array or a list of them), not text."""
        value = self.input
        return isinstance(value, list) and bool(value) and not isinstance(value[0], str)

    @property
    def count(self) -> int:
        """How many embeddings the answer holds (one per string or token array)."""
        value = self.input
        if isinstance(value, str) or (value and isinstance(value[0], int)):
            return 1
        return len(value)

    def texts(self, provider_type: str) -> list[str]:
        """The inputs as a list of strings, for providers that take text only.

        Token ids name tokens of OpenAI's tokenizers; another provider's tokenizer would read them
        as different words, so they are refused rather than decoded by guesswork.
        """
        if self.tokens:
            raise InvalidRequest(
                f"Token-array inputs are not supported by the '{provider_type}' provider; send the input as text.",
                param="input", code="invalid_value",
            )
        value = self.input
        return [value] if isinstance(value, str) else list(value)  # type: ignore[arg-type]

    def sent_fields(self) -> dict[str, Any]:
        """The fields the client sent (extras included), gateway fields removed."""
        fields = self.model_dump(exclude_unset=True)
        for name in GATEWAY_FIELDS:
            fields.pop(name, None)
        return fields

    def extra(self, name: str) -> Any:
        """An extra (non-OpenAI) field the client sent, or None."""
        return (self.model_extra or {}).get(name)


__all__ = ["MAX_INPUTS", "EmbeddingInput", "EmbeddingRequest"]
