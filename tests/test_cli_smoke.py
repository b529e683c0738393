"""``lambdagate smoke`` against the real app on loopback: every listed model, every endpoint, a scorecard."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from conftest import DEV_KEY, make_config
from lambdagate.cli import main as cli
from lambdagate.config.schema import GatewayConfig

ENDPOINTS = ("chat", "chat-stream", "completions", "completions-stream")


def config(monkeypatch: pytest.MonkeyPatch) -> GatewayConfig:
    monkeypatch.delenv("LG_SMOKE_UNSET_KEY", raising=False)
    return make_config(
        {"mock": {}, "openai": {"api_key": "env:LG_SMOKE_UNSET_KEY"}},
        {"mock-gpt": {"provider": "mock", "model": "mock-gpt"},
         "mock-slow": {"provider": "mock", "model": "mock-slow", "latency": 0.05, "chunk_delay": 0.01},
         "gpt-4o-mini": {"provider": "openai", "model": "gpt-4o-mini"}},
    )


def rows(out: str) -> dict[tuple[str, str, str], list[str]]:
    """Scorecard rows by (url, model, endpoint): the remaining columns split on runs of spaces."""
    table = {}
    for line in out.splitlines()[1:-1]:
        cells = re.split(r"\s{2,}", line.strip())
        table[(cells[0], cells[1], cells[2])] = cells[3:]
    return table


def test_smoke_scores_every_model_on_both_urls_and_fails_on_any_failure(
        serve_gateway: Callable[[GatewayConfig], str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    api = serve_gateway(config(monkeypatch))
    stream = serve_gateway(config(monkeypatch)).removesuffix("/v1")  # with or without /v1
    code = cli(["smoke", "--api-url", api, "--stream-url", stream, "--key", DEV_KEY])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0].split() == ["URL", "MODEL", "ENDPOINT", "STATUS", "LATENCY", "TTFT", "TOKENS",
                                           "RESULT"]
    assert out.splitlines()[-1] == "26 checks, 18 passed, 8 failed"
    table = rows(out)
    for url in ("api", "stream"):
        assert table[(url, "-", "models")][0] == "200" and table[(url, "-", "models")][-1] == "ok - 3 models"
        for model in ("mock-gpt", "mock-slow"):
            for endpoint in ENDPOINTS:
                status, latency, ttft, tokens, result = table[(url, model, endpoint)]
                assert status == "200" and result == "ok", (url, model, endpoint)
                assert re.fullmatch(r"\d+ ms", latency)
                assert re.fullmatch(r"\d+\+\d+", tokens) and tokens != "0+0"
                # Time to first token only means something for a stream.
                assert (re.fullmatch(r"\d+ ms", ttft) is not None) is endpoint.endswith("-stream")
        for endpoint in ENDPOINTS:
            status, *_, result = table[(url, "gpt-4o-mini", endpoint)]
            assert status == "503" and result.startswith("FAIL - provider_not_configured")
            assert "LG_SMOKE_UNSET_KEY" in result


def test_smoke_passes_on_the_models_asked_for(serve_gateway: Callable[[GatewayConfig], str],
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    api = serve_gateway(config(monkeypatch))
    monkeypatch.setenv("LAMBDAGATE_KEY", DEV_KEY)
    assert cli(["smoke", "--api-url", api, "--models", "mock-gpt", "--endpoints", "chat,chat-stream"]) == 0
    out = capsys.readouterr().out
    assert set(rows(out)) == {("api", "-", "models"), ("api", "mock-gpt", "chat"), ("api", "mock-gpt", "chat-stream")}
    assert out.splitlines()[-1] == "3 checks, 3 passed, 0 failed"


def test_smoke_reports_a_wrong_key_and_an_unreachable_url(serve_gateway: Callable[[GatewayConfig], str],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    api = serve_gateway(config(monkeypatch))
    assert cli(["smoke", "--api-url", api, "--stream-url", "http://127.0.0.1:9", "--key", "sk-wrong",
                "--timeout", "5"]) == 1
    table = rows(capsys.readouterr().out)
    assert table[("api", "-", "models")][0] == "401" and "invalid_api_key" in table[("api", "-", "models")][-1]
    assert table[("stream", "-", "models")][0] == "-" and "ConnectError" in table[("stream", "-", "models")][-1]
    assert len(table) == 2  # nothing listed, nothing else called


def test_smoke_usage_errors(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDAGATE_KEY", raising=False)
    assert cli(["smoke", "--key", DEV_KEY]) == 2
    assert cli(["smoke", "--api-url", "http://127.0.0.1:9"]) == 2
    assert cli(["smoke", "--api-url", "http://127.0.0.1:9", "--key", DEV_KEY, "--endpoints", "embeddings"]) == 2
    err = capsys.readouterr().err
    assert "--api-url" in err and "LAMBDAGATE_KEY" in err and "--endpoints" in err
