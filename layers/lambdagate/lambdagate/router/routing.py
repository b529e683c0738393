"""From the ``model`` a client sent to the upstream attempt that answers it.

A model is an alias (one deployment or a weighted list) or a direct ``<provider>/<model>`` name.
Each attempt picks a deployment by weight, preferring ones that have not failed yet; a retryable
failure (408/409/429/5xx, timeout, unreachable) is retried after a backoff that honours
Retry-After, and when the alias is exhausted its configured fallbacks are tried in order.
Streams are retried only until their first chunk: after that the client has bytes.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
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
from lambdagate.providers.base import JSONBody, Provider, Target
from lambdagate.providers.registry import get_provider

logger = logging.getLogger("lambdagate.router")

T = TypeVar("T")
Call = Callable[[Provider, Target], Awaitable[T]]
OpenStream = Callable[[Provider, Target], AsyncIterator[JSONBody]]


@dataclass(slots=True)
class Attempted:
    """What the router did for one request, for the logs and the response headers."""

    target: Target | None = None
    attempts: int = 0


class Router:
    def __init__(self, store: ConfigStore) -> None:
        self.store = store

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
        try:
            config = self.store.provider(deployment.provider)
        except SecretUnavailable as exc:
            raise ProviderNotConfigured(
                f"The provider '{deployment.provider}' behind '{alias}' has no credentials: {exc}."
            ) from None
        if config is None:
            raise ProviderNotConfigured(f"The provider '{deployment.provider}' behind '{alias}' is not configured.")
        limit = deployment.timeout or settings.request_timeout
        return Target(
            alias=alias,
            provider_name=deployment.provider,
            provider_type=config.type or deployment.provider,
            config=config,
            model=deployment.model,
            options={**config.options, **deployment.options},
            timeout=min(limit, timeout) if timeout else limit,
        )

    # --- attempts ------------------------------------------------------------------------

    def _plan(self, model: str, key: KeyRecord, deployments: list[Deployment]) -> list[tuple[str, list[Deployment]]]:
        """The alias itself, then each configured fallback that exists and the key may use."""
        plan = [(model, deployments)]
        for fallback in self.store.settings().fallbacks.get(model, []):
            fallback_deployments = self.deployments(fallback)
            if fallback_deployments and model_allowed(key, fallback):
                plan.append((fallback, fallback_deployments))
        return plan

    async def call(
        self, model: str, key: KeyRecord, deployments: list[Deployment], timeout: float | None,
        call: Call[T], attempted: Attempted,
    ) -> T:
        """Run ``call`` against routed targets until one succeeds or every option is spent.

        A non-retryable failure (a 400 from the provider, say) is the answer: retrying or falling
        back would only repeat it.
        """
        settings = self.store.settings()
        last: GatewayError | None = None
        for alias, candidates in self._plan(model, key, deployments):
            failed: set[int] = set()
            for attempt in range(settings.num_retries + 1):
                index = _pick(candidates, failed)
                try:
                    target = self.target(alias, candidates[index], settings, timeout)
                    provider = get_provider(target.provider_type)
                except ProviderNotConfigured as exc:
                    last = exc
                    failed.add(index)
                    if len(failed) == len(candidates):
                        break
                    continue
                attempted.target = target
                attempted.attempts += 1
                try:
                    async with asyncio.timeout(target.timeout):
                        return await call(provider, target)
                except TimeoutError:
                    last = UpstreamTimeout(
                        f"{target.provider_name} did not answer within {target.timeout:g} seconds.")
                except (UpstreamError, UpstreamTimeout, UpstreamUnavailable) as exc:
                    if isinstance(exc, UpstreamError) and not exc.retryable:
                        raise
                    last = exc
                failed.add(index)
                wait = _backoff(last, attempt, settings)
                if wait is None or attempt == settings.num_retries:
                    break
                logger.info("retrying %s after %s in %.2fs", alias, type(last).__name__, wait)
                await asyncio.sleep(wait)
        raise last or ModelNotFound(f"The model '{model}' has no usable deployment.", param="model")

    async def open_stream(
        self, model: str, key: KeyRecord, deployments: list[Deployment], timeout: float | None,
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

        return await self.call(model, key, deployments, timeout, first_chunk, attempted)


def _provider_exists(store: ConfigStore, name: str) -> bool:
    try:
        return store.provider(name) is not None
    except SecretUnavailable:
        return True  # it exists; the attempt will report its missing credentials


def _pick(deployments: list[Deployment], failed: set[int]) -> int:
    """A deployment index chosen by weight, among those that have not failed if any remain."""
    if len(deployments) == 1:
        return 0
    indexes = [i for i in range(len(deployments)) if i not in failed] or list(range(len(deployments)))
    return random.choices(indexes, weights=[deployments[i].weight for i in indexes])[0]


def _backoff(error: GatewayError, attempt: int, settings: Settings) -> float | None:
    """Seconds to wait before the next attempt, or None to stop retrying this alias."""
    retry_after = error.retry_after if isinstance(error, UpstreamError) else None
    if retry_after is not None:
        return retry_after if retry_after <= settings.max_retry_wait else None
    return min(settings.retry_backoff * (2**attempt) * (0.5 + random.random() / 2), settings.max_retry_wait)
