"""The one configuration schema, shared by the file store and the SSM store.

```yaml
settings:  {drop_params, request_timeout, num_retries, fallbacks, ...}
providers: {name: {type, api_key, api_base, ...provider options}}
models:    {alias: deployment | [deployment, ...]}
keys:      [{name, sha256, models}]
```
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# --- limits, budgets and prices (lambdagate.limits, lambdagate.cost) ------------------------

BUDGET_DURATION = r"^([1-9][0-9]*[mhd]|monthly)$"
"""``30m``, ``12h``, ``1d``, ``30d`` (windows aligned to the Unix epoch, UTC) or ``monthly`` (calendar month, UTC)."""


class LimitsSettings(BaseModel):
    """Where rate limits, budgets and spend are kept, and what happens when that store fails."""

    model_config = ConfigDict(extra="forbid")

    store: str | None = None
    """``dynamodb:TABLE``, ``sqlite:PATH`` or ``memory``; ``$LAMBDAGATE_LIMITS`` wins (the template sets it).
    Unset: an in-memory SQLite database (one process; ``lambdagate serve``)."""
    on_store_error: Literal["open", "closed"] = "open"
    """The store cannot be reached: ``open`` admits the request (metric ``LimitStoreErrors``, its spend is
    lost), ``closed`` answers 503 ``limits_unavailable``. Never a 500."""
    team_cache_seconds: float = Field(60.0, ge=0)
    """How long an instance keeps a team's record (its limits) before reading it from the store again."""
    track_spend: bool = False
    """Also record the spend of keys without limits and teams (one store write after each of their requests)."""


class Team(BaseModel):
    """Limits and a budget shared by every key whose ``team`` names it; kept in the limits store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@:-]+$")
    rpm: int | None = Field(default=None, ge=0)
    tpm: int | None = Field(default=None, ge=0)
    max_budget: Decimal | None = Field(default=None, ge=0)
    budget_duration: str | None = Field(default=None, pattern=BUDGET_DURATION)
    disabled: bool = False


class PriceOverride(BaseModel):
    """A deployment's own price, in USD per million tokens (as providers publish them).

    Fields left out come from the price table; ``scale`` multiplies the table's prices (an Azure Data
    Zone deployment is 1.1 times the Global price, a Bedrock in-Region profile 1.1 times the global one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: Decimal | None = Field(default=None, ge=0)
    output: Decimal | None = Field(default=None, ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)
    input_audio: Decimal | None = Field(default=None, ge=0)
    output_audio: Decimal | None = Field(default=None, ge=0)
    scale: Decimal | None = Field(default=None, gt=0)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drop_params: bool = True
    """Drop parameters a provider cannot take (listed in a response header); false answers 400."""
    request_timeout: float = Field(600.0, gt=0)
    """Seconds per upstream attempt; a request's ``timeout`` field may lower it."""
    num_retries: int = Field(2, ge=0, le=10)
    """Retries on 408/409/429/5xx and connection errors, before fallbacks are tried."""
    retry_backoff: float = Field(0.5, ge=0)
    """Base of the exponential backoff between retries, in seconds."""
    max_retry_wait: float = Field(20.0, ge=0)
    """The longest wait between retries; a longer Retry-After ends the retries instead."""
    fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    """Alias -> aliases tried in order when every attempt on the alias failed."""
    stream_keepalive: float = Field(15.0, ge=0)
    """Seconds between SSE comment keep-alives while a stream waits; 0 turns them off."""
    stream_idle_timeout: float | None = Field(default=None, gt=0)
    """Seconds a started stream may go without a chunk before it ends with a 504 error event;
    unset: the attempt's timeout (the deployment's ``timeout`` or ``request_timeout``), its upper bound."""
    deadline_margin: float = Field(1.5, ge=0)
    """Seconds kept, before the Lambda's end or API Gateway's limit, to answer the client with the 504."""
    api_gateway_timeout: float = Field(29.0, gt=0)
    """API Gateway's integration timeout in front of the buffered functions (HTTP API: 30 s at most)."""
    cooldown_failures: int = Field(3, ge=0)
    """Consecutive retryable failures after which a deployment is skipped for ``cooldown_seconds``; 0: never."""
    cooldown_seconds: float = Field(30.0, ge=0)
    """How long a failing deployment is skipped (per Lambda instance) before it is tried again."""
    context_window_fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    """Alias -> aliases tried in order when the upstream says ``context_length_exceeded``."""
    content_policy_fallbacks: dict[str, list[str]] = Field(default_factory=dict)
    """Alias -> aliases tried in order when the upstream refuses with code ``content_filter``."""
    max_body_bytes: int = Field(6 * 1024 * 1024, gt=0)
    """Largest accepted request body (a Lambda function URL takes at most 6 MB)."""
    max_upstream_calls: int = Field(20, ge=1, le=1024)
    """Most upstream calls one request may fan out into where the provider lacks a native form (a list of
    prompts, ``n``, ``best_of``); more is a 400. 20 lets one prompt use every ``best_of`` OpenAI allows."""
    """Log prompts and completions; off by default because they may hold personal data."""
    cors_allow_origins: list[str] = Field(default_factory=list)
    """Browser origins the app answers CORS for (``lambdagate serve``); on AWS the platform answers instead."""
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    """Rate limits, budgets and spend (``lambdagate.limits``)."""


class ProviderConfig(BaseModel):
    """A named upstream. Options other than the common ones stay as extras for the adapter."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_base: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Deployment(BaseModel):
    """One concrete upstream model behind an alias."""

    model_config = ConfigDict(extra="allow", frozen=True)

    provider: str
    model: str
    weight: float = Field(1.0, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    price: PriceOverride | None = None
    """This deployment's price (private, fine-tuned, self-hosted models, or a price the table lacks)."""

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class KeyRecord(BaseModel):
    """A client API key, known only by the sha256 of the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    models: list[str] | None = None
    """Aliases or ``provider/model`` names (shell-style wildcards allowed); absent means all."""
    principals: list[str] | None = None
    """IAM principal ARN patterns (``fnmatch``) that get this record when the stream URL uses AWS_IAM."""
    rpm: int | None = Field(default=None, ge=0)
    """Requests per minute (fixed UTC minutes), across every instance."""
    tpm: int | None = Field(default=None, ge=0)
    """Tokens per minute: admitted on an estimate (body bytes / 4 + the output limit), then reconciled."""
    max_budget: Decimal | None = Field(default=None, ge=0)
    """USD the key may spend per ``budget_duration`` (for ever when unset); past it: 429 ``insufficient_quota``."""
    budget_duration: str | None = Field(default=None, pattern=BUDGET_DURATION)
    expires_at: datetime | None = None
    """After this instant the key is refused with a 401 (a time without a zone is UTC)."""
    disabled: bool = False
    """A disabled key is refused with a 401."""
    team: str | None = None
    """A team (``lambdagate teams create``) whose limits and budget this key shares with its other keys."""

    @property
    def limited(self) -> bool:
        """Whether the key has a limit of its own (a team's limits are the team's)."""
        return self.rpm is not None or self.tpm is not None or self.max_budget is not None

    @model_validator(mode="before")
    @classmethod
    def _principal_id(cls, data: Any) -> Any:
        """A record for IAM callers only needs no key: its id is a hash no Bearer header can produce
        (the preimage holds a newline, which a header value cannot)."""
        if isinstance(data, dict) and not data.get("sha256") and data.get("principals") and data.get("name"):
            data = {**data, "sha256": hashlib.sha256(f"lambdagate-principals\n{data['name']}".encode()).hexdigest()}
        return data

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: Settings = Field(default_factory=Settings)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, list[Deployment]] = Field(default_factory=dict)
    keys: list[KeyRecord] = Field(default_factory=list)

    @field_validator("models", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        """An alias may name one deployment or a weighted list of them."""
        if isinstance(value, dict):
            return {alias: dep if isinstance(dep, list) else [dep] for alias, dep in value.items()}
        return value

    @field_validator("providers", mode="before")
    @classmethod
    def _empty_providers(cls, value: Any) -> Any:
        """``openai: {}`` and a bare ``openai:`` both mean a provider with defaults."""
        if isinstance(value, dict):
            return {name: cfg if cfg is not None else {} for name, cfg in value.items()}
        return value
