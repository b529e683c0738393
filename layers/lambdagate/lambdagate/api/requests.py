"""Reading a client's request body: size limit, JSON, and OpenAI-worded validation errors."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from lambdagate.errors import BodyTooLarge, InvalidRequest

M = TypeVar("M", bound=BaseModel)

_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The API expects a JSON payload, but what was sent was not valid JSON.)"
)

# Discriminator values pydantic puts in an error's location; a client never wrote them.
_UNION_TAGS = frozenset({"system", "developer", "user", "assistant", "tool", "function",
                         "text", "image_url", "input_audio", "file", "refusal"})
_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


MAX_BODY_BYTES = 10 * 1024 * 1024
"""Hard ceiling while reading, before settings are known (API Gateway's own limit is 10 MB);
``settings.max_body_bytes`` is then enforced on what was read."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def body_too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"Request body too large: the limit is {limit} bytes.")


def parse_request(raw: bytes, model: type[M]) -> M:
    """Validate a JSON body straight from bytes (pydantic-core parses and validates in one pass)."""
    if not raw.strip():
        raise InvalidRequest(_BAD_JSON)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc) from None


def param_path(loc: tuple[Any, ...]) -> str:
    """``("messages", 0, "user", "content")`` -> ``"messages[0].content"``."""
    path = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str):
            is_tag = isinstance(previous, int) and part in _UNION_TAGS
            is_type = part in _TYPE_WORDS or "[" in part or "-" in part
            if not (is_tag or is_type):
                path += f".{part}" if path else part
        previous = part
    return path


def validation_error(exc: ValidationError) -> InvalidRequest:
    """The first validation problem, worded the way the OpenAI API words it."""
    errors = exc.errors(include_url=False)
    # A value that fits no member of a union (``content: str | list[part]``) yields one error per
    # member; the deepest one within the first bad field is the one that names the real mistake.
    top = errors[0]["loc"][:1]
    first = max((e for e in errors if e["loc"][:1] == top), key=lambda e: len(e["loc"]))
    kind = first["type"]
    param = param_path(tuple(first["loc"])) or None
    if kind == "json_invalid":
        return InvalidRequest(_BAD_JSON)
    if kind == "model_type" and not param:
        return InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    if kind == "missing":
        return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                              code="missing_required_parameter")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        # The location stops at the union; the field the client got wrong is its discriminator.
        tag = str(first.get("ctx", {}).get("discriminator", "")).strip("'")
        param = f"{param}.{tag}" if param and tag else param
        if kind == "union_tag_not_found":
            return InvalidRequest(f"Missing required parameter: '{param}'.", param=param,
                                  code="missing_required_parameter")
    if kind in ("union_tag_invalid", "literal_error", "enum"):
        expected = first.get("ctx", {}).get("expected", "")
        return InvalidRequest(f"Invalid value: {_show(first.get('input'))}. Supported values are: {expected}.",
                              param=param, code="invalid_value")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind == "model_attributes_type":
        return InvalidRequest(f"Invalid type for '{param}': {first['msg'].lower()}, "
                              f"but got {_show(first.get('input'))} instead.", param=param, code="invalid_type")
    return InvalidRequest(f"Invalid '{param}': {first['msg'].lower()}.", param=param, code="invalid_value")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
