"""Azure OpenAI: the ``openai`` passthrough with Azure's URL layout, ``api-version`` and auth.

Built against the Azure OpenAI data-plane inference REST reference: the dated GA api-version
``2024-10-21`` (the default here; later dated versions are previews) and the v1 API (GA since
August 2025: ``/openai/v1/...``, no ``api-version``, the deployment name sent as ``model``).

- URL: ``{api_base}/openai/deployments/{deployment}/chat/completions?api-version=...`` (and
  ``/completions``, Azure has native text completions). ``api_version: v1``, or an ``api_base``
  ending in ``/openai/v1``, selects the v1 path instead.
- Deployment: the ``deployment`` option, else the model name. A direct name
  ``azure/<model>/<deployment>`` reaches the adapter as ``<model>/<deployment>`` and is split.
- Responses API (the ``/v1/responses`` front door's passthrough): always the v1 API,
  ``{api_base}/openai/v1/responses``, with the deployment sent as ``model``. Chat requests take
  it too where the model needs it (the ``api`` option, ``auto`` by default here: see
  :mod:`lambdagate.providers.openai.responses_api.route`).
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

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from lambdagate.errors import InvalidRequest, ProviderNotConfigured
from lambdagate.providers import http
from lambdagate.providers.azure.stream import StreamTranslator
from lambdagate.providers.base import Target
from lambdagate.providers.http_provider import UpstreamCall
from lambdagate.providers.openai.adapter import OpenAIProvider
from lambdagate.types import BaseRequest

DEFAULT_API_VERSION = "2024-10-21"
V1 = "v1"
AUTH_MODES = ("api-key", "entra")

# Azure deployment names: letters, digits, '-', '_', '.'; a client-sent direct name must not be
# able to climb out of /deployments/ with '..' or a slash.
_DEPLOYMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NUMERIC_CODES = {"429": "rate_limit_exceeded", "408": "timeout", "500": "server_error"}
# Azure's wording for a prompt over the context window, reported with OpenAI's code.
_CONTEXT_CODES = frozenset({"context_length_exceeded", "context_length_exceeded_error"})


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
    if info.code in _CONTEXT_CODES:
        return http.ErrorInfo(info.message, http.CONTEXT_LENGTH_EXCEEDED, info.param)
    return info


class AzureOpenAIProvider(OpenAIProvider):
    type_name = "azure"

    def parse_error(self, body: Any) -> http.ErrorInfo:
        return azure_error(body)

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

    def model(self, target: Target) -> str:
        # The v1 API routes on ``model`` (the deployment); the dated API routes on the path.
        model, deployment = model_and_deployment(target)
        return deployment if self._v1(target) else model

    def translator(self, request: BaseRequest, call: UpstreamCall, target: Target) -> StreamTranslator:
        return StreamTranslator(request)

    def responses_url(self, target: Target) -> str:
        # Azure serves the Responses API on the v1 API only: no deployment in the path, no api-version.
        return self.url(replace(target, options={**target.options, "api_version": V1}), "/responses")

    def responses_model(self, target: Target) -> str:
        return model_and_deployment(target)[1]

    def chat_api(self, target: Target) -> str:
        # Azure serves OpenAI's models, the reasoning ones that take tools only on /responses included.
        return str(target.option("api") or "auto")


__all__ = ["AzureOpenAIProvider", "azure_error", "model_and_deployment"]
