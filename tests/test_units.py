"""Unit tests of the pieces behind the API: parsing, config, keys, params, errors, SSE relay."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conftest import DEV_KEY, DEV_KEY_SHA, make_config
from lambdagate import environment
from lambdagate.api.requests import param_path, parse_request
from lambdagate.api.responses import relay
from lambdagate.auth import authenticate, generate_key, hash_key, model_allowed
from lambdagate.config import load_store
from lambdagate.config.file_store import FileConfigStore, parse_config_text
from lambdagate.config.schema import KeyRecord
from lambdagate.config.secrets import SecretUnavailable, resolve_secret
from lambdagate.errors import AuthenticationFailed, InvalidRequest, UnsupportedParameter, scrub, upstream_error
from lambdagate.observability import RequestRecord, usage_of
from lambdagate.providers.base import UNSET, CallContext, Capabilities, JSONBody, Param, RawJSON, map_params
from lambdagate.types import ChatCompletionRequest, CompletionRequest, NamedToolChoice
from lambdagate.wire import RawEvent, as_dict

ROOT = Path(__file__).resolve().parents[1]

# --- request parsing -----------------------------------------------------------------------


def test_parse_chat_request_all_parameter_forms() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "stop": "END", "logit_bias": {"50256": -100}, "stream": True, "stream_options": {"include_usage": True},
        "max_completion_tokens": 9, "max_tokens": 3, "vendor_extra": {"a": 1}, "timeout": 5,
    }
    request = parse_request(json.dumps(body).encode(), ChatCompletionRequest)
    assert isinstance(request.tool_choice, NamedToolChoice) and request.tool_choice.function.name == "f"
    assert request.wants_usage_chunk and request.stop_list() == ["END"] and request.output_token_limit == 9
    sent = request.sent_fields()
    assert sent["vendor_extra"] == {"a": 1} and "timeout" not in sent
    assert sent["messages"][2]["content"] is None and "name" not in sent["messages"][0]


def test_parse_completion_prompt_forms() -> None:
    for prompt in ("text", ["a", "b"], [1, 2, 3], [[1, 2], [3]]):
        request = parse_request(json.dumps({"model": "m", "prompt": prompt}).encode(), CompletionRequest)
        assert request.prompt == prompt
    with pytest.raises(InvalidRequest) as caught:
        parse_request(b'{"model": "m", "prompt": "x", "logprobs": 9}', CompletionRequest)
    assert caught.value.param == "logprobs"


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        (b"", None, None),
        (b"[1, 2]", None, "invalid_type"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "missing_required_parameter"),
        (b'{"model": "m", "messages": []}', "messages", "invalid_value"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', "messages[0].role", "missing_required_parameter"),
        (b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}',
         "messages[0].content[0].text", "missing_required_parameter"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": -1}', "top_p", "invalid_value"),
    ],
)
def test_validation_errors_name_the_parameter(raw: bytes, param: str | None, code: str | None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw, ChatCompletionRequest)
    assert (caught.value.param, caught.value.code, caught.value.status) == (param, code, 400)


def test_param_path_drops_union_tags() -> None:
    assert param_path(("messages", 0, "user", "content", "list[...]", 1, "image_url", "image_url")) == \
        "messages[0].content[1].image_url"


# --- configuration -------------------------------------------------------------------------


def test_example_config_loads_and_is_consistent() -> None:
    store = load_store(str(ROOT / "gateway.example.yaml"))
    assert isinstance(store, FileConfigStore)
    assert store.key(hash_key("sk-lambdagate-dev")) is not None
    for alias in store.aliases():
        for deployment in store.deployments(alias) or []:
            assert deployment.provider in store.config.providers
    for fallbacks in store.settings().fallbacks.values():
        assert all(store.deployments(alias) for alias in fallbacks)


def test_config_json_single_or_list_deployments_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps({
        "providers": {"openai": {"api_key": "env:TEST_OPENAI_KEY", "organization": "org-1"}, "bare": None},
        "models": {"one": {"provider": "openai", "model": "gpt"},
                   "two": [{"provider": "openai", "model": "a", "weight": 2}, {"provider": "bare", "model": "b"}]},
    })
    store = FileConfigStore(parse_config_text(text, suffix=".json"))
    assert [d.model for d in store.deployments("two") or []] == ["a", "b"]
    assert len(store.deployments("one") or []) == 1
    with pytest.raises(SecretUnavailable, match="TEST_OPENAI_KEY"):
        store.provider("openai")
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-real")
    provider = store.provider("openai")
    assert provider is not None and provider.api_key == "sk-real" and provider.options == {"organization": "org-1"}
    assert "sk-real" not in repr(provider)
    assert resolve_secret("plain") == "plain" and resolve_secret(None) is None
    # A rotated variable takes effect on the next request; an unchanged one gives the same copy.
    assert store.provider("openai") is provider
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-rotated")
    rotated = store.provider("openai")
    assert rotated is not None and rotated.api_key == "sk-rotated" and provider.api_key == "sk-real"
    monkeypatch.delenv("TEST_OPENAI_KEY")
    with pytest.raises(SecretUnavailable, match="TEST_OPENAI_KEY"):
        store.provider("openai")


def test_config_rejects_unknown_settings_and_bad_hashes() -> None:
    with pytest.raises(ValueError):
        parse_config_text("settings: {drop_parms: true}")
    with pytest.raises(ValueError):
        parse_config_text("keys: [{name: a, sha256: nothex}]")


# --- keys ----------------------------------------------------------------------------------


def test_authenticate_and_allow_list() -> None:
    store = FileConfigStore(make_config({}, {}))
    assert authenticate(f"Bearer {DEV_KEY}", store).sha256 == DEV_KEY_SHA
    for header in (None, "", "Basic abc", "Bearer ", "Bearer wrong"):
        with pytest.raises(AuthenticationFailed):
            authenticate(header, store)
    record = KeyRecord(name="k", sha256="a" * 64, models=["gpt-*", "openai/*"])
    assert model_allowed(record, "gpt-4o") and model_allowed(record, "openai/o3")
    assert not model_allowed(record, "claude") and not model_allowed(record, "azure/gpt-4o")
    assert model_allowed(KeyRecord(name="all", sha256="b" * 64), "anything")
    key = generate_key()
    assert key.startswith("sk-lg-") and len(key) > 40 and generate_key() != key


# --- parameter tables ----------------------------------------------------------------------


def test_map_params_table_semantics() -> None:
    table = {
        "temperature": Param(to="generationConfig.temperature", max=1.0),
        "max_tokens": Param(to="maxTokens", default=256),
        "max_completion_tokens": Param(to="maxTokens"),
        "stop": Param(to="stopSequences", transform=lambda v: [v] if isinstance(v, str) else v),
        "seed": Param(transform=lambda v: UNSET if v < 0 else v),
    }
    ctx = CallContext(request_id="r")
    body = map_params({"temperature": 1.7, "max_completion_tokens": 50, "max_tokens": 10, "stop": "END",
                       "seed": -1, "logit_bias": {"1": 1}, "messages": [], "user": None},
                      table, ctx, "p", handled={"messages"})
    assert body == {"generationConfig": {"temperature": 1.0}, "maxTokens": 50, "stopSequences": ["END"]}
    assert ctx.dropped == ["logit_bias"]
    assert map_params({}, table, ctx, "p") == {"maxTokens": 256}
    with pytest.raises(UnsupportedParameter) as caught:
        map_params({"logit_bias": {}}, table, CallContext(request_id="r", drop_params=False), "p")
    assert caught.value.param == "logit_bias" and caught.value.status == 400


# --- errors --------------------------------------------------------------------------------


def test_upstream_error_mapping_and_scrubbing() -> None:
    secret = "sk-secret-abcdef"
    mapped = upstream_error("openai", 500, f"failed calling https://internal.example/v1 with {secret}",
                            secrets=[secret])
    assert mapped.status == 502 and secret not in mapped.message and "internal.example" not in mapped.message
    assert mapped.retryable
    limited = upstream_error("openai", 429, "slow", retry_after=2.4)
    assert (limited.status, limited.type, limited.headers["retry-after"]) == (429, "rate_limit_error", "2")
    auth = upstream_error("anthropic", 401, "bad key")
    assert auth.status == 502 and auth.code == "upstream_authentication_failed" and not auth.retryable
    assert upstream_error("x", 529, "overloaded").status == 503
    assert upstream_error("x", 418, None).status == 400
    assert scrub("see http://10.0.0.1:8000/path?q=1 now") == "see [url] now"


# --- SSE relay and usage -------------------------------------------------------------------


def test_usage_of_raw_and_dict() -> None:
    raw = RawJSON(b'{"id":"x","choices":[{"text":"usage"}],"usage":{"prompt_tokens":3,"completion_tokens":4,'
                  b'"total_tokens":7}}')
    assert usage_of(raw) == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert usage_of(RawJSON(b'{"usage":null}')) is None
    assert usage_of({"usage": {"prompt_tokens": 1}}) == {"prompt_tokens": 1}
    assert usage_of(RawJSON(b'{"id":"no usage here"}')) is None
    # Bytes the provider layer parsed already are read from that value, not decoded again.
    parsed = RawJSON(b'{"usage":{"prompt_tokens":1}}', value={"usage": {"prompt_tokens": 2}})
    assert usage_of(parsed) == {"prompt_tokens": 2} and as_dict(parsed) == {"usage": {"prompt_tokens": 2}}
    assert usage_of(RawJSON(b'{"usage":{"prompt_tokens":1}}', value={"id": "x"})) is None
    # An event's usage may be nested (Anthropic's message_start): its bytes are read, as before.
    data = b'{"type":"message_start","message":{"usage":{"input_tokens":5}}}'
    assert usage_of(RawEvent(data, event="message_start", value=json.loads(data))) == {"input_tokens": 5}


def _collect(gen: AsyncIterator[bytes]) -> list[bytes]:
    async def run() -> list[bytes]:
        return [item async for item in gen]

    return asyncio.run(run())


def test_relay_formats_events_and_ends_cleanly_on_error() -> None:
    from lambdagate.errors import UpstreamError

    async def chunks() -> AsyncIterator[JSONBody]:
        yield RawJSON(b'{"n":2}')
        raise UpstreamError("provider fell over", status=502)

    record = RequestRecord(request_id="r", endpoint="chat")
    # Writes may carry several events (the error and [DONE] leave together): compare the events.
    events = [e + b"\n\n" for e in b"".join(_collect(relay(({"n": 1}, chunks()), record, 0.0, 0))).split(b"\n\n") if e]
    assert events[0] == b'data: {"n":1}\n\n' and events[1] == b'data: {"n":2}\n\n'
    error = json.loads(events[2][len(b"data: "):])
    assert error["error"]["message"] == "provider fell over" and events[-1] == b"data: [DONE]\n\n"
    assert record.status == 502


def test_relay_sends_keepalives_while_waiting() -> None:
    async def empty() -> AsyncIterator[JSONBody]:
        return
        yield  # pragma: no cover

    record = RequestRecord(request_id="r", endpoint="chat")

    async def run() -> list[bytes]:
        first_chunk = asyncio.Event()  # the upstream answers once three keep-alives have left

        async def slow_open() -> tuple[Any, AsyncIterator[JSONBody]]:
            await first_chunk.wait()
            return {"first": True}, empty()

        written = []
        async for item in relay(slow_open(), record, 0.0, 0.01):
            written.append(item)
            if b"".join(written).count(b": keep-alive\n\n") >= 3:
                first_chunk.set()
        return [e + b"\n\n" for e in b"".join(written).split(b"\n\n") if e]  # events, however written

    events = asyncio.run(asyncio.wait_for(run(), timeout=10))
    assert events[:3] == [b": keep-alive\n\n"] * 3
    assert events[-2:] == [b'data: {"first":true}\n\n', b"data: [DONE]\n\n"]


def test_content_readers_keep_text_and_images_and_refuse_the_rest() -> None:
    from lambdagate.providers.content import text_and_image_parts, text_only
    from lambdagate.types import AudioPart, ImagePart, TextPart

    text = [TextPart(type="text", text="a"), TextPart(type="text", text="b")]
    assert text_only(text, "messages", "x", separator="\n") == "a\nb" and text_only(None, "m", "x") == ""
    image = ImagePart.model_validate({"type": "image_url", "image_url": {"url": "https://i/1.png", "detail": "low"}})
    with pytest.raises(InvalidRequest, match="'x' provider takes only text"):
        text_only([*text, image], "messages", "x")
    assert text_and_image_parts([text[0], image], "messages[0]", "x") == [
        {"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "https://i/1.png", "detail": "low"}}]
    audio = AudioPart.model_validate({"type": "input_audio", "input_audio": {"data": "AA==", "format": "wav"}})
    with pytest.raises(InvalidRequest) as caught:
        text_and_image_parts([text[0], audio], "messages[0]", "x")
    assert caught.value.param == "messages[0].content[1]"


def test_best_of_ranks_chat_candidates_by_mean_logprob() -> None:
    """``best_of`` on a chat-only provider with log probabilities: candidates ranked, ``n`` kept."""
    from lambdagate.config.schema import ProviderConfig
    from lambdagate.providers import shapes
    from lambdagate.providers.base import Provider, Target
    from lambdagate.providers.text_completions import complete_via_chat

    class Scored(Provider):
        type_name = "scored"
        capabilities = Capabilities(logprobs=True)
        params = {"logprobs": Param(), "top_logprobs": Param(), "max_tokens": Param()}

        def __init__(self) -> None:
            self.calls: list[ChatCompletionRequest] = []

        async def chat(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> JSONBody:
            self.calls.append(request)
            score = -float(len(self.calls))  # the first call scores best
            logprobs = {"content": [{"token": f"t{len(self.calls)}", "logprob": score, "top_logprobs": []}]}
            choice = {**shapes.chat_choice(0, shapes.chat_message(f"answer {len(self.calls)}"), "stop"),
                      "logprobs": logprobs}
            return shapes.chat_completion(target.model, [choice], shapes.usage(2, 1))

        def chat_stream(self, request: ChatCompletionRequest, target: Target, ctx: CallContext) -> Any:
            raise NotImplementedError

    provider = Scored()
    target = Target(alias="a", provider_name="p", provider_type="scored", config=ProviderConfig(), model="m",
                    options={}, timeout=5)
    request = CompletionRequest.model_validate({"model": "a", "prompt": "q", "best_of": 3, "n": 1, "logprobs": 0})
    result = asyncio.run(complete_via_chat(provider, request, target, CallContext(request_id="r")))
    assert isinstance(result, dict)
    assert len(provider.calls) == 3 and all(call.logprobs for call in provider.calls)
    assert [c["text"] for c in result["choices"]] == ["answer 1"]
    assert result["choices"][0]["logprobs"]["tokens"] == ["t1"]
    assert result["usage"]["completion_tokens"] == 3  # every candidate is billed


def test_the_environment_is_read_once_until_refreshed() -> None:
    """The request path's switches are read once per process (a function's environment never changes)."""
    name = "LAMBDAGATE_TEST_ONCE"
    os.environ[name] = "first"
    try:
        environment.refresh()
        assert environment.read(name) == "first"
        os.environ[name] = "second"
        assert environment.read(name) == "first"
        environment.refresh()
        assert environment.read(name) == "second"
        del os.environ[name]
        environment.refresh()
        assert environment.read(name) is None
    finally:
        os.environ.pop(name, None)
        environment.refresh()
