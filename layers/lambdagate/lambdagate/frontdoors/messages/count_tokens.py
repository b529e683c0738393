"""The ``count_tokens`` door as :func:`lambdagate.api.doors.load_door` imports a door: this module's ``DOOR``."""

from lambdagate.frontdoors.messages.door import COUNT_TOKENS as DOOR

__all__ = ["DOOR"]
