"""A configuration as SSM parameters and back: what ``config push`` writes and ``config pull`` prints.

The layout is :mod:`lambdagate.config.ssm_layout`'s. Only the CLI writes it (CloudFormation cannot
create SecureString parameters), so the serialisation lives here, off the request path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lambdagate.config.schema import GatewayConfig
from lambdagate.config.ssm_layout import SsmLayout


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    value: str
    secure: bool = False


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def config_parameters(config: GatewayConfig, layout: SsmLayout, api_keys: Mapping[str, str]) -> dict[str, Parameter]:
    """Every parameter that stores ``config``, by name.

    ``api_keys`` holds the resolved secret of each provider whose ``api_key`` is to be written as
    a SecureString; a provider absent from it gets no api_key parameter (none, or the one already
    stored is kept).
    """
    params: dict[str, Parameter] = {}

    def add(name: str, value: str, secure: bool = False) -> None:
        params[name] = Parameter(name, value, secure)

    add(layout.settings, _json(config.settings.model_dump(mode="json", exclude_unset=True)))
    for name, provider in config.providers.items():
        add(layout.provider(name), _json(provider.model_dump(mode="json", exclude_unset=True, exclude={"api_key"})))
        if name in api_keys:
            add(layout.api_key(name), api_keys[name], secure=True)
    for alias, deployments in config.models.items():
        dumped = [d.model_dump(mode="json", exclude_unset=True) for d in deployments]
        add(layout.model(alias), _json(dumped[0] if len(dumped) == 1 else dumped))
    for record in config.keys:
        add(layout.key(record.sha256), record.model_dump_json(exclude_none=True))
    return params


def parameters_config(params: Mapping[str, str], secure_names: Iterable[str], layout: SsmLayout) -> dict[str, Any]:
    """The config document that parameters hold, secrets shown as ``ssm:`` references, never values.

    ``params`` maps names to values (SecureString values are ignored); ``secure_names`` are the
    SecureString parameters present. Unknown names are skipped, and so is a literal ``api_key``
    someone wrote into a provider's JSON by hand (references such as ``env:NAME`` are shown).
    """
    doc: dict[str, Any] = {"settings": {}, "providers": {}, "models": {}, "keys": []}
    secure = set(secure_names)
    for name in sorted(set(params) | secure):
        kind_leaf = layout.classify(name)
        if kind_leaf is None:
            continue
        kind, leaf = kind_leaf
        if kind == "api_key":
            doc["providers"].setdefault(leaf, {})["api_key"] = f"ssm:{name}"
        elif name in secure:
            continue
        elif kind == "settings":
            doc["settings"] = json.loads(params[name])
        elif kind == "provider":
            provider = json.loads(params[name])
            if not str(provider.get("api_key", "")).startswith(("env:", "ssm:")):
                provider.pop("api_key", None)  # a literal key written by hand: a secret, not shown
            doc["providers"][leaf] = {**provider, **doc["providers"].get(leaf, {})}
        elif kind == "model":
            doc["models"][leaf] = json.loads(params[name])
        elif kind == "key":
            doc["keys"].append(json.loads(params[name]))
    return doc


__all__ = ["Parameter", "config_parameters", "parameters_config"]
