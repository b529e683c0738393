"""Small request transforms that several provider types share, written once.

Parameter tables (``params.py`` of each provider folder) point at these instead of keeping
their own copies; a helper belongs here as soon as a second provider needs it.
"""

from __future__ import annotations

from typing import Any

from lambdagate.providers.base import UNSET
from lambdagate.types import BaseRequest, ChatCompletionRequest


def stop_sequences(value: str | list[str]) -> Any:
    """OpenAI's ``stop`` (one string or a list) as a list, empty strings dropped.

    Providers refuse an empty stop sequence, and a list left empty means "no stop": the field is
    then left out (:data:`UNSET`) rather than sent as ``[]``.
    """
    stops = [value] if isinstance(value, str) else value
    return [s for s in stops if s] or UNSET


def chat_only(request: BaseRequest, provider_type: str) -> ChatCompletionRequest:
    """The request of a chat-only provider, typed as the chat request it always is.

    Without native text completions (``Capabilities.text_completions``), ``/v1/completions``
    reaches such a provider already turned into a chat request by :mod:`.text_completions`.
    """
    if not isinstance(request, ChatCompletionRequest):
        raise TypeError(f"the {provider_type} provider serves chat requests only")
    return request
