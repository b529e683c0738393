"""OpenAI-compatible services are data: a preset name is enough, served by the openai adapter."""

from __future__ import annotations

from collections.abc import Callable

import openai

from conftest import DEV_KEY, FakeUpstream, make_config
from fake_openai import chat
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import GatewayConfig
from lambdagate.providers.presets import PRESETS
from lambdagate.router import Router


def test_a_preset_needs_neither_type_nor_api_base() -> None:
    config = make_config({"cerebras": {"api_key": "k"}}, {"llama": {"provider": "cerebras", "model": "llama-4"}})
    store = FileConfigStore(config)
    router = Router(store)
    deployment = store.deployments("llama")
    assert deployment is not None
    target = router.target("llama", deployment[0], store.settings(), None)
    assert target.provider_type == "openai"
    assert target.config.api_base == PRESETS["cerebras"].api_base


def test_a_configured_api_base_wins_over_the_preset(
    fake_upstream: FakeUpstream, serve_gateway: Callable[[GatewayConfig], str]
) -> None:
    fake_upstream.on("/v1/chat/completions", chat)
    config = make_config({"together": {"api_key": "k", "api_base": fake_upstream.url + "/v1"}},
                         {"m": {"provider": "together", "model": "meta-llama/Llama-3.3-70B"}})
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0)
    answer = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "echo: hi"
    assert fake_upstream.requests[0].json()["model"] == "meta-llama/Llama-3.3-70B"
    assert fake_upstream.requests[0].headers["authorization"] == "Bearer k"
