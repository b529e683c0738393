"""Routing: a model name -> deployments (weights), attempts with retries, then fallbacks."""

from lambdagate.router.routing import Router

__all__ = ["Router"]
