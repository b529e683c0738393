"""Anthropic's Messages API as a front door (``POST /v1/messages``, ``/v1/messages/count_tokens``): see :mod:`.door`."""

from lambdagate.frontdoors.messages.door import COUNT_TOKENS, DOOR, CountTokensDoor, MessagesDoor

__all__ = ["COUNT_TOKENS", "DOOR", "CountTokensDoor", "MessagesDoor"]
