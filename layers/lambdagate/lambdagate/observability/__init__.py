"""Request logs and metrics: what happened to each request, never a key or (unless asked) a prompt."""

from lambdagate.observability.record import RequestRecord
from lambdagate.observability.records import record_request, usage_of

__all__ = ["RequestRecord", "record_request", "usage_of"]
