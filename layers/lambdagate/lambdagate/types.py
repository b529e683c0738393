"""Typed OpenAI requests: what the API layer validates and what provider adapters read.

The models follow the OpenAI API reference (``CreateChatCompletionRequest`` and
``CreateCompletionRequest``). Every object allows extra fields: OpenAI adds parameters often, and
an OpenAI-type upstream must receive what the client sent even before this file knows about it.
Bounds are the ones OpenAI enforces, so a bad value is refused here with the same message shape
instead of after a round trip to the provider:

- Types are strict, as OpenAI's are: a number is never read from a string (``"0.5"``), a boolean
  is only ``true``/``false`` (not ``"true"`` or ``1``), an integer is never a boolean or a
  decimal, and ``NaN``/``Infinity`` are refused. Strings were strict already.
- Bounds are pydantic-core constraints (no Python validators on the hot path); the few rules
  between fields (``stream_options`` needs ``stream``, ``tool_choice`` needs ``tools``,
  ``best_of >= n``) are one cheap after-validator per request, raising :func:`rule`.

:func:`invalid_request` words any validation failure as the OpenAI API does, naming the ``param``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from lambdagate.errors import InvalidRequest

# ``allow_inf_nan``: pydantic's JSON parser reads ``NaN`` and ``Infinity`` (and ``1e400`` is
# infinite); OpenAI's does not, and an upstream would get a body that is not JSON.
_OPEN = ConfigDict(extra="allow", allow_inf_nan=False)

Number = Annotated[float, Field(strict=True)]
"""A JSON number (an integer is a number too), never a string or a boolean."""


class _Open(BaseModel):
    model_config = _OPEN


# --- message content parts -------------------------------------------------------------------


class TextPart(_Open):
    type: Literal["text"]
    text: str


class ImageURL(_Open):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Open):
    type: Literal["image_url"]
    image_url: ImageURL


class InputAudio(_Open):
    data: str
    format: str


class AudioPart(_Open):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FilePart(_Open):
    type: Literal["file"]
    file: dict[str, Any]


class RefusalPart(_Open):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[
    TextPart | ImagePart | AudioPart | FilePart | RefusalPart, Field(discriminator="type")
]


# --- tools ---------------------------------------------------------------------------------


class FunctionDefinition(_Open):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


class Tool(_Open):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class FunctionCall(_Open):
    name: str
    arguments: str


class ToolCall(_Open):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class NamedFunction(_Open):
    name: str


class NamedToolChoice(_Open):
    type: Literal["function"] = "function"
    function: NamedFunction


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice | dict[str, Any]


# --- messages ------------------------------------------------------------------------------


class SystemMessage(_Open):
    role: Literal["system"]
    content: str | list[ContentPart]
    name: str | None = None


class DeveloperMessage(_Open):
    role: Literal["developer"]
    content: str | list[ContentPart]
    name: str | None = None


class UserMessage(_Open):
    role: Literal["user"]
    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Open):
    role: Literal["assistant"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    # Reasoning text some providers return and want back on the next turn (Anthropic thinking).
    reasoning_content: str | None = None


class ToolMessage(_Open):
    role: Literal["tool"]
    content: str | list[ContentPart]
    tool_call_id: str


class FunctionMessage(_Open):
    role: Literal["function"]
    content: str | None
    name: str


Message = Annotated[
    SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage,
    Field(discriminator="role"),
]


# --- requests ------------------------------------------------------------------------------


class StreamOptions(_Open):
    include_usage: StrictBool | None = None
    include_obfuscation: StrictBool | None = None


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


# Bounds of CreateChatCompletionRequest / CreateCompletionRequest (tests/test_validation.py reads
# them from the official schema and checks each one here).
Stop = StrictStr | Annotated[list[StrictStr], Field(min_length=1, max_length=4)] | None
Temperature = Annotated[Number, Field(ge=0, le=2)] | None
TopP = Annotated[Number, Field(ge=0, le=1)] | None
Penalty = Annotated[Number, Field(ge=-2, le=2)] | None
ChoiceCount = Annotated[StrictInt, Field(ge=1, le=128)] | None
TokenCount = Annotated[StrictInt, Field(ge=1)] | None
Seed = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)] | None  # int64
# Token ids (decimal strings) -> a bias from -100 to 100; the schema types the bias as an integer.
LogitBias = dict[Annotated[str, Field(pattern=r"^[0-9]+$")], Annotated[StrictInt, Field(ge=-100, le=100)]] | None
# "Set of 16 key-value pairs ... keys ... maximum length of 64 characters. Values ... 512."
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]], Field(max_length=16)
] | None


def rule(param: str, message: str) -> PydanticCustomError:
    """A rule between fields, broken: :func:`invalid_request` answers it naming ``param``."""
    return PydanticCustomError("request_rule", message, {"param": param})

# Fields that steer the gateway itself and are never sent upstream.
GATEWAY_FIELDS = frozenset({"timeout"})


class BaseRequest(_Open):
    """What chat and text completion requests share; provider adapters take either.

    Never validated itself, so its schema is never built (``defer_build``), nor is a text
    completion's until an app serving ``/completions`` builds it at init (``api/app.py``): about
    12 ms of init in every function that serves chat alone. A chat request's is built here.
    """

    model_config = ConfigDict(defer_build=True)

    model: str = Field(min_length=1)
    stream: StrictBool | None = None
    stream_options: StreamOptions | None = None
    temperature: Temperature = None
    top_p: TopP = None
    n: ChoiceCount = None
    stop: Stop = None
    max_tokens: TokenCount = None
    presence_penalty: Penalty = None
    frequency_penalty: Penalty = None
    logit_bias: LogitBias = None
    seed: Seed = None
    user: str | None = None
    # Per-request upstream timeout in seconds; may only lower settings.request_timeout.
    timeout: Annotated[Number, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> Self:
        if self.stream_options is not None and not self.stream:
            raise rule("stream_options", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
        return self

    @property
    def wants_usage_chunk(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def sent_fields(self) -> dict[str, Any]:
        """The parameters the client actually sent (extras included), gateway fields removed."""
        fields = self.model_dump(exclude_unset=True)
        for name in GATEWAY_FIELDS:
            fields.pop(name, None)
        return fields


class ChatCompletionRequest(BaseRequest):
    model_config = ConfigDict(defer_build=False)  # every function but models validates chat requests

    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: TokenCount = None
    logprobs: StrictBool | None = None
    top_logprobs: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: StrictBool | None = None
    functions: Annotated[list[FunctionDefinition], Field(min_length=1, max_length=128)] | None = None
    function_call: Literal["none", "auto"] | NamedFunction | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    metadata: Metadata = None
    store: StrictBool | None = None
    service_tier: str | None = None
    modalities: list[str] | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _tool_choice_needs_tools(self) -> Self:
        if self.tool_choice is not None and not self.tools:
            raise rule("tool_choice", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
                                      "'tools' are specified.")
        return self

    @property
    def output_token_limit(self) -> int | None:
        """``max_completion_tokens`` supersedes the deprecated ``max_tokens``."""
        return self.max_completion_tokens or self.max_tokens

    def translated_fields(self) -> dict[str, Any]:
        """:meth:`sent_fields` for translating adapters: one output limit, named ``max_tokens``.

        Providers have one output-token field; normalising here means no parameter table has to
        rely on entry order to let ``max_completion_tokens`` win over ``max_tokens``.
        """
        fields = self.sent_fields()
        limit = fields.pop("max_completion_tokens", None)
        if limit is not None:
            fields["max_tokens"] = limit
        return fields


def _prompt_form(value: Any) -> str:
    """Which form of ``prompt`` a value is, read from its first item.

    A plain union would validate a long list once per form and collect an error per item for each
    form it is not: for a 6 MB list of token arrays, seconds of CPU on the event loop.
    """
    if isinstance(value, list):
        if not value or isinstance(value[0], str):
            return "strings"
        return "token_arrays" if isinstance(value[0], list) else "tokens"
    return "string"


TokenIds = Annotated[list[StrictInt], Field(min_length=1)]
Prompt = Annotated[
    Annotated[StrictStr, Tag("string")]
    | Annotated[list[StrictStr], Tag("strings")]
    | Annotated[TokenIds, Tag("tokens")]
    | Annotated[list[TokenIds], Field(min_length=1), Tag("token_arrays")],
    Discriminator(_prompt_form),
]


class CompletionRequest(BaseRequest):
    prompt: Prompt | None = "<|endoftext|>"
    suffix: str | None = None
    echo: StrictBool | None = None
    # 0 is in range (``echo`` with ``max_tokens: 0`` scores a prompt); chat requests start at 1.
    max_tokens: Annotated[StrictInt, Field(ge=0)] | None = None
    best_of: Annotated[StrictInt, Field(ge=0, le=20)] | None = None
    logprobs: Annotated[StrictInt, Field(ge=0, le=5)] | None = None

    @model_validator(mode="after")
    def _best_of_covers_n(self) -> Self:
        # The schema's minimum of 0 aside, ``best_of`` counts the candidates ``n`` are chosen from.
        if self.best_of is not None and self.best_of < (self.n or 1):
            raise rule("best_of", f"Invalid value for 'best_of': 'best_of' must be greater than or equal to "
                                  f"'n' (got best_of={self.best_of}, n={self.n or 1}).")
        return self


# --- validation errors, worded as the OpenAI API words them -----------------------------------

# Discriminator values pydantic puts in an error's location after these fields (or an item of
# them); a client never wrote them (while ``tools[0].function`` is a real field).
_UNION_TAGS = {
    "messages": frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
    "content": frozenset({"text", "image_url", "input_audio", "file", "refusal"}),
    "prompt": frozenset({"string", "strings", "tokens", "token_arrays"}),
}
_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})
# Objects whose keys the client chooses: an error inside one names the object, not the key.
_MAPS = frozenset({"logit_bias", "metadata"})
# What OpenAI says a value should be ("expected an integer"), by pydantic error type.
_EXPECTED = {
    "string_type": "a string", "int_type": "an integer", "float_type": "a decimal", "bool_type": "a boolean",
    "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
    "list_type": "an array", "int_from_float": "an integer", "literal_error": "a string",
}
_KEY_RULES = {"logit_bias": "You should only be submitting non-negative integers."}


def _model_names(cls: type[BaseModel]) -> set[str]:
    return {cls.__name__}.union(*(_model_names(sub) for sub in cls.__subclasses__()))


# pydantic names a union member that is a model by its class ("tool_choice", "NamedToolChoice", ...).
_MODEL_TAGS = frozenset(_model_names(_Open))


def _is_model_name(part: str) -> bool:
    """A model's class name: of this module, or of a model defined after it (a front door's request types,
    whose unions are tagged with class names). Only error paths ask, so the walk costs nothing on success."""
    return part in _MODEL_TAGS or part in _model_names(_Open)


def param_path(loc: tuple[Any, ...]) -> str:
    """``("messages", 0, "user", "content")`` -> ``"messages[0].content"``."""
    if loc and loc[0] in _MAPS:
        return str(loc[0])
    path = ""
    previous: Any = None
    field = ""  # the last field name written
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str):
            is_tag = (isinstance(previous, int) or previous == field) and part in _UNION_TAGS.get(field, ())
            is_type = part in _TYPE_WORDS or _is_model_name(part) or "[" in part or "-" in part
            if not (is_tag or is_type):
                path += f".{part}" if path else part
                field = part
        previous = part
    return path


def invalid_request(exc: ValidationError, bad_json: str = "") -> InvalidRequest:
    """The first validation problem of ``exc``, worded as OpenAI does, with the ``param`` it concerns."""
    errors = exc.errors(include_url=False)
    # A value that fits no member of a union (``content: str | list[part]``) yields one error per
    # member; the deepest one within the first bad field names the real mistake, and among equally
    # deep ones, a broken bound (``stop``: 5 strings) says more than "not a string".
    top = errors[0]["loc"][:1]
    same_field = [e for e in errors if e["loc"][:1] == top]
    first = max(same_field, key=lambda e: (len(e["loc"]), not _wrong_type(e)))
    kind = "literal_type" if first["type"] == "literal_error" and _wrong_type(first) else first["type"]
    ctx: dict[str, Any] = first.get("ctx") or {}
    loc = tuple(first["loc"])
    param = param_path(loc) or None
    value = first.get("input")
    if kind == "json_invalid":
        return InvalidRequest(bad_json or "We could not parse the JSON body of your request.")
    if kind == "request_rule":
        return InvalidRequest(first["msg"], param=ctx.get("param"))
    if kind == "model_type" and not param:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                              code="missing_required_parameter")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # The location stops at the union; the field the client got wrong is its discriminator.
        tag = str(ctx.get("discriminator", "")).strip("'")
        param = f"{param}.{tag}" if param and tag else param
        if kind == "union_tag_not_found":
            return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                                  code="missing_required_parameter")
    if kind in ("union_tag_invalid", "literal_error", "enum"):
        return InvalidRequest(f"Invalid value: {_show(value)}. Supported values are: {ctx.get('expected', '')}.",
                              param=param, code="invalid_value")
    if kind in _EXPECTED or kind.endswith("_type") or kind.endswith("_parsing"):
        # Every member of a union the value failed is something it could have been.
        expected = list(dict.fromkeys(
            _EXPECTED.get(e["type"], e["type"].removesuffix("_type").replace("_", " "))
            for e in same_field if _wrong_type(e) and param_path(tuple(e["loc"])) == param
        )) or [_EXPECTED.get(kind, "another type")]
        wanted = expected[0] if len(expected) == 1 else "one of " + " or ".join(expected)
        return InvalidRequest(f"Invalid type for '{param}': expected {wanted}, but got {_kind_of(value)} instead.",
                              param=param, code="invalid_type")
    if kind == "string_pattern_mismatch" and loc[-1:] == ("[key]",) and loc[0] in _KEY_RULES:
        return InvalidRequest(f"Invalid key in '{param}': {_show(value)}. {_KEY_RULES[loc[0]]}", param=param,
                              code="invalid_value")
    detail = _bound_message(kind, ctx, value, loc) or f"{first['msg'][:1].lower()}{first['msg'][1:]}."
    return InvalidRequest(f"Invalid '{param}': {detail}", param=param, code="invalid_value")


def _wrong_type(error: Any) -> bool:
    """Whether an error says the value has the wrong JSON type (not a wrong value of the right type)."""
    kind = error["type"]
    if kind == "literal_error":  # every Literal here is of strings
        return not isinstance(error.get("input"), str)
    return kind in _EXPECTED or kind.endswith("_type")


_LIMITS = {  # pydantic error type -> (its context key, OpenAI's words, the comparison)
    "greater_than_equal": ("ge", "below minimum", ">="), "greater_than": ("gt", "below minimum", ">"),
    "less_than_equal": ("le", "above maximum", "<="), "less_than": ("lt", "above maximum", "<"),
}


def _bound_message(kind: str, ctx: dict[str, Any], value: Any, loc: tuple[Any, ...]) -> str:
    """What is wrong with a value of the right type, as in "integer above maximum value. Expected..."."""
    if kind in _LIMITS:
        key, words, sign = _LIMITS[kind]
        number = "integer" if isinstance(value, int) else "decimal"
        return f"{number} {words} value. Expected a value {sign} {ctx.get(key)}, but got {_show(value)} instead."
    if kind in ("too_long", "too_short"):
        longer = kind == "too_long"
        actual, bound = ctx.get("actual_length"), ctx.get("max_length" if longer else "min_length")
        if ctx.get("field_type") == "Dictionary":
            return (f"too {'many' if longer else 'few'} properties. Expected an object with at "
                    f"{'most' if longer else 'least'} {bound} properties, but got an object with {actual} "
                    "properties instead.")
        if not longer and actual == 0:
            return f"empty array. Expected an array with minimum length {bound}, but got an empty array instead."
        return (f"array too {'long' if longer else 'short'}. Expected an array with "
                f"{'maximum' if longer else 'minimum'} length {bound}, but got an array with length {actual} "
                "instead.")
    if kind in ("string_too_long", "string_too_short"):
        longer = kind == "string_too_long"
        actual = len(value) if isinstance(value, str) else 0
        bound = ctx.get("max_length" if longer else "min_length")
        what = "key" if loc and loc[-1] == "[key]" else "string"
        if not longer and actual == 0:
            return f"empty {what}. Expected a string with minimum length {bound}, but got an empty string instead."
        return (f"{what} too {'long' if longer else 'short'}. Expected a string with "
                f"{'maximum' if longer else 'minimum'} length {bound}, but got a string with length {actual} "
                "instead.")
    return ""


def _kind_of(value: Any) -> str:
    """OpenAI's name for the JSON type of ``value``: "a string", "an integer", "null"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
