"""The built-in `mock` provider through the openai SDK: deterministic, streamed, with usage."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import openai
import pytest

from conftest import DEV_KEY, make_config
from openai_schema import assert_valid


@pytest.fixture
def client(serve_gateway: Callable[..., str]) -> openai.OpenAI:
    models = {"m": {"provider": "mock", "model": "mock-1"},
              "slow": {"provider": "mock", "model": "mock-slow", "chunk_delay": 0.2, "latency": 0.1}}
    return openai.OpenAI(base_url=serve_gateway(make_config({"mock": {}}, models)), api_key=DEV_KEY, max_retries=0)


def test_answer_usage_and_limits(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "system", "content": "be nice"}, {"role": "user", "content": "one two three"}],
        n=2)
    assert_valid(json.loads(raw.text), "CreateChatCompletionResponse")
    completion = raw.parse()
    assert [c.message.content for c in completion.choices] == ["You said: one two three"] * 2
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 10)
    cut = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a b c d"}],
                                         max_completion_tokens=3)
    assert cut.choices[0].message.content == "You said: a" and cut.choices[0].finish_reason == "length"
    stopped = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a b c d"}], stop="c")
    assert stopped.choices[0].message.content == "You said: a b " and stopped.choices[0].finish_reason == "stop"


def test_tools_and_json(client: openai.OpenAI) -> None:
    tools: list[Any] = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}},
                        {"type": "function", "function": {"name": "time", "parameters": {"type": "object"}}}]
    named = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Paris"}], tools=tools,
        tool_choice={"type": "function", "function": {"name": "time"}})
    call = named.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert named.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "time" and json.loads(call.function.arguments) == {"input": "Paris"}
    answer = client.chat.completions.create(model="m", tools=tools, messages=[
        {"role": "user", "content": "Paris"}, named.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "noon"}])
    assert answer.choices[0].message.content == "The tool returned: noon"
    as_json = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                             response_format={"type": "json_object"})
    assert json.loads(as_json.choices[0].message.content or "") == {"echo": "hi"}


class _Clock:
    """Stands in for the mock adapter's ``asyncio``: its sleeps are recorded, in order, not slept."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, seconds: float, result: Any = None) -> Any:
        self.events.append(f"wait {seconds}")
        await asyncio.sleep(0)
        return result


def test_streams_word_by_word(client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdagate.providers.mock import adapter

    clock = _Clock()
    monkeypatch.setattr(adapter, "asyncio", clock)
    text, usage = "", None
    for chunk in client.chat.completions.create(model="slow", messages=[{"role": "user", "content": "a b c"}],
                                                stream=True, stream_options={"include_usage": True}):
        assert_valid(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
        if chunk.choices and chunk.choices[0].delta.content:
            clock.events.append(f"word {chunk.choices[0].delta.content.strip()}")
            text += chunk.choices[0].delta.content
        usage = chunk.usage or usage
    assert text == "You said: a b c"
    # `latency` once before the first word, `chunk_delay` between words (not after the last).
    waits = [event for event in clock.events if event.startswith("wait")]
    assert waits == ["wait 0.1"] + ["wait 0.2"] * 4
    words = [event for event in clock.events if event.startswith("word")]
    assert words == ["word You", "word said:", "word a", "word b", "word c"]
    assert clock.events[0] == "wait 0.1"
    assert usage is not None and usage.completion_tokens == 5


def test_text_completions_through_chat(client: openai.OpenAI) -> None:
    raw = client.completions.with_raw_response.create(model="m", prompt=["x y", "z"], n=2, echo=True)
    assert_valid(json.loads(raw.text), "CreateCompletionResponse")
    completion = raw.parse()
    assert [(c.index, c.text) for c in completion.choices] == [
        (0, "x yYou said: x y"), (1, "x yYou said: x y"), (2, "zYou said: z"), (3, "zYou said: z")]
    chunks = list(client.completions.create(model="m", prompt="hello", stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "You said: hello"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 1
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="m", prompt=[1, 2, 3])
    assert caught.value.body["param"] == "prompt"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model="m", prompt="x", best_of=3, stream=True)
