"""The OpenAI type's answers: forwarded as the upstream's bytes once they are known to be usable.

The body was parsed by the shared reader (it had to be a JSON object, and not an error object
under a 200); here it must also be a completion, with its ``choices`` list, or the SDK on the
client side would fail on it.
"""

from __future__ import annotations

from lambdagate.providers import http
from lambdagate.providers.base import Target
from lambdagate.wire import RawJSON


def completion(reply: http.Reply, target: Target) -> RawJSON:
    if not isinstance(reply.value.get("choices"), list):
        raise http.bad_answer(target, "an object that is not a completion")
    return RawJSON(reply.content, value=reply.value)


def has_error(value: object) -> bool:
    """An OpenAI-compatible server's error object sent with a 200."""
    return http.is_error_event("", value)
