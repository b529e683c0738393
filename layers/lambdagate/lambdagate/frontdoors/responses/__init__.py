"""OpenAI's Responses API as a front door (``POST /v1/responses``): see :mod:`.door`."""

from lambdagate.frontdoors.responses.door import DOOR, ResponsesDoor

__all__ = ["DOOR", "ResponsesDoor"]
