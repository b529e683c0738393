"""What a limits store does, whatever holds it (DynamoDB deployed, SQLite for ``lambdagate serve``).

One *subject* (a key or a team) has one record per budget window, holding its spend, requests and
tokens in that window, and the request and token counters of the current minute. Admission is one
atomic conditional update of that record: the minute's counters are incremented (the tokens by an
estimate) only if the rpm and tpm limits and the budget all hold, all in one step, so no two
instances can both take the last request of a minute (no read-modify-write). After the request,
the *settlement* adds its real cost and tokens and corrects the minute's token count by the
difference between the real tokens and the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

from lambdagate.config.schema import Team
from lambdagate.limits.windows import BudgetWindow

LimitName = Literal["rpm", "tpm", "budget"]


class _Record:
    """A small value object: fields in ``__slots__``, set once by keyword or position.

    Plain classes rather than dataclasses: defining a frozen, slotted dataclass costs about 2 ms at
    import on the development machine (several times that at a Lambda's CPU share), eight of them here.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self._fields
        values = {**self._defaults, **dict(zip(names, args, strict=False)), **kwargs}
        for name in names:
            object.__setattr__(self, name, values[name])

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self._fields))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({fields})"


class Subject(_Record):
    """A key (by the sha256 of the key) or a team (by name), with its limits."""

    _fields: ClassVar[tuple[str, ...]] = ("kind", "id", "name", "rpm", "tpm", "max_budget", "budget_duration")
    __slots__ = ("budget_duration", "id", "kind", "max_budget", "name", "rpm", "tpm")
    _defaults: ClassVar[dict[str, Any]] = {"rpm": None, "tpm": None, "max_budget": None, "budget_duration": None}
    kind: Literal["key", "team"]
    id: str
    name: str
    rpm: int | None
    tpm: int | None
    max_budget: Decimal | None
    budget_duration: str | None

    @property
    def pk(self) -> str:
        return f"{self.kind}#{self.id}"

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.name}'"

    @property
    def per_minute(self) -> bool:
        return self.rpm is not None or self.tpm is not None


class Claim(_Record):
    """One request's claim on one subject: the minute and budget window it falls in, its token estimate."""

    _fields: ClassVar[tuple[str, ...]] = ("subject", "minute", "window", "tokens")
    __slots__ = ("minute", "subject", "tokens", "window")
    subject: Subject
    minute: int
    window: BudgetWindow
    tokens: int


class Refusal(Exception):
    """A limit of ``claim.subject`` does not hold (raised by :meth:`LimitStore.admit`, nothing recorded)."""

    def __init__(self, claim: Claim, limit: LimitName, used: Decimal | int) -> None:
        super().__init__(f"{claim.subject.label}: {limit} reached")
        self.claim = claim
        self.limit: LimitName = limit
        self.used = used


class Grant(_Record):
    """An admission recorded in the store; ``stale``: old minute counters its settlement may drop."""

    _fields: ClassVar[tuple[str, ...]] = ("claim", "stale")
    __slots__ = ("claim", "stale")
    _defaults: ClassVar[dict[str, Any]] = {"stale": ()}
    claim: Claim
    stale: tuple[str, ...]


class Settlement(_Record):
    """What a finished request adds to a subject's window.

    ``minute_delta``: real tokens minus the estimate, for the admission's minute (None once that
    minute is over). ``count_request``: count the request in the window too (spend tracked for a
    subject that had no admission).
    """

    _fields: ClassVar[tuple[str, ...]] = ("claim", "tokens", "cost", "minute_delta", "count_request", "stale")
    __slots__ = ("claim", "cost", "count_request", "minute_delta", "stale", "tokens")
    _defaults: ClassVar[dict[str, Any]] = {"minute_delta": None, "count_request": False, "stale": ()}
    claim: Claim
    tokens: int
    cost: Decimal
    minute_delta: int | None
    count_request: bool
    stale: tuple[str, ...]


class WindowUsage(_Record):
    _fields: ClassVar[tuple[str, ...]] = ("window", "requests", "tokens", "spend")
    __slots__ = ("requests", "spend", "tokens", "window")
    _defaults: ClassVar[dict[str, Any]] = {"requests": 0, "tokens": 0, "spend": Decimal(0)}
    window: str
    requests: int
    tokens: int
    spend: Decimal


class SubjectUsage(_Record):
    """A subject's counters now: its current budget window and minute, and its earlier windows."""

    _fields: ClassVar[tuple[str, ...]] = ("current", "minute_requests", "minute_tokens", "history")
    __slots__ = ("current", "history", "minute_requests", "minute_tokens")
    _defaults: ClassVar[dict[str, Any]] = {"minute_requests": 0, "minute_tokens": 0, "history": ()}
    current: WindowUsage
    minute_requests: int
    minute_tokens: int
    history: Sequence[WindowUsage]


class LimitStore(Protocol):
    blocking: bool
    """Calls wait on the network or a file lock: the gateway runs them in a thread."""

    def admit(self, claim: Claim, now: float) -> Grant:
        """Count the request if every limit of the claim's subject holds; :class:`Refusal` if one does not.

        Raises :class:`~lambdagate.limits.errors.StoreError` when the store cannot answer.
        """
        ...

    def undo(self, grant: Grant) -> None:
        """Take back an admission (another subject of the same request refused it)."""
        ...

    def settle(self, settlement: Settlement) -> None:
        ...

    def team(self, name: str) -> Team | None:
        ...

    def put_team(self, team: Team) -> None:
        ...

    def delete_team(self, name: str) -> bool:
        ...

    def teams(self) -> list[Team]:
        ...

    def usage(self, subject: Subject, now: float) -> SubjectUsage:
        ...


__all__ = ["Claim", "Grant", "LimitName", "LimitStore", "Refusal", "Settlement", "Subject", "SubjectUsage",
           "WindowUsage"]
