"""The one configuration schema, shared by the file store and the SSM store.

```yaml
settings:  {drop_params, request_timeout, num_retries, fallbacks, ...}
providers: {name: {type, api_key, api_base, ...provider options}}
models:    {alias: deployment | [deployment, ...]}
keys:      [{name, sha256, models}]
```
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    max_body_bytes: int = Field(6 * 1024 * 1024, gt=0)
    """Largest accepted request body (a Lambda function URL takes at most 6 MB)."""
    log_prompts: bool = False
    """Log prompts and completions; off by default because they may hold personal data."""


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
