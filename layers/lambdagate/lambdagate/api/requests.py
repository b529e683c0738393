"""Reading a client's request body: size limit, JSON, and OpenAI-worded validation errors."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from lambdagate.errors import BodyTooLarge, InvalidRequest
from lambdagate.types import invalid_request, param_path

M = TypeVar("M", bound=BaseModel)

_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The API expects a JSON payload, but what was sent was not valid JSON.)"
)

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


def validation_error(exc: ValidationError) -> InvalidRequest:
    """The first validation problem, worded as the OpenAI API words it (:func:`lambdagate.types.invalid_request`)."""
    return invalid_request(exc, _BAD_JSON)


__all__ = ["MAX_BODY_BYTES", "body_too_large", "param_path", "parse_request", "read_body", "validation_error"]
