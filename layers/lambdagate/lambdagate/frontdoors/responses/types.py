"""The typed ``POST /v1/responses`` request: OpenAI's ``CreateResponse``, as strict as the chat types.

Built against ``CreateResponse`` in the official OpenAI spec (the repository's copy,
``tests/openai-spec/schemas.json``, from openai-openapi at f85dbe2). The same rules as
:mod:`lambdagate.types`: every object allows extra fields (OpenAI adds some often, and an OpenAI or
Azure upstream gets the request forwarded as sent), types are strict, bounds are the schema's
(``max_output_tokens >= 16``, ``temperature`` 0..2, ``top_p`` 0..1, ``top_logprobs`` 0..20,
``safety_identifier`` at most 64 characters, ``context_management`` at least one item).

What the gateway translates into the chat contract is typed field by field: messages and their
content parts, ``function_call`` and ``function_call_output`` items, reasoning items, function
tools, ``tool_choice``, ``text.format``, ``reasoning``. Everything else OpenAI knows (its
built-in tools, other item types, stored prompts...) is accepted with only its ``type`` checked:
forwarded to OpenAI and Azure, and refused with a 400 naming it where it would be translated
(:mod:`.request`), never dropped in silence.

Unions are tagged with the member's class name (pydantic puts the tag in an error's location, and
:func:`lambdagate.types.param_path` leaves model names out), so an error names ``input[0].role``,
not ``input[0].Message.role``.
"""

# No ``from __future__ import annotations``: pydantic would compile every annotation string back
# into an object at import (a quarter of this module's import time).
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictBool, StrictInt, StrictStr, Tag, model_validator

from lambdagate.types import Metadata, Number, Temperature, TopP, _Open, rule


class _Model(_Open):
    # Validators are built on first use (or by :func:`build`): an app that serves every endpoint (the
    # streaming function) does not pay this door's ~100 ms of model building in its cold start.
    model_config = ConfigDict(defer_build=True)


# --- content parts ---------------------------------------------------------------------------------

class InputText(_Model):
    type: Literal["input_text"]
    text: str


class InputImage(_Model):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] | None = None


class InputFile(_Model):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputText(_Model):
    """An assistant's text, as a client sends back the ``output`` of an earlier response."""

    type: Literal["output_text"]
    text: str


class Refusal(_Model):
    type: Literal["refusal"]
    refusal: str


class UnknownPart(_Model):
    """A part of another type: refused, with the types this door knows (``Invalid value: ...``)."""

    type: Literal["input_text", "input_image", "input_file", "output_text", "refusal"]


_PART_TAGS = {"input_text": "InputText", "input_image": "InputImage", "input_file": "InputFile",
              "output_text": "OutputText", "refusal": "Refusal"}


def _tag(value: Any, tags: dict[str, str], default: str) -> str:
    if isinstance(value, BaseModel):  # serialising: the member is known
        return type(value).__name__
    kind = value.get("type") if isinstance(value, dict) else None
    return tags.get(kind, default) if isinstance(kind, str) else default


def _part_tag(value: Any) -> str:
    return _tag(value, _PART_TAGS, "UnknownPart")


ContentPart = Annotated[
    Annotated[InputText, Tag("InputText")] | Annotated[InputImage, Tag("InputImage")]
    | Annotated[InputFile, Tag("InputFile")] | Annotated[OutputText, Tag("OutputText")]
    | Annotated[Refusal, Tag("Refusal")] | Annotated[UnknownPart, Tag("UnknownPart")],
    Discriminator(_part_tag),
]
ToolOutputPart = Annotated[
    Annotated[InputText, Tag("InputText")] | Annotated[InputImage, Tag("InputImage")]
    | Annotated[InputFile, Tag("InputFile")] | Annotated[UnknownPart, Tag("UnknownPart")],
    Discriminator(_part_tag),
]

# --- input items -----------------------------------------------------------------------------------


class Message(_Model):
    """``EasyInputMessage``, ``InputMessage`` and an echoed ``OutputMessage``: ``type`` may be left out."""

    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None
    status: str | None = None


class FunctionCall(_Model):
    """A ``function_call`` of an earlier response, sent back with the conversation."""

    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: str | None = None


class FunctionCallOutput(_Model):
    type: Literal["function_call_output"]
    call_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    output: Annotated[str, Field(max_length=10485760)] | list[ToolOutputPart]
    id: str | None = None
    status: str | None = None


class SummaryText(_Model):
    type: Literal["summary_text"]
    text: str


class Reasoning(_Model):
    """A ``reasoning`` item of an earlier response (summary, encrypted content)."""

    type: Literal["reasoning"]
    id: str | None = None
    summary: list[SummaryText] = []
    encrypted_content: str | None = None


class ItemReference(_Model):
    """``item_reference``: an item stored at OpenAI, named by id (``type`` may be left out)."""

    type: Literal["item_reference"] | None = None
    id: str


class OtherItem(_Model):
    """Any other item OpenAI knows (tool calls of its built-in tools, compaction...): only its type is read."""

    type: StrictStr


_ITEM_TAGS = {"message": "Message", "function_call": "FunctionCall", "function_call_output": "FunctionCallOutput",
              "reasoning": "Reasoning", "item_reference": "ItemReference"}


def _item_tag(value: Any) -> str:
    if isinstance(value, dict) and value.get("type") is None:
        # EasyInputMessage and ItemReferenceParam may leave ``type`` out.
        return "ItemReference" if "id" in value and "role" not in value else "Message"
    return _tag(value, _ITEM_TAGS, "OtherItem")


InputItem = Annotated[
    Annotated[Message, Tag("Message")] | Annotated[FunctionCall, Tag("FunctionCall")]
    | Annotated[FunctionCallOutput, Tag("FunctionCallOutput")] | Annotated[Reasoning, Tag("Reasoning")]
    | Annotated[ItemReference, Tag("ItemReference")] | Annotated[OtherItem, Tag("OtherItem")],
    Discriminator(_item_tag),
]

# --- tools and tool_choice -------------------------------------------------------------------------


class FunctionTool(_Model):
    type: Literal["function"]
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class OtherTool(_Model):
    """A built-in tool (``web_search``, ``file_search``, ``mcp``...) or any other type: only its type is read."""

    type: StrictStr


def _tool_tag(value: Any) -> str:
    return _tag(value, {"function": "FunctionTool"}, "OtherTool")


ToolParam = Annotated[
    Annotated[FunctionTool, Tag("FunctionTool")] | Annotated[OtherTool, Tag("OtherTool")],
    Discriminator(_tool_tag),
]


class FunctionChoice(_Model):
    type: Literal["function"]
    name: str


class AllowedTools(_Model):
    type: Literal["allowed_tools"]
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


class OtherChoice(_Model):
    """A built-in tool's choice (``{"type": "web_search_preview"}``), ``mcp``, ``custom``..."""

    type: StrictStr


def _choice_tag(value: Any) -> str:
    if isinstance(value, str):
        return "str"  # a mode; the tag is a type word, which error locations leave out
    return _tag(value, {"function": "FunctionChoice", "allowed_tools": "AllowedTools"}, "OtherChoice")


ToolChoice = Annotated[
    Annotated[Literal["none", "auto", "required"], Tag("str")] | Annotated[FunctionChoice, Tag("FunctionChoice")]
    | Annotated[AllowedTools, Tag("AllowedTools")] | Annotated[OtherChoice, Tag("OtherChoice")],
    Discriminator(_choice_tag),
]

# --- text, reasoning, the rest ---------------------------------------------------------------------


class FormatText(_Model):
    type: Literal["text"]


class FormatJSONObject(_Model):
    type: Literal["json_object"]


class FormatJSONSchema(_Model):
    type: Literal["json_schema"]
    name: Annotated[str, Field(max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: StrictBool | None = None


class UnknownFormat(_Model):
    type: Literal["text", "json_schema", "json_object"]


def _format_tag(value: Any) -> str:
    return _tag(value, {"text": "FormatText", "json_object": "FormatJSONObject", "json_schema": "FormatJSONSchema"},
                "UnknownFormat")


TextFormat = Annotated[
    Annotated[FormatText, Tag("FormatText")] | Annotated[FormatJSONObject, Tag("FormatJSONObject")]
    | Annotated[FormatJSONSchema, Tag("FormatJSONSchema")] | Annotated[UnknownFormat, Tag("UnknownFormat")],
    Discriminator(_format_tag),
]


class TextOptions(_Model):
    format: TextFormat | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class ReasoningOptions(_Model):
    effort: Effort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(_Model):
    include_obfuscation: StrictBool | None = None


class Conversation(_Model):
    id: str


class PromptTemplate(_Model):
    id: str


# Fields that steer the gateway itself and are never sent upstream (as for chat).
GATEWAY_FIELDS = frozenset({"timeout"})


class CreateResponse(_Model):
    """``POST /v1/responses``: what the gateway validates before routing, for every provider."""

    model: str = Field(min_length=1)
    input: StrictStr | list[InputItem] | None = None
    instructions: str | None = None
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    text: TextOptions | None = None
    reasoning: ReasoningOptions | None = None
    max_output_tokens: Annotated[StrictInt, Field(ge=16)] | None = None
    max_tool_calls: StrictInt | None = None
    temperature: Temperature = None
    top_p: TopP = None
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    metadata: Metadata = None
    user: str | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    store: StrictBool | None = None
    previous_response_id: str | None = None
    conversation: str | Conversation | None = None
    prompt: PromptTemplate | None = None
    background: StrictBool | None = None
    context_management: Annotated[list[dict[str, Any]], Field(min_length=1)] | None = None
    moderation: dict[str, Any] | None = None
    prompt_cache_options: dict[str, Any] | None = None
    # Per-request upstream timeout in seconds; may only lower settings.request_timeout (as for chat).
    timeout: Annotated[Number, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> Self:
        if self.stream_options is not None and not self.stream:
            raise rule("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
        return self

    @property
    def wants_usage_chunk(self) -> bool:
        """A stream's usage is always wanted: ``response.completed`` carries it (the gateway asks for it)."""
        return True

    @property
    def output_token_limit(self) -> int | None:
        return self.max_output_tokens

    def sent_fields(self) -> dict[str, Any]:
        """The parameters the client actually sent (extras included, aliases as sent), gateway fields removed."""
        fields = self.model_dump(exclude_unset=True, by_alias=True)
        for name in GATEWAY_FIELDS:
            fields.pop(name, None)
        return fields

    def extras(self) -> dict[str, Any]:
        """Top-level fields this model does not know, as sent."""
        return dict(self.model_extra or {})


def build() -> None:
    """Build the validators now (at init, where an app serves this door alone: SnapStart keeps them)."""
    CreateResponse.model_validate({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text",
                                                                                         "text": "x"}]}]})
