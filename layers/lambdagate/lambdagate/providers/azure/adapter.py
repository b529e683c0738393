"""Azure OpenAI: the ``openai`` passthrough with Azure's URL layout, ``api-version`` and auth.

Built against the Azure OpenAI data-plane inference REST reference: the dated GA api-version
``2024-10-21`` (the default here; later dated versions are previews) and the v1 API (GA since
August 2025: ``/openai/v1/...``, no ``api-version``, the deployment name sent as ``model``).

- URL: ``{api_base}/openai/deployments/{deployment}/chat/completions?api-version=...`` (and
  ``/completions``, Azure has native text completions). ``api_version: v1``, or an ``api_base``
  ending in ``/openai/v1``, selects the v1 path instead.
- Deployment: the ``deployment`` option, else the model name. A direct name
  ``azure/<model>/<deployment>`` reaches the adapter as ``<model>/<deployment>`` and is split.
- Auth: the provider's ``api_key`` is sent as the ``api-key`` header; with ``auth: entra`` it is
  sent as a Microsoft Entra ID bearer token (``Authorization: Bearer``). Either way it is a
  secret reference (``env:``/``ssm:``) resolved by the config store and scrubbed from errors.
  Entra tokens expire after about an hour, so whatever writes that variable or parameter must
  refresh it.

Bodies pass through as bytes, Azure's extras (``prompt_filter_results``,
``content_filter_results``) included. Two kinds of Azure stream chunk are not valid OpenAI
chunks and are the only ones parsed: the prompt-filter report (``object: ""``, no choices),
which is dropped, and the asynchronous-filter annotations (choices without ``delta``), which get
an empty delta. Azure's error body is OpenAI's shape (content filter: 400 ``content_filter``;
429 with ``Retry-After``); its numeric codes (``"429"``) become OpenAI's code names.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from lambdagate.errors import InvalidRequest, ProviderNotConfigured
from lambdagate.providers import http
from lambdagate.providers.base import JSONBody, RawJSON, Target
from lambdagate.providers.openai.adapter import OpenAIProvider, stream_error
from lambdagate.types import _Request

DEFAULT_API_VERSION = "2024-10-21"
V1 = "v1"
AUTH_MODES = ("api-key", "entra")

# Azure deployment names: letters, digits, '-', '_', '.'; a client-sent direct name must not be
# able to climb out of /deployments/ with '..' or a slash.
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The two Azure-only stream chunks (see module docstring); every other chunk is forwarded as is.
_AZURE_ONLY_CHUNK = re.compile(r'"object"\s*:\s*""|"content_filter_offsets"')
_NUMERIC_CODES = {"429": "rate_limit_exceeded", "408": "timeout", "500": "server_error"}


def model_and_deployment(target: Target) -> tuple[str, str]:
    """``(model, deployment)`` of a routed target; the deployment is validated for the URL path."""
    model, sep, deployment = target.model.partition("/")
    if not (sep and deployment):
        model, deployment = target.model, target.option("deployment") or target.model
    if not _DEPLOYMENT.match(deployment):
        raise InvalidRequest(f"'{deployment}' is not a valid Azure OpenAI deployment name.", param="model")
    return model, deployment


def azure_error(body: Any) -> http.ErrorInfo:
    """OpenAI's error shape, with Azure's HTTP-status codes turned into OpenAI's code names."""
    info = http.openai_error(body)
    if info.code is not None and info.code.isdigit():
        return http.ErrorInfo(info.message, _NUMERIC_CODES.get(info.code), info.param)
    return info


def repair_chunk(data: str, kind: str) -> bytes | None:
    """The chunk's bytes, valid as an OpenAI chunk of ``kind``; None when it carries no choice."""
    if not _AZURE_ONLY_CHUNK.search(data):
        return data.encode()
    chunk = json.loads(data)
    choices = chunk.get("choices") or []
    if not choices and not chunk.get("usage"):
        return None
    chunk["object"] = kind
    if kind == "chat.completion.chunk":
        for choice in choices:
            choice.setdefault("delta", {})
    return http.encode(chunk)


class AzureOpenAIProvider(OpenAIProvider):
    type_name = "azure"

    def _v1(self, target: Target) -> bool:
        return target.option("api_version") == V1 or (target.config.api_base or "").rstrip("/").endswith("/openai/v1")

    def headers(self, target: Target) -> dict[str, str]:
        headers = dict(target.config.headers)
        auth = target.option("auth", "api-key")
        if auth not in AUTH_MODES:
            raise ProviderNotConfigured(
                f"The provider '{target.provider_name}' has auth '{auth}'; use one of {', '.join(AUTH_MODES)}."
            )
        if target.api_key:
            if auth == "entra":
                headers["authorization"] = f"Bearer {target.api_key}"
            else:
                headers["api-key"] = target.api_key
        return headers

    def url(self, target: Target, path: str) -> str:
        base = (target.config.api_base or "").rstrip("/")
        if not base:
            raise ProviderNotConfigured(
                f"The provider '{target.provider_name}' needs api_base (https://<resource>.openai.azure.com)."
            )
        base = base.removesuffix("/openai/v1").removesuffix("/openai")
        if self._v1(target):
            return f"{base}/openai/v1{path}"
        _model, deployment = model_and_deployment(target)
        version = quote(str(target.option("api_version") or DEFAULT_API_VERSION), safe="")
        return f"{base}/openai/deployments/{deployment}{path}?api-version={version}"

    def body(self, request: _Request, target: Target, *, stream: bool) -> dict[str, Any]:
        body = super().body(request, target, stream=stream)
        model, deployment = model_and_deployment(target)
        # The v1 API routes on ``model`` (the deployment); the dated API routes on the path.
        body["model"] = deployment if self._v1(target) else model
        return body

    async def _post(self, request: _Request, target: Target, path: str) -> JSONBody:
        content = await http.post(
            target, self.url(target, path), self.body(request, target, stream=False), self.headers(target),
            parse_error=azure_error,
        )
        return RawJSON(content)

    async def _stream(self, request: _Request, target: Target, path: str) -> AsyncIterator[JSONBody]:
        kind = "chat.completion.chunk" if path == "/chat/completions" else "text_completion"
        url, body, headers = self.url(target, path), self.body(request, target, stream=True), self.headers(target)
        async with http.stream(target, url, body, headers, parse_error=azure_error) as response:
            async for _event, data in http.sse_events(response, target):
                if data == "[DONE]":
                    return
                if data.startswith('{"error"'):
                    raise stream_error(data, target)
                chunk = repair_chunk(data, kind)
                if chunk is not None:
                    yield RawJSON(chunk)
