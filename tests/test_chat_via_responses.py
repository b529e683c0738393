"""Chat completions that need the Responses API upstream: the ``api`` option, the learned switch, the bridge.

The loopback fake (:mod:`fake_responses`) refuses function tools on ``/v1/chat/completions`` for
its reasoning models with OpenAI's 400, and answers ``/v1/responses`` with ``Response`` objects
and event streams built and checked against the official schemas. Every test goes through the
official openai SDK's ``client.chat.completions.create``; every answer and chunk the gateway
writes is validated against ``CreateChatCompletionResponse`` / ``CreateChatCompletionStreamResponse``,
and every request the gateway sends to ``/v1/responses`` against ``CreateResponse``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

import fake_responses as fr
from conftest import DEV_KEY, FakeUpstream, make_config
from lambdagate.config.schema import GatewayConfig, ProviderConfig
from lambdagate.providers.base import Target
from lambdagate.providers.openai import PROVIDER
from lambdagate.providers.openai.responses_api import route
from openai_schema import assert_valid

UPSTREAM_KEY = "sk-upstream-0123456789abcdef"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                       "required": ["city"]},
    },
}
ASK = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Weather in Paris?"}]
ARGUMENTS = '{"city":"Paris","unit":"celsius"}'

Serve = Callable[[GatewayConfig], str]


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    route.forget()  # what an earlier test taught this instance must not decide this one
    yield
    route.forget()


@pytest.fixture
def upstream(fake_upstream: FakeUpstream) -> fr.ResponsesUpstream:
    return fr.ResponsesUpstream(fake_upstream, prefixes=("/v1", "/openai/v1"))


@pytest.fixture
def start(fake_upstream: FakeUpstream, serve_gateway: Serve) -> Callable[..., openai.OpenAI]:
    def run(provider: dict[str, Any] | None = None, models: dict[str, Any] | None = None,
            **settings: Any) -> openai.OpenAI:
        providers = {
            # OpenAI itself behind a loopback URL: `api: auto` is what OpenAI's own URL gets by default.
            "openai": {"api_base": fake_upstream.url + "/v1", "api_key": UPSTREAM_KEY, "api": "auto",
                       **(provider or {})},
            "vllm": {"type": "openai", "api_base": fake_upstream.url + "/v1"},
            "azure": {"api_base": fake_upstream.url, "api_key": UPSTREAM_KEY},
        }
        all_models = {
            "reasoner": {"provider": "openai", "model": "gpt-5.4"},
            "plain": {"provider": "openai", "model": "gpt-4.1"},
            **(models or {}),
        }
        base_url = serve_gateway(make_config(providers, all_models, **{"num_retries": 0, **settings}))
        return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=15)

    return run


def raw_stream(client: openai.OpenAI, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every chunk of a streamed chat completion as the gateway wrote it, each validated."""
    with httpx.Client(timeout=15) as http:
        answer = http.post(str(client.base_url) + "chat/completions", json={**body, "stream": True},
                           headers={"authorization": f"Bearer {DEV_KEY}"})
    assert answer.status_code == 200, answer.text
    payloads = [line[6:] for line in answer.text.splitlines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    for chunk in chunks:
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    return chunks


def tool_arguments(chunks: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    """Tool calls reassembled from chunks, by ``index``: id, name and the concatenated arguments."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            for call in choice["delta"].get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.get("id") or ""
                entry["name"] += (call.get("function") or {}).get("name") or ""
                entry["arguments"] += (call.get("function") or {}).get("arguments") or ""
    return calls


def paths(fake: FakeUpstream) -> list[str]:
    return [r.path for r in fake.requests]


def sent_body(upstream: fr.ResponsesUpstream) -> dict[str, Any]:
    """The last request to ``/responses``, valid against ``CreateResponse``.

    Its input items are checked one by one against ``EasyInputMessage`` or ``Item``: the schema's
    ``InputItem`` is a ``oneOf`` meant to be read by its discriminator, and a message with a list of
    parts is valid under both of its first two members, which plain JSON Schema counts as invalid.
    """
    body = upstream.last
    assert_valid({key: value for key, value in body.items() if key != "input"}, "CreateResponse")
    for item in body["input"]:
        failures = []
        for schema in ("EasyInputMessage", "Item"):
            try:
                assert_valid(item, schema)
                break
            except AssertionError as exc:
                failures.append(str(exc))
        else:
            raise AssertionError("\n".join(failures))
    return body


# --- the learned switch ---------------------------------------------------------------------------


def test_tools_refused_on_chat_are_retried_at_once_through_responses(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.reasoning(), fr.function_call(ARGUMENTS)]))
    client = start()

    raw = client.chat.completions.with_raw_response.create(
        model="reasoner", messages=ASK, tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False,
        reasoning_effort="high", max_completion_tokens=800, user="user-42", metadata={"team": "a"},
        prompt_cache_key="weather-v1", service_tier="default",
    )
    completion = raw.parse()

    assert paths(fake_upstream) == ["/v1/chat/completions", "/v1/responses"]
    body = sent_body(upstream)
    assert body == {
        "model": "gpt-5.4",
        "store": False,
        "input": [
            {"type": "message", "role": "system", "content": "You are terse."},
            {"type": "message", "role": "user", "content": "Weather in Paris?"},
        ],
        "tools": [{"type": "function", "name": "get_weather", "description": "Current weather for a city.",
                   "parameters": WEATHER["function"]["parameters"], "strict": False}],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "high"},
        "max_output_tokens": 800,
        "include": ["reasoning.encrypted_content"],
        "user": "user-42",
        "metadata": {"team": "a"},
        "prompt_cache_key": "weather-v1",
        "service_tier": "default",
    }
    assert fake_upstream.requests[-1].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    answer = raw.http_response.json()
    assert_valid(answer, "CreateChatCompletionResponse")
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_W3xyz", "get_weather", ARGUMENTS)
    assert answer["choices"][0]["message"]["reasoning_content"] == "Thinking about the weather."
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        120, 45, 165)
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 64
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 30
    assert (completion.id, completion.model, completion.created) == ("resp_abc123", "gpt-5.4-2026-03-05", fr.CREATED)

    # The model is remembered: the next request with tools goes straight to /v1/responses.
    client.chat.completions.create(model="reasoner", messages=ASK, tools=[WEATHER])
    assert paths(fake_upstream) == ["/v1/chat/completions", "/v1/responses", "/v1/responses"]
    assert "include" in upstream.last  # a model learned from that refusal reasons


def test_a_chat_without_tools_still_uses_chat_completions(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start()
    client.chat.completions.create(model="reasoner", messages=ASK, tools=[WEATHER])  # learns gpt-5.4

    completion = client.chat.completions.create(model="reasoner", messages=ASK)
    stream = list(client.chat.completions.create(model="reasoner", messages=ASK, stream=True))

    assert paths(fake_upstream)[2:] == ["/v1/chat/completions", "/v1/chat/completions"]
    assert completion.choices[0].message.content == "echo: Weather in Paris?"
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).endswith("Weather in Paris?")


def test_a_streamed_chat_with_tools_switches_before_its_first_chunk(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.reasoning(), fr.function_call(ARGUMENTS)]))
    client = start()

    chunks = raw_stream(client, {"model": "reasoner", "messages": ASK, "tools": [WEATHER],
                                 "stream_options": {"include_usage": True}})

    assert paths(fake_upstream) == ["/v1/chat/completions", "/v1/responses"]
    body = sent_body(upstream)
    assert body["stream"] is True and body["store"] is False
    assert tool_arguments(chunks) == {0: {"id": "call_W3xyz", "name": "get_weather", "arguments": ARGUMENTS}}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {c["id"] for c in chunks} == {"resp_abc123"}
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content") or "" for c in chunks if c["choices"])
    assert reasoning == "Thinking about the weather."
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == ["tool_calls"]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 120
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 30

    # The SDK reads the same stream; a second stream goes straight to /v1/responses.
    with client.chat.completions.stream(model="reasoner", messages=ASK, tools=[WEATHER]) as sdk_stream:
        final = sdk_stream.get_final_completion()
    assert paths(fake_upstream)[-1] == "/v1/responses" and paths(fake_upstream).count("/v1/chat/completions") == 1
    assert final.choices[0].message.tool_calls is not None
    assert final.choices[0].message.tool_calls[0].function.arguments == ARGUMENTS


@pytest.mark.parametrize("calls", ["deltas", "done_only", "item_done_only"])
def test_streamed_tool_arguments_arrive_whole_however_the_upstream_sends_them(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], calls: fr.CallMode
) -> None:
    second = '{"city":"Lyon"}'
    upstream.answer(fr.response([fr.function_call(ARGUMENTS),
                                 fr.function_call(second, call_id="call_2", item_id="fc_002")]), calls=calls)
    client = start(models={"forced": {"provider": "openai", "model": "gpt-5.4", "api": "responses"}})

    chunks = raw_stream(client, {"model": "forced", "messages": ASK, "tools": [WEATHER]})

    assert tool_arguments(chunks) == {
        0: {"id": "call_W3xyz", "name": "get_weather", "arguments": ARGUMENTS},
        1: {"id": "call_2", "name": "get_weather", "arguments": second},
    }
    assert [c for c in chunks if not c["choices"]] == []  # no usage chunk unless asked for


def test_a_streamed_text_answer_and_usage(upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]) -> None:
    text = "It is sunny in Paris, 24 degrees, light wind."
    upstream.answer(fr.response([fr.reasoning(encrypted=None), fr.message(text)]))
    client = start(models={"forced": {"provider": "openai", "model": "gpt-5.4", "api": "responses"}})

    stream = client.chat.completions.create(model="forced", messages=ASK, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 165
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]


# --- the api option --------------------------------------------------------------------------------


def test_api_responses_sends_every_chat_request_through_the_bridge(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start(models={"forced": {"provider": "openai", "model": "gpt-4.1", "api": "responses"}})
    image = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="
    messages: list[Any] = [
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": image, "detail": "low"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Nice"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "22C"},
        {"role": "assistant", "content": "Il fait 22 degrés."},
        {"role": "user", "content": "Merci."},
    ]

    completion = client.chat.completions.create(
        model="forced", messages=messages, temperature=0.3, top_p=0.9, max_tokens=100,
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "strict": True,
                                                                "schema": {"type": "object"}}},
    )

    assert paths(fake_upstream) == ["/v1/responses"]
    body = sent_body(upstream)
    assert body["input"] == [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Answer in French."}]},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": image, "detail": "low"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Nice"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "22C"},
        {"type": "message", "role": "assistant", "content": "Il fait 22 degrés."},
        {"type": "message", "role": "user", "content": "Merci."},
    ]
    assert body["text"] == {"format": {"type": "json_schema", "name": "answer", "schema": {"type": "object"},
                                       "strict": True}}
    assert (body["temperature"], body["top_p"], body["max_output_tokens"], body["store"]) == (0.3, 0.9, 100, False)
    assert "include" not in body and "reasoning" not in body  # not known to reason: no encrypted reasoning asked
    assert completion.choices[0].message.content == "It is sunny in Paris."
    assert completion.choices[0].finish_reason == "stop"


def test_api_chat_returns_the_refusal(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start(provider={"api": "chat"}, models={"vllm-reasoner": {"provider": "vllm", "model": "gpt-5.4"}})

    for model in ("reasoner", "vllm-reasoner"):  # forced, and the default of a server other than OpenAI
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER])
        assert "use /v1/responses" in caught.value.message
        assert_valid(caught.value.response.json(), "ErrorResponse")

    assert "/v1/responses" not in paths(fake_upstream)


def test_auto_is_the_default_on_openai_itself_only() -> None:
    def target(api_base: str | None, **options: Any) -> Target:
        config = ProviderConfig(type="openai", api_base=api_base)
        return Target(alias="a", provider_name="p", provider_type="openai", config=config, model="gpt-5.4",
                      options=options, timeout=10)

    assert PROVIDER.chat_api(target(None)) == "auto"
    assert PROVIDER.chat_api(target("https://api.openai.com/v1/")) == "auto"
    assert PROVIDER.chat_api(target("http://10.0.0.5:8000/v1")) == "chat"
    assert PROVIDER.chat_api(target("http://10.0.0.5:8000/v1", api="responses")) == "responses"


def test_configured_model_patterns_skip_the_refused_call(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.function_call(ARGUMENTS)]))
    client = start(provider={"responses_models": ["gpt-5.4*"]},
                   models={"pro": {"provider": "openai", "model": "gpt-5.4-pro"}})

    completion = client.chat.completions.create(model="pro", messages=ASK, tools=[WEATHER])
    client.chat.completions.create(model="pro", messages=ASK)  # no tools: chat

    assert paths(fake_upstream) == ["/v1/responses", "/v1/chat/completions"]
    assert completion.choices[0].finish_reason == "tool_calls"


def test_an_invalid_api_option_is_a_configuration_error(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start(provider={"api": "assistants"})

    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="reasoner", messages=ASK)

    assert caught.value.status_code == 503 and fake_upstream.requests == []


def test_azure_switches_to_its_v1_responses_api(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    upstream.answer(fr.response([fr.function_call(ARGUMENTS)]))
    upstream.reasoning_models = ("prod-54",)  # the v1 API names the deployment as the model
    client = start(models={"az": {"provider": "azure", "model": "gpt-5.4", "deployment": "prod-54",
                                  "api_version": "v1"}})

    completion = client.chat.completions.create(model="az", messages=ASK, tools=[WEATHER])

    assert paths(fake_upstream) == ["/openai/v1/chat/completions", "/openai/v1/responses"]
    sent = fake_upstream.requests[-1]
    assert sent.headers["api-key"] == UPSTREAM_KEY and sent.query == ""
    assert sent_body(upstream)["model"] == "prod-54"
    assert completion.choices[0].message.tool_calls is not None


# --- answers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")])
def test_incomplete_responses_finish_as_chat_does(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], reason: str, finish: str
) -> None:
    upstream.answer(fr.response([fr.message("It is sun")], status="incomplete", incomplete=reason))
    client = start(models={"forced": {"provider": "openai", "model": "gpt-5.4", "api": "responses"}})

    raw = client.chat.completions.with_raw_response.create(model="forced", messages=ASK, max_completion_tokens=5)
    chunks = raw_stream(client, {"model": "forced", "messages": ASK, "max_completion_tokens": 5})

    assert_valid(raw.http_response.json(), "CreateChatCompletionResponse")
    assert raw.parse().choices[0].finish_reason == finish
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == [finish]


def test_parameters_without_a_responses_form_are_dropped_and_listed(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]
) -> None:
    client = start(models={"forced": {"provider": "openai", "model": "gpt-4.1", "api": "responses"}})

    raw = client.chat.completions.with_raw_response.create(model="forced", messages=ASK, stop=["\n"], seed=7,
                                                           presence_penalty=0.5)

    assert raw.headers["x-lambdagate-dropped-params"] == "stop,presence_penalty,seed"
    body = sent_body(upstream)
    assert not {"stop", "seed", "presence_penalty"} & body.keys()


def test_n_choices_are_parallel_responses_calls(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]
) -> None:
    client = start(models={"forced": {"provider": "openai", "model": "gpt-4.1", "api": "responses"}})

    raw = client.chat.completions.with_raw_response.create(model="forced", messages=ASK, n=2)

    assert len(upstream.sent()) == 2
    answer = raw.http_response.json()
    assert_valid(answer, "CreateChatCompletionResponse")
    assert [c["index"] for c in answer["choices"]] == [0, 1]
    assert answer["usage"]["total_tokens"] == 330


def test_logprobs_come_back_as_chat_logprobs(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]
) -> None:
    logprobs = [{"token": "It", "logprob": -0.01, "bytes": [73, 116],
                 "top_logprobs": [{"token": "It", "logprob": -0.01, "bytes": [73, 116]}]}]
    upstream.answer(fr.response([fr.message("It", logprobs=logprobs)]))
    client = start(models={"forced": {"provider": "openai", "model": "gpt-4.1", "api": "responses"}})

    raw = client.chat.completions.with_raw_response.create(model="forced", messages=ASK, logprobs=True, top_logprobs=1)

    body = sent_body(upstream)
    assert (body["include"], body["top_logprobs"]) == (["message.output_text.logprobs"], 1)
    answer = raw.http_response.json()
    assert_valid(answer, "CreateChatCompletionResponse")
    assert answer["choices"][0]["logprobs"]["content"] == logprobs


# --- reasoning across turns ----------------------------------------------------------------------


def test_encrypted_reasoning_round_trips_through_the_assistant_message(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]
) -> None:
    upstream.answer(fr.response([fr.reasoning(), fr.function_call(ARGUMENTS)]),
                    fr.response([fr.message("Sunny, 24C.")]))
    client = start()

    first = client.chat.completions.create(model="reasoner", messages=ASK, tools=[WEATHER])
    assistant = first.choices[0].message.model_dump(exclude_none=True)
    assert assistant["reasoning_details"] == [
        {"type": "reasoning.summary", "summary": "Thinking about the weather.", "id": "rs_001",
         "format": "openai-responses-v1", "index": 0},
        {"type": "reasoning.encrypted", "data": "gAAAAB-encrypted-1", "id": "rs_001",
         "format": "openai-responses-v1", "index": 1},
    ]
    followup = [*ASK, assistant, {"role": "tool", "tool_call_id": "call_W3xyz", "content": '{"temp": 24}'}]

    second = client.chat.completions.create(model="reasoner", messages=followup, tools=[WEATHER])

    body = sent_body(upstream)
    assert body["input"][2:] == [
        {"type": "reasoning", "id": "rs_001", "encrypted_content": "gAAAAB-encrypted-1",
         "summary": [{"type": "summary_text", "text": "Thinking about the weather."}]},
        {"type": "function_call", "call_id": "call_W3xyz", "name": "get_weather", "arguments": ARGUMENTS},
        {"type": "function_call_output", "call_id": "call_W3xyz", "output": '{"temp": 24}'},
    ]
    assert body["include"] == ["reasoning.encrypted_content"]
    assert second.choices[0].message.content == "Sunny, 24C."

    # Without the extension field (a client that keeps only the standard fields) the turn still works.
    plain = {key: value for key, value in assistant.items() if key not in ("reasoning_details", "reasoning_content")}
    client.chat.completions.create(model="reasoner", messages=[*ASK, plain, followup[-1]], tools=[WEATHER])
    assert [item["type"] for item in sent_body(upstream)["input"][2:]] == ["function_call", "function_call_output"]


def test_streamed_reasoning_details_echo_like_the_non_streamed_ones(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]
) -> None:
    upstream.answer(fr.response([fr.reasoning(), fr.function_call(ARGUMENTS)]))
    client = start(models={"forced": {"provider": "openai", "model": "gpt-5.4", "api": "responses"}})

    chunks = raw_stream(client, {"model": "forced", "messages": ASK, "tools": [WEATHER], "reasoning_effort": "low"})

    details = [d for c in chunks for d in c["choices"][0]["delta"].get("reasoning_details") or []]
    assert [(d["type"], d["index"]) for d in details] == [("reasoning.summary", 0), ("reasoning.encrypted", 1)]
    assert details[1]["data"] == "gAAAAB-encrypted-1"
    assert sent_body(upstream)["reasoning"] == {"effort": "low"}


def test_reasoning_of_another_provider_is_not_sent(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI]
) -> None:
    client = start(models={"forced": {"provider": "openai", "model": "gpt-5.4", "api": "responses"}})
    assistant = {"role": "assistant", "content": "Hi.", "reasoning_details": [
        {"type": "reasoning.encrypted", "data": "azure-blob", "id": "rs_9", "format": "azure-openai-responses-v1"},
        {"type": "reasoning.text", "text": "thinking", "format": "anthropic-claude-v1"},
    ]}

    client.chat.completions.create(model="forced", messages=[*ASK, assistant, {"role": "user", "content": "And?"}])

    assert [item["type"] for item in sent_body(upstream)["input"]] == ["message"] * 4


def test_legacy_functions_are_refused_through_the_bridge(
    upstream: fr.ResponsesUpstream, start: Callable[..., openai.OpenAI], fake_upstream: FakeUpstream
) -> None:
    client = start(models={"forced": {"provider": "openai", "model": "gpt-5.4", "api": "responses"}})

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="forced", messages=ASK, functions=[WEATHER["function"]])

    assert caught.value.param == "functions"  # type: ignore[attr-defined]
    assert fake_upstream.requests == []
