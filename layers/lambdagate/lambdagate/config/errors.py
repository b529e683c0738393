"""The two ways configuration cannot answer: a secret reference that does not resolve, and a store
that cannot be read.

They live apart from the modules that raise them so that ``secrets`` (the references) and the SSM
modules (the store, the cache) can each import them without importing one another.
"""

from __future__ import annotations

from lambdagate.errors import ProviderNotConfigured


class SecretUnavailable(LookupError):
    """A secret reference that cannot be resolved (unset variable, missing parameter).

    The message names the reference (``env:OPENAI_API_KEY``), never a value.
    """


class ConfigUnavailable(ProviderNotConfigured):
    """SSM could not be read and no earlier value is cached: the gateway cannot answer for now.

    A 503 like :class:`ProviderNotConfigured` (whose subclass it is, so the router tries another
    deployment whose provider is cached), never a 500. The message names no parameter.
    """

    code = "config_unavailable"

    def __init__(self, message: str = "The gateway configuration could not be read; try again shortly.") -> None:
        super().__init__(message, headers={"retry-after": "1"})


__all__ = ["ConfigUnavailable", "SecretUnavailable"]
