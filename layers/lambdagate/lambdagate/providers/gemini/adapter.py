"""``gemini``: the Google AI Gemini API (``generateContent``, ``streamGenerateContent?alt=sse``).

Built against the Gemini API v1beta REST reference as of 2026-11 (``v1`` works too through the
``api_version`` option, but lacks newer fields such as ``parametersJsonSchema``). The key travels
in the ``x-goog-api-key`` header, never in the URL, so it cannot end up in an access log.

Provider options: ``api_base`` (default ``https://generativelanguage.googleapis.com/<api_version>``),
``api_version`` (default ``v1beta``). Request translation lives in :mod:`.request`, response
translation in :mod:`.response`; this module does the HTTP and the error mapping.

Errors come as ``{"error": {"code", "message", "status", "details"}}``. The status mapping is the
gateway's (:func:`lambdagate.errors.upstream_error`); Google's ``status`` becomes the error
``code`` (``RESOURCE_EXHAUSTED`` -> ``rate_limit_exceeded``), and the ``retryDelay`` of a
``google.rpc.RetryInfo`` detail becomes Retry-After when no header gave one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from urllib.parse import quote

from lambdagate.errors import UpstreamError, upstream_error
from lambdagate.providers import http
from lambdagate.providers.base import CallContext, JSONBody, ParamTable, Provider, Target
from lambdagate.providers.gemini.request import GENERATION_PARAMS, build_body
from lambdagate.providers.gemini.response import StreamTranslator, chat_completion
from lambdagate.types import ChatCompletionRequest

DEFAULT_HOST = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"

# Google's canonical error statuses that have a closer OpenAI error code.
_ERROR_CODES = {"RESOURCE_EXHAUSTED": "rate_limit_exceeded"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")


def _error_object(body: Any) -> dict[str, Any] | None:
    # A non-SSE stream answers with a JSON array of responses; an error may come wrapped in one.
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


class ErrorReader:
    """Reads one Google error body, remembering what ErrorInfo cannot carry.

    That is the RetryInfo delay, and an ``API_KEY_INVALID`` reason: Google answers a bad key with
    a 400, which must not reach the client as a fault of its request (it is the operator's key).
    """

    def __init__(self) -> None:
        self.retry_after: float | None = None
        self.key_invalid = False

    def __call__(self, body: Any) -> http.ErrorInfo:
        error = _error_object(body)
        if error is None:
            return http.openai_error(body)
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
                match = _DURATION.fullmatch(str(detail.get("retryDelay", "")))
                if match:
                    self.retry_after = float(match[1])
            if isinstance(detail, dict) and detail.get("reason") == "API_KEY_INVALID":
                self.key_invalid = True
        status = error.get("status")
        code = _ERROR_CODES.get(status, status.lower()) if isinstance(status, str) else None
        message = error.get("message")
        return http.ErrorInfo(message if isinstance(message, str) else None, code)

    def apply(self, exc: UpstreamError, target: Target) -> UpstreamError:
        if self.key_invalid:
            return upstream_error(target.provider_name, 401, "the provider rejected the configured API key.",
                                  secrets=target.secrets)
        if exc.retry_after is None and self.retry_after is not None:
            exc.retry_after = self.retry_after
            exc.headers["retry-after"] = str(max(1, round(self.retry_after)))
        return exc


def _stream_error(error: dict[str, Any], target: Target) -> UpstreamError:
    reader = ErrorReader()
    info = reader({"error": error})
    status = error.get("code")
    exc = upstream_error(target.provider_name, status if isinstance(status, int) else 500, info.message,
                         code=info.code, secrets=target.secrets)
    return reader.apply(exc, target)


class GeminiProvider(Provider):
    type_name = "gemini"
    chat_params: ClassVar[ParamTable] = GENERATION_PARAMS

    def url(self, target: Target, method: str) -> str:
        base = target.config.api_base or f"{DEFAULT_HOST}/{target.option('api_version', DEFAULT_API_VERSION)}"
        model = quote(target.model.removeprefix("models/"), safe="-._~")
        return f"{base.rstrip('/')}/models/{model}:{method}"

    def headers(self, target: Target) -> dict[str, str]:
        headers = dict(target.config.headers)
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        return headers

    async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
        body = build_body(request, target.model, ctx)
        reader = ErrorReader()
        try:
            content = await http.post(target, self.url(target, "generateContent"), body, self.headers(target),
                                      parse_error=reader)
        except UpstreamError as exc:
            raise reader.apply(exc, target) from None
        return chat_completion(http.parse_json(content, target), target.model)

    async def chat_stream(
        self, request: ChatCompletionRequest, target: Target, ctx: CallContext
    ) -> AsyncIterator[JSONBody]:
        body = build_body(request, target.model, ctx)
        translator = StreamTranslator(target.model, include_usage=request.wants_usage_chunk)
        url = self.url(target, "streamGenerateContent") + "?alt=sse"
        reader = ErrorReader()
        try:
            async with http.stream(target, url, body, self.headers(target), parse_error=reader) as response:
                async for _event, data in http.sse_events(response, target):
                    parsed = http.parse_json(data, target)
                    error = _error_object(parsed)
                    if error is not None:
                        raise _stream_error(error, target)
                    for chunk in translator.translate(parsed):
                        yield chunk
        except UpstreamError as exc:
            raise reader.apply(exc, target) from None
        for chunk in translator.end():
            yield chunk
