"""Mangum's handler for HTTP API and function URL events, with the ASGI scope built once an invocation.

Mangum's ``HTTPGateway`` builds the scope from the event in a property: once for the request,
and once more when it turns the app's response into the Lambda result, only to read the event's
payload version there. The second build (headers lowered and encoded, the path stripped) was
about 1% of a buffered request's CPU on the development machine; this handler keeps the first.
Everything else is Mangum's own: it is registered through Mangum's ``custom_handlers``, which
are asked before its built-in handlers, and infers the same events ``HTTPGateway`` does.
"""

from __future__ import annotations

from mangum.handlers import HTTPGateway
from mangum.types import Scope


class OneScopeHTTPGateway(HTTPGateway):
    """``HTTPGateway`` whose scope is built on first use and then kept for the invocation.

    Kept by hand rather than by ``functools.cached_property``, whose lock (Python 3.11; 3.12
    dropped it) cost about as much as the build it saved.
    """

    _scope: Scope | None = None

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            self._scope = super().scope
        return self._scope
