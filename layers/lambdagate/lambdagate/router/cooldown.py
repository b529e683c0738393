"""Deployments that keep failing are skipped for a while, per Lambda instance.

After ``settings.cooldown_failures`` consecutive retryable failures (429, 5xx, timeouts, an
unreachable upstream) a deployment cools down for ``settings.cooldown_seconds``: the router skips
it while any other option of the request (another deployment of the alias, a fallback) is usable,
and tries it again once the time is over. Its streak is kept, so one more failure then cools it
again at once, and any answer that is not a retryable failure (a success, a 400) ends the streak.

The state is this instance's memory only (no shared store: the gateway needs none to operate);
each Lambda environment learns on its own, which bounds what a bad upstream costs each of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lambdagate.config.schema import Deployment, Settings

DeploymentKey = tuple[str, str]

MAX_TRACKED = 1024
"""Deployments remembered at most (``provider/model`` names come from clients: keep it bounded)."""


@dataclass(slots=True)
class _Health:
    streak: int = 0
    until: float = 0.0


class Cooldowns:
    """Failure streaks and cooldowns of deployments, on an injectable monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._health: dict[DeploymentKey, _Health] = {}

    @staticmethod
    def key(deployment: Deployment) -> DeploymentKey:
        return deployment.provider, deployment.model

    def cooling(self, deployment: Deployment) -> bool:
        """Whether the deployment is to be skipped now."""
        health = self._health.get(self.key(deployment))
        return health is not None and health.until > self.clock()

    def failed(self, deployment: Deployment, settings: Settings) -> bool:
        """Count a retryable failure; True when it starts a cooldown."""
        if settings.cooldown_failures <= 0 or settings.cooldown_seconds <= 0:
            return False
        key = self.key(deployment)
        health = self._health.get(key)
        if health is None:
            if len(self._health) >= MAX_TRACKED:
                self._forget_healthiest()
            health = self._health[key] = _Health()
        health.streak += 1
        if health.streak >= settings.cooldown_failures:
            health.until = self.clock() + settings.cooldown_seconds
            return True
        return False

    def answered(self, deployment: Deployment) -> None:
        """The deployment answered (or refused the request itself): its streak is over."""
        if self._health:
            self._health.pop(self.key(deployment), None)

    def _forget_healthiest(self) -> None:
        now = self.clock()
        idle = [key for key, health in self._health.items() if health.until <= now]
        for key in idle or list(self._health)[: len(self._health) // 2]:
            del self._health[key]
