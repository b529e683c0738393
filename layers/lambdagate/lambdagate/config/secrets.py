"""Secret references in configuration: ``env:NAME`` or ``ssm:/path`` (a SecureString).

Configuration never holds a secret itself; it names where the secret lives, so a config file can
be committed and printed, and a secret is read only when a request needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lambdagate.config.errors import SecretUnavailable

SsmReader = Callable[[str], str]


def resolve_secret(reference: str | None, ssm_reader: SsmReader | None = None) -> str | None:
    """The secret a reference points to; plain strings are returned as they are.

    ``ssm:`` references are read with ``ssm_reader``, by default the process-wide parameter cache
    (imported only then: it is where boto3 comes in).
    """
    if reference is None:
        return None
    if reference.startswith("env:"):
        name = reference[4:]
        value = os.environ.get(name)
        if not value:
            raise SecretUnavailable(f"environment variable {name} is not set")
        return value
    if reference.startswith("ssm:"):
        if ssm_reader is None:
            from lambdagate.config.ssm_cache import read_secure_parameter

            ssm_reader = read_secure_parameter
        try:
            return ssm_reader(reference[4:])
        except SecretUnavailable:
            raise
        except Exception as exc:  # any SSM failure means the same thing to the caller
            raise SecretUnavailable(f"SSM parameter {reference[4:]} could not be read") from exc
    return reference


__all__ = ["SecretUnavailable", "SsmReader", "resolve_secret"]
