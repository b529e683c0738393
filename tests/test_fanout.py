"""`n` choices from a provider without `n`: parallel upstream calls, merged (here: Anthropic)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import openai
from starlette.requests import Request
from starlette.responses import Response

from conftest import DEV_KEY, FakeUpstream, make_config
from lambdagate.providers.anthropic import PROVIDER
from openai_schema import assert_valid

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"


def _anthropic(request: Request, raw: bytes) -> Response:
    if json.loads(raw).get("stream"):
        return Response((FIXTURES / "stream_text.sse").read_bytes(), media_type="text/event-stream")
    return Response((FIXTURES / "message_text.json").read_bytes(), media_type="application/json")


def test_chat_n_is_served_by_parallel_calls(fake_upstream: FakeUpstream, serve_gateway: Callable[..., str]) -> None:
    assert not PROVIDER.capabilities.n  # declared: Anthropic has no native n
    fake_upstream.on("/v1/messages", _anthropic)
    config = make_config({"anthropic": {"api_base": fake_upstream.url, "api_key": "sk-ant"}},
                         {"claude": {"provider": "anthropic", "model": "claude-x"}})
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0)
    single = client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    raw = client.chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], n=3)
    assert_valid(json.loads(raw.text), "CreateChatCompletionResponse")
    completion = raw.parse()
    assert "n" not in raw.headers.get("x-lambdagate-dropped-params", "").split(",")
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert {c.message.content for c in completion.choices} == {single.choices[0].message.content}
    assert completion.usage is not None and single.usage is not None
    assert completion.usage.total_tokens == 3 * single.usage.total_tokens
    upstream = [r.json() for r in fake_upstream.requests[1:]]
    assert len(upstream) == 3 and all("n" not in body for body in upstream)

    chunks = list(client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}],
                                                 n=2, stream=True, stream_options={"include_usage": True}))
    for chunk in chunks:
        assert_valid(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
    assert len({chunk.id for chunk in chunks}) == 1
    texts = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
    assert texts[0] == texts[1] and texts[0]
    usage_chunks = [c for c in chunks if c.usage]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and chunks[-1].choices == []
    streamed = [r.json() for r in fake_upstream.requests[4:]]
    assert len(streamed) == 2 and all(body["stream"] is True and "n" not in body for body in streamed)
