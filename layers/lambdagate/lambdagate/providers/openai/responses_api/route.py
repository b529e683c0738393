"""Which upstream API answers a chat request: ``/chat/completions`` or ``/responses``.

The ``api`` option (provider or deployment) decides, per request:

- ``chat``: always ``/chat/completions``, as before (the default for every OpenAI-compatible
  server other than OpenAI itself: vLLM, Groq... may have no ``/responses``);
- ``responses``: always the Responses API, through the stateless bridge of this package;
- ``auto`` (the default for OpenAI's own API, Azure and Bedrock's OpenAI endpoint): chat, except
  a request with function tools for a model that takes tools only on the Responses API. Which
  models those are is learned from the upstream's 400 (OpenAI, 2026: "Function tools with
  reasoning_effort are not supported for <model> in /v1/chat/completions. To use function tools,
  use /v1/responses or set reasoning_effort to 'none'.") and configured by pattern
  (``responses_models: ["gpt-5.4*"]``). A model OpenAI serves on the Responses API only ("This
  model is only supported in v1/responses and not in v1/chat/completions.") is learned too, and
  then every chat request for it takes the bridge.

What is learned is kept per Lambda instance in a bounded module-level table (a new instance
learns again, at the cost of one refused call), keyed by provider and model. The request that
met the 400 is sent again at once through the bridge: the client never sees that refusal.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from lambdagate.errors import ProviderNotConfigured, UpstreamError
from lambdagate.providers.base import Target
from lambdagate.types import ChatCompletionRequest

API_CHOICES = ("chat", "responses", "auto")
MAX_LEARNED = 512
"""Models remembered per instance; the oldest is forgotten first (it is learned again if needed)."""

Need = Literal["tools", "all"]
"""What a learned model needs the Responses API for: requests with function tools, or every request."""

# Worded loosely on purpose: the sentence is the upstream's, and OpenAI, Azure and Bedrock phrase it
# with small differences ("function tools"/"function tool", "/v1/responses"/"the Responses API").
_TOOLS_NEED_RESPONSES = re.compile(
    r"function\s+tools?\b.*?\bnot\s+supported\b.*?(?:/responses\b|responses\s+api)", re.IGNORECASE | re.DOTALL
)
_ONLY_RESPONSES = re.compile(
    r"only\s+(?:be\s+used|available|supported)\s+(?:in|on|with|through)\s+(?:the\s+)?(?:/?v1/responses|responses\s+api)",
    re.IGNORECASE,
)

_learned: OrderedDict[tuple[str, str], Need] = OrderedDict()


@dataclass(frozen=True, slots=True)
class Route:
    """How one chat request goes upstream."""

    responses: bool
    """Through the Responses API (else ``/chat/completions``)."""
    learns: bool = False
    """A refusal of the chat call may teach that the model needs the Responses API (``auto`` only)."""
    reasoning_model: bool = False
    """The model is known to reason (learned from its refusal, or configured): ask for its encrypted reasoning."""


def _key(target: Target) -> tuple[str, str]:
    return target.provider_name, target.model


def _configured(target: Target) -> bool:
    patterns = target.option("responses_models") or ()
    if isinstance(patterns, str):
        patterns = (patterns,)
    # An Azure direct name is "<model>/<deployment>": either part may be what the pattern names.
    names = {target.model, *target.model.split("/")}
    return any(fnmatchcase(name, str(pattern)) for pattern in patterns for name in names)


def choose(api: str, request: ChatCompletionRequest, target: Target) -> Route:
    """The route of ``request`` under the ``api`` option's value."""
    if api == "chat":
        return Route(responses=False)
    if api == "responses":
        return Route(responses=True)
    if api != "auto":
        raise ProviderNotConfigured(
            f"The provider '{target.provider_name}' has api '{api}'; use one of {', '.join(API_CHOICES)}."
        )
    need = _learned.get(_key(target))
    if need == "all" or (request.tools and (need == "tools" or _configured(target))):
        return Route(responses=True, reasoning_model=True)
    return Route(responses=False, learns=True)


def needs_responses(error: UpstreamError, request: ChatCompletionRequest) -> Need | None:
    """What a chat refusal says the model needs the Responses API for, if that is what it says."""
    if error.upstream_status != 400:
        return None
    if _ONLY_RESPONSES.search(error.message):
        return "all"
    if request.tools and _TOOLS_NEED_RESPONSES.search(error.message):
        return "tools"
    return None


def learn(route: Route, error: UpstreamError, request: ChatCompletionRequest, target: Target) -> bool:
    """Remember the model when ``error`` (from the chat call of ``route``) says it needs the Responses API.

    True when it did, i.e. when the request is to be sent again through the bridge.
    """
    if not route.learns:
        return False
    need = needs_responses(error, request)
    if need is None:
        return False
    key = _key(target)
    _learned[key] = need
    _learned.move_to_end(key)
    while len(_learned) > MAX_LEARNED:
        _learned.popitem(last=False)
    return True


def forget() -> None:
    """Forget every learned model (tests; a SnapStart restore keeps what was learned, which stays true)."""
    _learned.clear()


__all__ = ["API_CHOICES", "MAX_LEARNED", "Route", "choose", "forget", "learn", "needs_responses"]
