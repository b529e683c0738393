"""From the ``model`` a client sent to the upstream attempt that answers it.

A model is an alias (one deployment or a weighted list) or a direct ``<provider>/<model>`` name.
Each attempt picks a deployment by weight, preferring ones that have not failed yet and skipping
those cooling down (:mod:`.cooldown`); a retryable failure (408/409/429/5xx, timeout,
unreachable) is retried after a backoff that honours Retry-After (capped by
``max_retry_wait``), and when the alias is exhausted its configured ``fallbacks`` are tried in
order. A ``context_length_exceeded`` or ``content_filter`` refusal, which retrying would only
repeat, goes to ``context_window_fallbacks`` / ``content_policy_fallbacks`` when the alias has
some. Nothing runs past the request's :class:`~.deadline.Deadline`. Streams are retried only
until their first chunk: after that the client has bytes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from lambdagate.auth import ensure_model_allowed, model_allowed
from lambdagate.config.schema import Deployment, KeyRecord, Settings
from lambdagate.config.secrets import SecretUnavailable
from lambdagate.config.store import ConfigStore
from lambdagate.errors import (
    GatewayError,
    ModelNotFound,
    ProviderNotConfigured,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from lambdagate.providers.base import Provider, Target
from lambdagate.providers.http import CONTEXT_LENGTH_EXCEEDED
from lambdagate.providers.presets import PRESETS
from lambdagate.providers.registry import get_provider
from lambdagate.router.cooldown import Cooldowns
from lambdagate.router.deadline import Deadline
from lambdagate.wire import JSONBody

logger = logging.getLogger("lambdagate.router")

T = TypeVar("T")
Call = Callable[[Provider, Target], Awaitable[T]]
OpenStream = Callable[[Provider, Target], AsyncIterator[JSONBody]]
Sleep = Callable[[float], Awaitable[None]]

CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
"""Error codes of a provider's content policy refusing the request (Azure's is ``content_filter``)."""


@dataclass(slots=True)
class Attempted:
    """What the router did for one request, for the logs and the response headers."""

    target: Target | None = None
    """The last target attempted: the one that answered, when one did."""
    attempts: int = 0
    limit: float | None = None
    """The configured per-attempt timeout of that target (its deployment's ``timeout`` or ``request_timeout``)."""

    @property
    def retried(self) -> bool:
        """The gateway already tried more than once (retries or fallbacks)."""
        return self.attempts > 1


class Router:
    """Resolves models and runs attempts. ``cooldowns`` and ``sleep`` are injectable for tests."""

    def __init__(self, store: ConfigStore, *, cooldowns: Cooldowns | None = None,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.store = store
        self.cooldowns = cooldowns or Cooldowns()
        self.sleep = sleep

    # --- resolution ----------------------------------------------------------------------

    def deployments(self, model: str) -> list[Deployment] | None:
        """The deployments a model name reaches, or None if it names nothing configured."""
        deployments = self.store.deployments(model)
        if deployments is not None:
            return deployments
        provider_name, sep, upstream_model = model.partition("/")
        if sep and upstream_model and _provider_exists(self.store, provider_name):
            return [Deployment.model_validate({"provider": provider_name, "model": upstream_model})]
        return None

    def check(self, model: str, key: KeyRecord) -> list[Deployment]:
        """The deployments for a client's model, or the 404 / 403 the client should get."""
        deployments = self.deployments(model)
        if deployments is None:
            raise ModelNotFound(f"The model '{model}' does not exist or you do not have access to it.",
                                param="model")
        ensure_model_allowed(key, model)
        return deployments

    def target(self, alias: str, deployment: Deployment, settings: Settings, timeout: float | None) -> Target:
        """The target of one attempt; ``timeout`` (seconds left to the deadline) may lower its limit.

        A lowered limit is rounded up to whole seconds: the router cuts the attempt at the exact
        time, and clients cached per timeout (Bedrock's) stay few.
        """
        try:
            config = self.store.provider(deployment.provider)
        except SecretUnavailable as exc:
            raise ProviderNotConfigured(
                f"The provider '{deployment.provider}' behind '{alias}' has no credentials: {exc}."
            ) from None
        if config is None:
            raise ProviderNotConfigured(f"The provider '{deployment.provider}' behind '{alias}' is not configured.")
        limit = attempt_limit(deployment, settings)
        provider_type = config.type or deployment.provider
        if (preset := PRESETS.get(provider_type)) is not None:
            provider_type = preset.adapter
            if config.api_base is None:
                config = config.model_copy(update={"api_base": preset.api_base})
        return Target(
            alias=alias,
            provider_name=deployment.provider,
            provider_type=provider_type,
            config=config,
            model=deployment.model,
            options={**config.options, **deployment.options},
            timeout=min(limit, float(max(1, math.ceil(timeout)))) if timeout is not None and timeout < limit else limit,
        )

    # --- attempts ------------------------------------------------------------------------

    def _fallbacks(self, names: Iterable[str], key: KeyRecord, tried: set[str]) -> list[tuple[str, list[Deployment]]]:
        """The aliases of ``names`` that exist, the key may use, and were not tried yet."""
        plan = []
        for name in names:
            if name in tried:
                continue
            deployments = self.deployments(name)
            if deployments and model_allowed(key, name):
                plan.append((name, deployments))
        return plan

    def _refusal_fallbacks(self, error: UpstreamError, alias: str, model: str, key: KeyRecord, settings: Settings,
                           tried: set[str]) -> list[tuple[str, list[Deployment]]]:
        """Where a request the upstream refused for its size or content may go instead."""
        if error.code == CONTEXT_LENGTH_EXCEEDED:
            table = settings.context_window_fallbacks
        elif error.code in CONTENT_FILTER_CODES:
            table = settings.content_policy_fallbacks
        else:
            return []
        return self._fallbacks(table.get(alias) or table.get(model) or (), key, tried)

    def _pick(self, candidates: list[Deployment], failed: set[int],
              later: Iterable[tuple[str, list[Deployment]]]) -> int | None:
        """A deployment index by weight: not cooling down, preferably not failed yet.

        None when all of them are cooling down while a later option is not; when every option
        of the request is cooling down, they are tried anyway (a cooldown never refuses a request).
        """
        usable = [i for i, deployment in enumerate(candidates) if not self.cooldowns.cooling(deployment)]
        if not usable:
            if any(not self.cooldowns.cooling(d) for _, deployments in later for d in deployments):
                return None
            usable = list(range(len(candidates)))
        fresh = [i for i in usable if i not in failed] or usable
        if len(fresh) == 1:
            return fresh[0]
        return random.choices(fresh, weights=[candidates[i].weight for i in fresh])[0]

    async def call(
        self, model: str, key: KeyRecord, deployments: list[Deployment], deadline: Deadline | None,
        call: Call[T], attempted: Attempted,
    ) -> T:
        """Run ``call`` against routed targets until one succeeds, every option is spent, or the deadline passes.

        A non-retryable failure (a 400 from the provider, say) is the answer, unless it is a
        context-window or content-policy refusal with fallbacks configured for it. Passing the
        deadline is a :class:`~lambdagate.errors.DeadlineExceeded` (504); a backoff that would
        outlive it is not slept, the next fallback (if any) is tried at once instead.
        """
        settings = self.store.settings()
        deadline = deadline or Deadline.unlimited()
        tried = {model}
        plan = deque([(model, deployments), *self._fallbacks(settings.fallbacks.get(model, ()), key, tried)])
        last: GatewayError | None = None
        while plan:
            alias, candidates = plan.popleft()
            tried.add(alias)
            failed: set[int] = set()
            for attempt in range(settings.num_retries + 1):
                index = self._pick(candidates, failed, plan)
                if index is None:
                    logger.info("skipping %s: every deployment is cooling down", alias)
                    break
                if deadline.expired():
                    raise deadline.exceeded(attempted.attempts, last)
                deployment = candidates[index]
                try:
                    target = self.target(alias, deployment, settings, deadline.remaining())
                    provider = get_provider(target.provider_type)
                except ProviderNotConfigured as exc:
                    last = exc
                    failed.add(index)
                    if len(failed) == len(candidates):
                        break
                    continue
                attempted.target = target
                attempted.attempts += 1
                attempted.limit = attempt_limit(deployment, settings)
                budget = min(attempted.limit, deadline.remaining())
                try:
                    async with asyncio.timeout(budget):
                        result = await call(provider, target)
                except TimeoutError:
                    last = UpstreamTimeout(f"{target.provider_name} did not answer within {budget:.3g} seconds.")
                except (UpstreamTimeout, UpstreamUnavailable) as exc:
                    last = exc
                except UpstreamError as exc:
                    if exc.retryable:
                        last = exc
                    else:
                        self.cooldowns.answered(deployment)
                        elsewhere = self._refusal_fallbacks(exc, alias, model, key, settings, tried)
                        if not elsewhere:
                            raise
                        logger.info("%s refused the request (%s): trying %s", alias, exc.code,
                                    ", ".join(name for name, _ in elsewhere))
                        last = exc
                        plan = deque(elsewhere)
                        break
                else:
                    self.cooldowns.answered(deployment)
                    return result
                failed.add(index)
                if self.cooldowns.failed(deployment, settings):
                    logger.warning("%s/%s cools down for %gs after %d failures in a row", deployment.provider,
                                   deployment.model, settings.cooldown_seconds, settings.cooldown_failures)
                if deadline.expired():
                    raise deadline.exceeded(attempted.attempts, last)
                assert last is not None
                wait = _backoff(last, attempt, settings)
                if wait is None or attempt == settings.num_retries or wait >= deadline.remaining():
                    break
                logger.info("retrying %s after %s in %.2fs", alias, type(last).__name__, wait)
                await self.sleep(wait)
        raise last or ModelNotFound(f"The model '{model}' has no usable deployment.", param="model")

    async def open_stream(
        self, model: str, key: KeyRecord, deployments: list[Deployment], deadline: Deadline | None,
        open_stream: OpenStream, attempted: Attempted,
    ) -> tuple[JSONBody | None, AsyncIterator[JSONBody]]:
        """The first chunk of a stream and the stream itself, retrying until a first chunk arrives."""

        async def first_chunk(provider: Provider, target: Target) -> tuple[JSONBody | None, AsyncIterator[JSONBody]]:
            stream = open_stream(provider, target)
            try:
                return await anext(stream), stream
            except StopAsyncIteration:
                return None, stream
            except BaseException:
                await stream.aclose()  # type: ignore[attr-defined]
                raise

        return await self.call(model, key, deployments, deadline, first_chunk, attempted)


def attempt_limit(deployment: Deployment, settings: Settings) -> float:
    """The configured timeout of one attempt on ``deployment``."""
    return deployment.timeout or settings.request_timeout


def _provider_exists(store: ConfigStore, name: str) -> bool:
    try:
        return store.provider(name) is not None
    except SecretUnavailable:
        return True  # it exists; the attempt will report its missing credentials


def _backoff(error: GatewayError, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before the next attempt, or None to stop retrying this alias."""
    retry_after = error.retry_after if isinstance(error, UpstreamError) else None
    if retry_after is not None:
        return retry_after if retry_after <= settings.max_retry_wait else None
    return min(settings.retry_backoff * (2**attempt) * (0.5 + random.random() / 2), settings.max_retry_wait)
