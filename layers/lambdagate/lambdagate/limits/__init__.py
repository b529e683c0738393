"""Per-key and per-team rate limits, budgets and spend, enforced across every instance.

The gateway calls three things (``api/gateway.py``, ``api/responses.py``):

- :meth:`Limits.check_key` when a key is authenticated: a disabled or expired key is a 401 (no I/O);
- :meth:`Limits.admit` before the router calls a provider: for a key with limits (its own or its
  team's) one conditional update per limited subject, run together, so the request waits for one
  store round trip; for a key without limits, nothing (its team's record, when it has one, comes
  from a per-instance cache). A limit reached is a 429, a store failure follows ``on_store_error``;
- at the end, the request's :class:`RequestAccounting`: its cost from the real usage
  (``x-lambdagate-cost-usd``, the log line, the metrics), then the settlement (real cost and tokens
  into the store) after the answer: a background task of the JSON response, the end of the relay
  for a stream.

The store is chosen like the config store: ``$LAMBDAGATE_LIMITS`` or ``settings.limits.store``:
``dynamodb:TABLE`` (the template's table), ``sqlite:PATH`` or ``memory`` (the default).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from lambdagate.config.schema import KeyRecord, LimitsSettings, PriceOverride, Team
from lambdagate.cost import Tokens, cost_of, format_usd, resolve_price, vendor_of
from lambdagate.limits.errors import KeyInactive, LimitsUnavailable, StoreError
from lambdagate.observability.records import usage_of
from lambdagate.providers.presets import PRESETS
from lambdagate.wire import RawJSON

# The store's types, windows and prices are imported where a request first needs them: a key
# without limits imports none of them (their dataclasses cost milliseconds at a Lambda's CPU share).
if TYPE_CHECKING:
    from starlette.responses import Response

    from lambdagate.config.store import ConfigStore
    from lambdagate.cost.prices import Price
    from lambdagate.limits.store import Claim, Grant, LimitStore, Refusal, Settlement, Subject
    from lambdagate.observability.record import RequestRecord
    from lambdagate.wire import JSONBody

logger = logging.getLogger("lambdagate.limits")

LIMITS_ENV = "LAMBDAGATE_LIMITS"
COST_HEADER = "x-lambdagate-cost-usd"
T = TypeVar("T")

_CURRENT: ContextVar[RequestAccounting | None] = ContextVar("lambdagate_accounting", default=None)
_PENDING: set[asyncio.Future[Any]] = set()
_EMPTY_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')


def open_store(spec: str) -> LimitStore:
    """``dynamodb:TABLE`` | ``sqlite:PATH`` | ``memory`` -> the store."""
    kind, _, where = spec.partition(":")
    if kind == "dynamodb" and where:
        from lambdagate.limits.dynamodb import DynamoDBStore

        return DynamoDBStore(where)
    if kind == "sqlite" and where:
        from lambdagate.limits.sqlite import SqliteStore

        return SqliteStore(where)
    if spec in ("memory", "sqlite::memory:"):
        from lambdagate.limits.sqlite import SqliteStore

        return SqliteStore(":memory:")
    raise StoreError(f"unknown limits store {spec!r}: use dynamodb:TABLE, sqlite:PATH or memory")


def estimate_tokens(body_bytes: int, body: Any) -> int:
    """What a request may use, before it is sent: its bytes / 4 (OpenAI's rule of thumb for the
    prompt), plus the output it allows (``max_tokens`` per choice); the settlement corrects it."""
    limit = (getattr(body, "output_token_limit", None) or getattr(body, "max_tokens", None)
             or getattr(body, "max_output_tokens", None) or 0)
    choices = (getattr(body, "n", None) or 1) * (getattr(body, "best_of", None) or 1)
    return -(-body_bytes // 4) + limit * choices


def is_usage_chunk(chunk: JSONBody) -> bool:
    """OpenAI's final usage chunk: ``"choices": []`` with a ``usage`` object."""
    if isinstance(chunk, RawJSON):
        return _EMPTY_CHOICES.search(chunk.data) is not None and usage_of(chunk) is not None
    return chunk.get("choices") == [] and isinstance(chunk.get("usage"), dict)


def key_subject(key: KeyRecord) -> Subject:
    from lambdagate.limits.store import Subject

    return Subject("key", key.sha256, key.name, key.rpm, key.tpm, key.max_budget, key.budget_duration)


def team_subject(team: Team) -> Subject:
    from lambdagate.limits.store import Subject

    return Subject("team", team.name, team.name, team.rpm, team.tpm, team.max_budget, team.budget_duration)


def _limited(team: Team) -> bool:
    return team.rpm is not None or team.tpm is not None or team.max_budget is not None


class Limits:
    """The limits of one app: its config store (keys, settings, prices) and its limits store."""

    def __init__(self, config: ConfigStore, *, store: LimitStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._store = store
        self._spec: str | None = None
        self._teams: dict[str, tuple[Team | None, float]] = {}
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            # Lambda init (and SnapStart's snapshot) pays for the price table and the store's client,
            # not the first request.
            import lambdagate.cost.prices  # noqa: F401

            if store is None and os.environ.get(LIMITS_ENV, "").startswith("dynamodb:"):
                prepare = getattr(self.store(), "prepare", None)
                if prepare is not None:
                    prepare()

    # --- configuration ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget cached teams and the store's connections (after a SnapStart restore)."""
        self._teams.clear()
        reset = getattr(self._store, "reset", None)
        if reset is not None:
            reset()

    def settings(self) -> LimitsSettings:
        return self.config.settings().limits

    def store(self) -> LimitStore:
        if self._store is not None and self._spec is None:
            return self._store  # given by the caller (tests, benchmarks)
        spec = os.environ.get(LIMITS_ENV) or self.settings().store or "memory"
        if self._store is None or spec != self._spec:
            self._store, self._spec = open_store(spec), spec
        return self._store

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        if self.store().blocking:
            return await asyncio.to_thread(call, *args)
        return call(*args)

    # --- the request path --------------------------------------------------------------------------

    def check_key(self, key: KeyRecord) -> None:
        """A disabled or expired key is a 401, before anything else is done for it."""
        if key.disabled:
            raise KeyInactive("This API key has been disabled.")
        if key.expires_at is not None:
            expires = key.expires_at if key.expires_at.tzinfo else key.expires_at.replace(tzinfo=UTC)
            if expires.timestamp() <= self.clock():
                raise KeyInactive("This API key has expired.")

    async def team(self, name: str) -> Team | None:
        """The team's record, from the store at most once per ``team_cache_seconds`` per instance."""
        cached = self._teams.get(name)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            team = await self._run(self.store().team, name)
        except StoreError:
            raise
        except Exception as exc:  # a record that does not parse, say: the store's problem, never a 500
            raise StoreError(f"team {name!r}: {type(exc).__name__}: {exc}") from None
        self._teams[name] = (team, now + self.settings().team_cache_seconds)
        return team

    async def admit(self, key: KeyRecord, body: Any, body_bytes: int, record: RequestRecord) -> RequestAccounting:
        """Admit the request under the key's and its team's limits, or raise the 429/401/503.

        ``body`` is the typed request: chat, completions, or a front door's (which reads its own usage).
        """
        accounting = RequestAccounting(self, key, client_usage=getattr(body, "wants_usage_chunk", True))
        _CURRENT.set(accounting)
        record.team = key.team
        settings = self.settings()
        subjects = [key_subject(key)] if key.limited else []
        try:
            if key.team is not None:
                team = await self.team(key.team)
                if team is None or team.disabled:
                    raise KeyInactive(f"The team '{key.team}' of this API key "
                                      f"{'does not exist' if team is None else 'has been disabled'}.")
                accounting.team_record = team
                if _limited(team):
                    subjects.append(team_subject(team))
        except StoreError as exc:
            self._store_failed(record, settings, exc)
        if not subjects:
            return accounting
        from lambdagate.limits.store import Claim
        from lambdagate.limits.windows import budget_window, minute_of

        now = self.clock()
        tokens = estimate_tokens(body_bytes, body)
        minute = minute_of(now)
        claims = [Claim(s, minute, budget_window(s.budget_duration, now), tokens) for s in subjects]
        accounting.grants = await self._admit_all(claims, now, record, settings)
        return accounting

    async def _admit_all(self, claims: list[Claim], now: float, record: RequestRecord,
                         settings: LimitsSettings) -> list[Grant]:
        from lambdagate.limits.store import Grant, Refusal

        try:
            store = self.store()
        except StoreError as exc:  # it cannot even be opened: a store failure like any other
            self._store_failed(record, settings, exc)
            return []
        if len(claims) == 1:
            results: list[Any] = [await self._attempt(store, claims[0], now)]
        else:  # a key and its team: both conditional updates at once, one round trip of waiting
            results = list(await asyncio.gather(*(self._attempt(store, claim, now) for claim in claims)))
        grants = [r for r in results if isinstance(r, Grant)]
        refusals = [r for r in results if isinstance(r, Refusal)]
        failures = [r for r in results if isinstance(r, StoreError)]
        if refusals or (failures and settings.on_store_error == "closed"):
            # Take back what the other subject counted: a refused request uses no one's limits.
            await asyncio.gather(*(self._quietly(store.undo, grant) for grant in grants))
        if refusals:
            refusal = min(refusals, key=lambda r: ("budget", "rpm", "tpm").index(r.limit))
            record.limited = f"{refusal.claim.subject.kind}.{refusal.limit}"
            raise _refusal_error(refusal, now)
        if failures:
            self._store_failed(record, settings, failures[0])
        return grants

    async def _attempt(self, store: LimitStore, claim: Claim, now: float) -> Grant | Refusal | StoreError:
        from lambdagate.limits.store import Refusal

        try:
            return await self._run(store.admit, claim, now)
        except Refusal as refusal:
            return refusal
        except StoreError as exc:
            return exc
        except Exception as exc:  # whatever the store raised, never a 500
            return StoreError(f"{type(exc).__name__}: {exc}")

    async def _quietly(self, call: Callable[..., Any], *args: Any) -> bool:
        try:
            await self._run(call, *args)
            return True
        except Exception as exc:
            logger.warning("limits store: %s failed: %s", getattr(call, "__name__", "call"), exc)
            return False

    def _store_failed(self, record: RequestRecord, settings: LimitsSettings, exc: Exception) -> None:
        record.limits_error = True
        logger.warning("limits store unavailable (%s): %s", settings.on_store_error, exc)
        if settings.on_store_error == "closed":
            raise LimitsUnavailable("The gateway cannot check this key's limits right now; please retry shortly.",
                                    headers={"retry-after": "1"})

    async def finish(self, record: RequestRecord, response: Response) -> Response:
        """The end of a buffered request: cost header, record fields, settlement after the answer.

        Not called for a stream's response: the relay finishes the stream's accounting when it
        ends (:meth:`RequestAccounting.trailer`, read from this request's context).
        """
        accounting = _CURRENT.get()
        if accounting is None:
            return response
        _CURRENT.set(None)
        accounting.finish(record)
        if accounting.cost_text is not None and response.status_code < 400:
            response.headers[COST_HEADER] = accounting.cost_text
        if accounting.settlements:
            from starlette.background import BackgroundTasks

            tasks = BackgroundTasks()
            if response.background is not None:
                tasks.add_task(response.background)
            tasks.add_task(accounting.flush)
            response.background = tasks
        return response

    @staticmethod
    def current() -> RequestAccounting | None:
        """The accounting of the request being served (set by :meth:`admit`)."""
        return _CURRENT.get()

    async def write(self, settlements: list[Settlement]) -> None:
        store = self.store()
        results = await asyncio.gather(*(self._quietly(store.settle, s) for s in settlements))
        if not all(results):
            from lambdagate.observability import powertools

            if powertools.metrics_enabled():
                from lambdagate.observability.metrics import emit_limit_store_error

                emit_limit_store_error("settle")

    # --- prices ------------------------------------------------------------------------------------

    def price(self, alias: str | None, provider: str, model: str) -> Price | None:
        try:
            config = self.config.provider(provider)
        except Exception:
            config = None
        provider_type = (config.type if config is not None else None) or provider
        api_base = config.api_base if config is not None else None
        if (preset := PRESETS.get(provider_type)) is not None:
            provider_type, api_base = preset.adapter, api_base or preset.api_base
        return resolve_price(vendor_of(provider_type, api_base, provider), model,
                             self._override(alias, provider, model))

    def _override(self, alias: str | None, provider: str, model: str) -> PriceOverride | None:
        if not alias:
            return None
        settings = self.config.settings()
        aliases = [alias]
        for table in (settings.fallbacks, settings.context_window_fallbacks, settings.content_policy_fallbacks):
            aliases += table.get(alias, [])
        for name in aliases:
            for deployment in self.config.deployments(name) or ():
                if deployment.provider == provider and deployment.model == model:
                    return deployment.price
        return None

    def cost(self, record: RequestRecord) -> Decimal | None:
        """The request's cost from its recorded usage, or None (no usage, or no price known)."""
        if record.provider is None or record.upstream_model is None:
            return None
        if record.prompt_tokens is None and record.completion_tokens is None:
            return None
        price = self.price(record.model, record.provider, record.upstream_model)
        if price is None:
            return None
        return cost_of(Tokens(record.prompt_tokens or 0, record.completion_tokens or 0, record.cached_tokens or 0,
                              record.cache_write_tokens or 0, record.audio_prompt_tokens or 0,
                              record.audio_completion_tokens or 0), price)


def _refusal_error(refusal: Refusal, now: float) -> Exception:
    from lambdagate.limits.errors import QuotaExceeded, RateLimited
    from lambdagate.limits.windows import seconds_to_next_minute

    claim = refusal.claim
    subject = claim.subject
    if refusal.limit == "budget":
        return QuotaExceeded(
            f"The budget of {subject.label} is used up: ${format_usd(Decimal(refusal.used))} spent of "
            f"${format_usd(subject.max_budget or Decimal(0))} ({claim.window.describe()}).")
    wait = seconds_to_next_minute(now)
    if refusal.limit == "rpm":
        return RateLimited(
            f"Rate limit reached for {subject.label} on requests per min (RPM): Limit {subject.rpm}, "
            f"Used {refusal.used}, Requested 1. Please try again in {wait:.0f}s.", kind="rpm", retry_after=wait)
    return RateLimited(
        f"Rate limit reached for {subject.label} on tokens per min (TPM): Limit {subject.tpm}, "
        f"Used {refusal.used}, Requested {claim.tokens}. Please try again in {wait:.0f}s.", kind="tpm",
        retry_after=wait)


class RequestAccounting:
    """One request's limits and cost: what admission recorded, and what its end settles."""

    def __init__(self, limits: Limits, key: KeyRecord, *, client_usage: bool) -> None:
        self.limits = limits
        self.key = key
        self.client_usage = client_usage
        self.team_record: Team | None = None
        self.grants: list[Grant] = []
        self.settlements: list[Settlement] = []
        self.cost: Decimal | None = None
        self.cost_text: str | None = None
        self.done = False

    def hidden(self, chunk: JSONBody) -> bool:
        """Whether the relay must drop ``chunk``: the usage chunk the gateway asked for and the client did not."""
        return not self.client_usage and is_usage_chunk(chunk)

    def trailer(self, record: RequestRecord) -> bytes | None:
        """The stream's last comment before ``[DONE]``: its cost (a header can no longer be sent)."""
        self.finish(record)
        if self.cost_text is None:
            return None
        return f": {COST_HEADER}: {self.cost_text}\n\n".encode()

    def finish(self, record: RequestRecord) -> None:
        """The cost into the record, and the settlements to write (once)."""
        if self.done:
            return
        self.done = True
        try:
            self.cost = self.limits.cost(record)
        except Exception as exc:  # a price problem never fails a served request
            logger.warning("cost not computed: %s", exc)
        if self.cost is not None:
            record.cost_usd = float(self.cost)
            self.cost_text = format_usd(self.cost)
        if record.limited is not None:
            return
        try:
            track = self.limits.settings().track_spend
        except Exception:
            track = False
        if not self.grants and not track:
            return
        from lambdagate.limits.store import Claim, Settlement
        from lambdagate.limits.windows import budget_window, minute_of

        tokens = (record.prompt_tokens or 0) + (record.completion_tokens or 0)
        now = self.limits.clock()
        minute = minute_of(now)
        cost = self.cost or Decimal(0)
        settled = set()
        for grant in self.grants:
            claim = grant.claim
            delta = tokens - claim.tokens if claim.subject.per_minute and claim.minute == minute else None
            self.settlements.append(Settlement(claim, tokens, cost, delta, False, grant.stale))
            settled.add(claim.subject.kind)
        if track and record.provider is not None:
            subjects = [] if "key" in settled else [key_subject(self.key)]
            if self.team_record is not None and "team" not in settled:
                subjects.append(team_subject(self.team_record))
            for subject in subjects:
                claim = Claim(subject, minute, budget_window(subject.budget_duration, now), 0)
                self.settlements.append(Settlement(claim, tokens, cost, None, True))

    async def flush(self) -> None:
        """Write the settlements; the write goes on if the request is cancelled meanwhile."""
        if not self.settlements:
            return
        settlements, self.settlements = self.settlements, []
        task = asyncio.ensure_future(self.limits.write(settlements))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)
        await asyncio.shield(task)


__all__ = ["COST_HEADER", "LIMITS_ENV", "Limits", "RequestAccounting", "StoreError", "estimate_tokens",
           "is_usage_chunk", "open_store"]
