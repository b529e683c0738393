"""The fault matrix (issue 7): every upstream fault, from every provider type, streamed and not.

A fault is the upstream's, so the client gets what OpenAI would answer for a broken server: a
retryable OpenAI-shaped 502 (the gateway retried it: ``num_retries=1`` and the fake counts two
attempts). What is odd but valid SSE (empty events, ``id:``/``retry:``/``event:``-only blocks,
multi-line ``data:``) is no fault: the stream works and every line the client gets is one JSON
object on one ``data:`` line. A stream of comments only ends in a 502/504 within the attempt's
timeout instead of hanging.

Bedrock speaks the AWS event stream through boto3, not SSE: it is in the matrix for the body and
connection faults (boto3 pointed at the fake by ``endpoint_url``), not for the SSE ones.

One fake upstream, one closing TCP server and one gateway serve the whole module; each test sets
the fake's scenario.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from conftest import DEV_KEY, ServerThread, make_config
from fault_upstream import BODY_FAULTS, STREAM_FAULTS, STREAM_OK, ClosingServer, FaultUpstream, Scenario
from lambdagate.api import create_app
from lambdagate.config.file_store import FileConfigStore
from openai_schema import assert_valid

UPSTREAM_KEY = "upstream-key-0123456789abcdef"
TIMEOUT = 10.0  # seconds per attempt: generous, so a loaded machine never turns a 502 into a 504
SHORT_TIMEOUT = 0.5  # the attempt timeout a comment-only cell asks for
SSE_TYPES = ("openai", "azure", "anthropic", "cohere", "gemini", "mistral", "replicate")
TYPES = (*SSE_TYPES, "bedrock")
MODELS = {
    "openai": "gpt-4o-mini",
    "azure": "gpt-4o",
    "anthropic": "claude-sonnet-4-5",
    "cohere": "command-a-03-2025",
    "gemini": "gemini-2.5-flash",
    "mistral": "mistral-small-latest",
    "replicate": "meta/meta-llama-3-8b-instruct",
    "bedrock": "anthropic.claude-sonnet-4-5-v1:0",
}
MESSAGES: Any = [{"role": "user", "content": "Hi"}]


def _cells() -> Iterator[Any]:
    for provider in TYPES:
        for stream in (False, True):
            mode = "stream" if stream else "json"
            faults = [*BODY_FAULTS, "closed"]
            if provider != "bedrock":
                faults += list(STREAM_FAULTS + STREAM_OK) if stream else ["error_body_200"]
            for fault in faults:
                yield pytest.param(provider, fault, stream, id=f"{provider}-{mode}-{fault}")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FaultUpstream, ClosingServer]]:
    fake = FaultUpstream()
    with ServerThread(fake.app()) as server, ClosingServer() as closing:
        fake.url = server.url
        yield fake, closing


def _provider(provider: str, base: str) -> dict[str, Any]:
    if provider == "bedrock":
        return {"type": "bedrock", "region": "us-east-1", "endpoint_url": base}
    config: dict[str, Any] = {"type": provider, "api_key": UPSTREAM_KEY, "api_base": base}
    if provider == "replicate":
        config["poll_interval"] = 0.01
    return config


@pytest.fixture(scope="module")
def gateway(servers: tuple[FaultUpstream, ClosingServer]) -> Iterator[str]:
    fake, closing = servers
    providers: dict[str, Any] = {}
    models: dict[str, Any] = {}
    for provider in TYPES:
        for name, base in ((provider, fake.url), (f"{provider}-closed", closing.url)):
            providers[name] = _provider(provider, base)
            models[name] = {"provider": name, "model": MODELS[provider], "deployment": "dep"} \
                if provider == "azure" else {"provider": name, "model": MODELS[provider]}
    # A key must never travel over plain http to a host that is not loopback. 0.0.0.0 is not a
    # loopback address by the rule, yet were the guard to fail, the connection would stay on this machine.
    providers["remote-http"] = {"type": "openai", "api_key": UPSTREAM_KEY, "api_base": "http://0.0.0.0:9/v1"}
    models["remote-http"] = {"provider": "remote-http", "model": "gpt-4o-mini"}
    config = make_config(providers, models, num_retries=1, request_timeout=TIMEOUT, cooldown_failures=0)
    with pytest.MonkeyPatch.context() as patch:
        # boto3 signs with these and reads nothing of the machine's AWS configuration.
        patch.setenv("AWS_ACCESS_KEY_ID", "AKIDFAKEFAKEFAKE")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with ServerThread(create_app(FileConfigStore(config))) as server:
            yield server.url + "/v1"


def _sdk(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=DEV_KEY, max_retries=0, timeout=15)


def _relayed_stream(base_url: str, model: str) -> list[Any]:
    """The chunks of a streamed answer, checking every line: one JSON object per ``data:`` line."""
    with httpx.Client(timeout=15) as client:
        response = client.post(base_url + "/chat/completions", headers={"authorization": f"Bearer {DEV_KEY}"},
                               json={"model": model, "messages": MESSAGES, "stream": True})
    assert response.status_code == 200, response.text
    payloads = []
    for line in response.text.split("\n"):
        if not line or line.startswith(":"):
            continue  # event separators and the gateway's keep-alive comments
        assert line.startswith("data: "), line
        payloads.append(line[6:])
    assert payloads and payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    for chunk in chunks:
        assert isinstance(chunk, dict) and "error" not in chunk, chunk
        assert_valid(chunk, "CreateChatCompletionStreamResponse")
    return chunks


_READERS: weakref.WeakSet[Any] = weakref.WeakSet()


@pytest.fixture(scope="module", autouse=True)
def _track_stream_readers() -> Iterator[None]:
    """Every SSE reader httpx-sse hands the gateway, remembered (weakly) to see that it was closed."""
    import httpx_sse

    original = httpx_sse.EventSource.aiter_sse

    def tracked(self: Any) -> Any:
        reader = original(self)
        _READERS.add(reader)
        return reader

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx_sse.EventSource, "aiter_sse", tracked)
        yield


def _suspended_stream_readers() -> set[int]:
    """The SSE readers started and not yet closed (an async generator's frame goes when it ends)."""
    return {id(reader) for reader in list(_READERS) if reader.ag_frame is not None}


@pytest.mark.parametrize(("provider", "fault", "stream"), list(_cells()))
def test_upstream_fault(
    servers: tuple[FaultUpstream, ClosingServer], gateway: str, provider: str, fault: str, stream: bool
) -> None:
    fake, closing = servers
    fake.reset(Scenario(provider, fault, stream))
    accepted_before = closing.accepted
    model = f"{provider}-closed" if fault == "closed" else provider

    if fault in STREAM_OK:
        chunks = _relayed_stream(gateway, model)
        text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
        assert text.strip(), chunks
        assert fake.hits == 1
        return

    readers_before = _suspended_stream_readers() if stream else set()
    extra = {"timeout": SHORT_TIMEOUT} if fault == "comment_only" else {}
    # A hang would end in the SDK's own timeout (APITimeoutError), not in the gateway's 5xx.
    with pytest.raises(openai.InternalServerError) as caught:
        if stream:
            list(_sdk(gateway).chat.completions.create(model=model, messages=MESSAGES, stream=True, extra_body=extra))
        else:
            _sdk(gateway).chat.completions.create(model=model, messages=MESSAGES, extra_body=extra)

    error = caught.value
    assert error.status_code in ({502, 504} if fault == "comment_only" else {502}), error.response.text
    body = error.response.json()
    assert_valid(body, "ErrorResponse")
    assert UPSTREAM_KEY not in error.response.text and "127.0.0.1" not in error.response.text
    attempts = closing.accepted - accepted_before if fault == "closed" else fake.hits
    if fault == "comment_only":
        # Not a hang: the idle limit ends it within the request's one deadline (which no retry outlives).
        assert attempts >= 1
    else:
        assert attempts == 2, f"retried once: {attempts} attempts"
    # Every reader of the failed attempts was closed before the error was answered, not left for the
    # garbage collector to finalise later on whichever thread collects.
    if stream:
        left = _suspended_stream_readers() - readers_before
        assert not left, f"{len(left)} SSE readers left open"


def test_credentials_never_go_over_plain_http_to_a_remote_host(gateway: str) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        _sdk(gateway).chat.completions.create(model="remote-http", messages=MESSAGES)

    assert caught.value.status_code == 502
    body = caught.value.response.json()
    assert_valid(body, "ErrorResponse")
    assert body["error"]["code"] == "insecure_upstream_url"
    assert "0.0.0.0" not in caught.value.response.text


# Replicate's Responses stream also reads the finished prediction for its usage, which this fake
# does not serve; its chat stream is in the matrix above and in tests/test_provider_replicate.py.
@pytest.mark.parametrize("provider", ["anthropic", "cohere", "gemini", "mistral", "bedrock"])
def test_responses_door_streams_from_every_translated_provider(
    servers: tuple[FaultUpstream, ClosingServer], gateway: str, provider: str
) -> None:
    """The Responses front door through the chat contract on every provider type that does not speak it."""
    fake, _ = servers
    if provider == "bedrock":
        pytest.skip("the fake plays Bedrock's event stream only as faults; Bedrock's translated path is "
                    "tested in tests/test_messages_bedrock.py and tests/test_provider_bedrock.py")
    fake.reset(Scenario(provider, "empty_event", True))  # the provider's own fixture stream, one event empty
    events = list(_sdk(gateway).responses.create(model=provider, input="Hi", stream=True))
    for event in events:
        assert_valid(event.model_dump(mode="json", exclude_unset=True), "ResponseStreamEvent")
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] in ("response.completed", "response.incomplete")
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(getattr(event, "delta", "") for event in events if event.type == "response.output_text.delta")
    assert text.strip()
