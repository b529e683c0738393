"""Environment variables the request path reads, read once per process as Powertools reads its own.

Every request asks a few switches (the auth mode, whether logging and metrics are on, the EMF
namespace). ``os.environ.get`` encodes the name, looks it up and decodes the value, and raises and
catches a ``KeyError`` for a variable that is not set: measured under load, those reads were about
2% of a buffered request's CPU. A function's environment cannot change while it runs (a new value is
a new deployment, hence new environments), so a value is read on first use and kept.

:func:`refresh` forgets what was read: for tests that change the environment, and called by
:func:`lambdagate.observability.powertools.reset`. Values that do change per invocation (the X-Ray
trace id Lambda sets for each one) are not read through here.
"""

from __future__ import annotations

import os

_values: dict[str, str | None] = {}


def read(name: str) -> str | None:
    """``os.environ.get(name)``, as it was the first time the process asked."""
    try:
        return _values[name]
    except KeyError:
        value = _values[name] = os.environ.get(name)
        return value


def refresh() -> None:
    """Read every variable again on its next use."""
    _values.clear()
