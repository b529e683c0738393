"""The typed ``POST /v1/messages`` and ``/v1/messages/count_tokens`` requests: Anthropic's Messages API.

Built against the Claude API reference ("Messages", "Count tokens in a Message", "Streaming
messages", "Errors") and the official Python SDK's ``MessageCreateParams`` /
``MessageCountTokensParams`` (anthropic 2.15, API version 2026-10-21), read on 2026-12-02.
Strict where Anthropic is: ``max_tokens`` is required on create (0 or more: 0 only warms the
prompt cache), roles are ``user`` and ``assistant`` only, ``messages`` is not empty, types are
strict (no number from a string), ``temperature`` and ``top_p`` are 0..1, ``top_k`` is 0 or more,
``thinking.budget_tokens`` at least 1024, ``tool_choice`` one of ``auto``/``any``/``tool``/``none``.

Every object allows extra fields and every block or tool type Anthropic knows is accepted:
Anthropic and Bedrock deployments get the request forwarded as sent (betas, documents,
citations, server tools, whatever comes next), so this model must not refuse what Anthropic
would take. What the chat translation reads is typed field by field (text, image, document,
tool_use, tool_result, thinking blocks; custom tools; ``tool_choice``; ``thinking``;
``output_config``); any other block or tool type is accepted with only its ``type`` checked and
refused with a 400 naming it where the request is translated (:mod:`.request`).

Class names are the SDK's (``TextBlockParam``...): they name the schemas in /docs, next to the
OpenAI ones, and tag the unions, so an error names ``messages[0].content[1].source``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, StrictBool, StrictInt, StrictStr, Tag

from lambdagate.types import Number, _Open

UnitInterval = Annotated[Number, Field(ge=0, le=1)] | None


class _Model(_Open):
    # Built on first use (or by :func:`build`): the streaming function's cold start stays chat's.
    model_config = ConfigDict(defer_build=True)


def _tag(value: Any, tags: dict[str, str], default: str) -> str:
    if isinstance(value, BaseModel):  # serialising: the member is known
        return type(value).__name__
    kind = value.get("type") if isinstance(value, dict) else None
    return tags.get(kind, default) if isinstance(kind, str) else default


# --- sources and content blocks --------------------------------------------------------------------


class Base64Source(_Model):
    type: Literal["base64"]
    media_type: StrictStr
    data: StrictStr


class URLSource(_Model):
    type: Literal["url"]
    url: StrictStr


class TextSource(_Model):
    """A plain-text document's content."""

    type: Literal["text"]
    data: StrictStr
    media_type: StrictStr | None = None


class ContentSource(_Model):
    """A document made of content blocks (``{"type": "content", "content": [...]}``)."""

    type: Literal["content"]
    content: StrictStr | list[dict[str, Any]]


class OtherSource(_Model):
    """A file of Anthropic's Files API (``type: file``) or any other source: only its type is read."""

    type: StrictStr


def _source_tag(value: Any) -> str:
    return _tag(value, {"base64": "Base64Source", "url": "URLSource", "text": "TextSource",
                        "content": "ContentSource"}, "OtherSource")


Source = Annotated[
    Annotated[Base64Source, Tag("Base64Source")] | Annotated[URLSource, Tag("URLSource")]
    | Annotated[TextSource, Tag("TextSource")] | Annotated[ContentSource, Tag("ContentSource")]
    | Annotated[OtherSource, Tag("OtherSource")],
    Discriminator(_source_tag),
]


class TextBlockParam(_Model):
    type: Literal["text"]
    text: StrictStr
    cache_control: dict[str, Any] | None = None
    citations: list[dict[str, Any]] | None = None


class ImageBlockParam(_Model):
    type: Literal["image"]
    source: Source
    cache_control: dict[str, Any] | None = None


class DocumentBlockParam(_Model):
    type: Literal["document"]
    source: Source
    title: StrictStr | None = None
    context: StrictStr | None = None
    cache_control: dict[str, Any] | None = None


class ToolUseBlockParam(_Model):
    type: Literal["tool_use"]
    id: StrictStr
    name: StrictStr
    input: dict[str, Any]
    cache_control: dict[str, Any] | None = None


class ToolResultBlockParam(_Model):
    type: Literal["tool_result"]
    tool_use_id: StrictStr
    content: StrictStr | list[ResultBlock] | None = None
    is_error: StrictBool | None = None
    cache_control: dict[str, Any] | None = None


class ThinkingBlockParam(_Model):
    type: Literal["thinking"]
    thinking: StrictStr
    signature: StrictStr


class RedactedThinkingBlockParam(_Model):
    type: Literal["redacted_thinking"]
    data: StrictStr


class OtherBlockParam(_Model):
    """Any other block (server tool uses and results, search results, container uploads...): its type only."""

    type: StrictStr


_BLOCK_TAGS = {"text": "TextBlockParam", "image": "ImageBlockParam", "document": "DocumentBlockParam",
               "tool_use": "ToolUseBlockParam", "tool_result": "ToolResultBlockParam",
               "thinking": "ThinkingBlockParam", "redacted_thinking": "RedactedThinkingBlockParam"}


def _block_tag(value: Any) -> str:
    return _tag(value, _BLOCK_TAGS, "OtherBlockParam")


ContentBlockParam = Annotated[
    Annotated[TextBlockParam, Tag("TextBlockParam")] | Annotated[ImageBlockParam, Tag("ImageBlockParam")]
    | Annotated[DocumentBlockParam, Tag("DocumentBlockParam")]
    | Annotated[ToolUseBlockParam, Tag("ToolUseBlockParam")]
    | Annotated[ToolResultBlockParam, Tag("ToolResultBlockParam")]
    | Annotated[ThinkingBlockParam, Tag("ThinkingBlockParam")]
    | Annotated[RedactedThinkingBlockParam, Tag("RedactedThinkingBlockParam")]
    | Annotated[OtherBlockParam, Tag("OtherBlockParam")],
    Discriminator(_block_tag),
]

ResultBlock = Annotated[
    Annotated[TextBlockParam, Tag("TextBlockParam")] | Annotated[ImageBlockParam, Tag("ImageBlockParam")]
    | Annotated[DocumentBlockParam, Tag("DocumentBlockParam")]
    | Annotated[OtherBlockParam, Tag("OtherBlockParam")],
    Discriminator(_block_tag),
]
"""What a ``tool_result`` may hold (text, images, documents, search results)."""


class MessageParam(_Model):
    role: Literal["user", "assistant"]
    content: StrictStr | list[ContentBlockParam]


# --- tools, tool_choice, thinking, output ----------------------------------------------------------


class ToolParamCustom(_Model):
    """A client tool: ``type`` absent or ``custom``, a name and the JSON schema of its input."""

    type: Literal["custom"] | None = None
    name: Annotated[str, Field(min_length=1, max_length=128)]
    input_schema: dict[str, Any]
    description: StrictStr | None = None
    strict: StrictBool | None = None
    cache_control: dict[str, Any] | None = None


class ServerToolParam(_Model):
    """A tool Anthropic runs or defines (``web_search_20250305``, ``bash_20250124``...): its type only."""

    type: StrictStr
    name: StrictStr | None = None


def _tool_tag(value: Any) -> str:
    if isinstance(value, dict) and value.get("type") in (None, "custom"):
        return "ToolParamCustom"
    return _tag(value, {}, "ServerToolParam")


ToolUnionParam = Annotated[
    Annotated[ToolParamCustom, Tag("ToolParamCustom")] | Annotated[ServerToolParam, Tag("ServerToolParam")],
    Discriminator(_tool_tag),
]


class ToolChoiceParam(_Model):
    type: Literal["auto", "any", "tool", "none"]
    name: StrictStr | None = None
    disable_parallel_tool_use: StrictBool | None = None


class ThinkingConfigParam(_Model):
    type: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: Annotated[StrictInt, Field(ge=1024)] | None = None
    display: Literal["summarized", "omitted"] | None = None


class OutputConfigParam(_Model):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: dict[str, Any] | None = None


class MetadataParam(_Model):
    user_id: Annotated[str, Field(max_length=256)] | None = None


# --- the requests ----------------------------------------------------------------------------------

GATEWAY_FIELDS = frozenset({"timeout"})
"""Fields that steer the gateway itself and are never sent upstream (as for chat)."""


class BaseMessagesRequest(_Model):
    model: str = Field(min_length=1)
    messages: Annotated[list[MessageParam], Field(min_length=1)]
    system: StrictStr | list[TextBlockParam] | None = None
    tools: list[ToolUnionParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingConfigParam | None = None
    output_config: OutputConfigParam | None = None
    # Per-request upstream timeout in seconds; may only lower settings.request_timeout (as for chat).
    timeout: Annotated[Number, Field(gt=0)] | None = None

    _raw: bytes = PrivateAttr(default=b"")
    _headers: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> bytes:
        """The body as the client sent it (forwarded as bytes where the deployment speaks Messages)."""
        return self._raw

    @property
    def client_headers(self) -> dict[str, str]:
        """The client's ``anthropic-version`` and ``anthropic-beta`` headers (lower-case names), as sent."""
        return self._headers

    def received(self, raw: bytes, headers: dict[str, str]) -> None:
        self._raw = raw
        self._headers = headers

    def sent_fields(self) -> dict[str, Any]:
        """The parameters the client actually sent (extras included), gateway fields removed."""
        fields = self.model_dump(exclude_unset=True)
        for name in GATEWAY_FIELDS:
            fields.pop(name, None)
        return fields

    def extras(self) -> dict[str, Any]:
        """Top-level fields this model does not know, as sent."""
        return dict(self.model_extra or {})


class MessageCreateParams(BaseMessagesRequest):
    """``POST /v1/messages``: what the gateway validates before routing, for every provider."""

    max_tokens: Annotated[StrictInt, Field(ge=0)]
    stream: StrictBool | None = None
    stop_sequences: list[StrictStr] | None = None
    temperature: UnitInterval = None
    top_p: UnitInterval = None
    top_k: Annotated[StrictInt, Field(ge=0)] | None = None
    metadata: MetadataParam | None = None
    service_tier: StrictStr | None = None


class MessageCountTokensParams(BaseMessagesRequest):
    """``POST /v1/messages/count_tokens``: a Messages request without output settings; never streamed."""

    stream: Literal[False] | None = None


def build() -> None:
    """Build the validators now (at init, where an app serves this door: SnapStart keeps them)."""
    messages = [{"role": "user", "content": [{"type": "text", "text": "x"}]}]
    MessageCreateParams.model_validate({"model": "m", "max_tokens": 1, "messages": messages})
    MessageCountTokensParams.model_validate({"model": "m", "messages": messages})
