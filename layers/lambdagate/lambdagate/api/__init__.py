"""The HTTP layer: OpenAI routes, request parsing, JSON/SSE responses. It never sees provider formats."""

from lambdagate.api.app import create_app

__all__ = ["create_app"]
