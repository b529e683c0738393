"""Limits, budgets and cost through the real app and the official openai SDK, on the SQLite store.

The gateway runs on loopback with the ``mock`` provider (priced by a deployment override, so every
answer has a known cost) and an injected clock, so windows roll over when a test says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from conftest import ServerThread
from lambdagate.api import create_app
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import GatewayConfig, Team
from lambdagate.limits import COST_HEADER, Limits, key_subject, team_subject
from lambdagate.limits.errors import StoreError
from lambdagate.limits.sqlite import SqliteStore
from lambdagate.limits.store import SubjectUsage

# mock-gpt at $100 / $200 per million tokens: "hello there" (2 prompt tokens) is answered
# "You said: hello there" (4 completion tokens), 2 x 100 + 4 x 200 = $0.001.
PRICE = {"input": 100, "output": 200}
ONE_ANSWER = Decimal("0.001")
START = 1_796_169_600.0 + 5  # 2026-12-02T00:00:05Z: the start of a UTC day and of a minute


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    url: str
    limits: Limits
    store: Any
    clock: Clock
    settlements: list[Any]

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url, api_key=key, max_retries=0, timeout=20)

    def usage(self, key: str | None = None, team: Team | None = None) -> SubjectUsage:
        record = self.limits.config.key(sha(key)) if key else None
        subject = key_subject(record) if record else team_subject(team)  # type: ignore[arg-type]
        result: SubjectUsage = self.store.usage(subject, self.clock())
        return result

    def settled(self, key: str | None, settlements: int, team: Team | None = None,
                timeout: float = 30.0) -> SubjectUsage:
        """Usage once ``settlements`` settlements were written (the spend is written after the answer)."""
        deadline = time.monotonic() + timeout
        while len(self.settlements) < settlements and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.usage(key, team)


def config(keys: list[dict[str, Any]], **limits: Any) -> GatewayConfig:
    return GatewayConfig.model_validate({
        "settings": {"limits": limits} if limits else {},
        "providers": {"mock": {}},
        "models": {"gpt": {"provider": "mock", "model": "mock-gpt", "price": PRICE},
                   "free": {"provider": "mock", "model": "mock-gpt"}},
        "keys": [{"sha256": sha(k.pop("key")), **k} for k in keys],
    })


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    servers: list[ServerThread] = []

    def start(keys: list[dict[str, Any]], store: Any = None, teams: tuple[Team, ...] = (), **limits: Any) -> Served:
        app = create_app(FileConfigStore(config(keys, **limits)), endpoints=["chat", "completions", "models"])
        gateway_limits: Limits = app.state.gateway.limits
        store = store if store is not None else SqliteStore(":memory:")
        for team in teams:
            store.put_team(team)
        clock = Clock()
        gateway_limits._store, gateway_limits.clock = store, clock
        settlements: list[Any] = []
        if isinstance(store, SqliteStore):
            settle = store.settle

            def counted(settlement: Any) -> None:
                settle(settlement)
                settlements.append(settlement)

            store.settle = counted  # type: ignore[method-assign]
        server = ServerThread(app).__enter__()
        servers.append(server)
        return Served(server.url + "/v1", gateway_limits, store, clock, settlements)

    yield start
    for server in servers:
        server.__exit__()


def ask(client: openai.OpenAI, model: str = "gpt", **extra: Any) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hello there"}], **extra)


# --- rate limits -----------------------------------------------------------------------------------


def test_rpm_refuses_with_retry_after_until_the_next_minute(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-a", "name": "alice", "rpm": 2}])
    client = served.client("sk-a")
    assert ask(client).http_response.status_code == 200
    assert ask(client).http_response.status_code == 200
    served.clock.now += 20
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client)
    response = refused.value.response
    assert response.headers["retry-after"] == "35" and response.headers["retry-after-ms"] == "35000"
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("requests", "rate_limit_exceeded", None)
    assert error["message"] == ("Rate limit reached for key 'alice' on requests per min (RPM): Limit 2, Used 2, "
                                "Requested 1. Please try again in 35s.")
    assert response.headers["x-request-id"]
    served.clock.now += 35  # the next minute
    assert ask(client).http_response.status_code == 200


def test_tpm_admits_on_the_estimate_and_reconciles_with_real_usage(serve: Callable[..., Served]) -> None:
    # The body is about 90 bytes (23 tokens at 4 bytes each) + max_tokens 100 = an estimate of ~123.
    served = serve([{"key": "sk-t", "name": "tokens", "tpm": 200}])
    client = served.client("sk-t")
    assert ask(client, max_tokens=100).http_response.status_code == 200
    usage = served.settled("sk-t", 1)
    assert usage.minute_tokens == 6  # reconciled: the estimate was replaced by the real 2 + 4 tokens
    assert ask(client, max_tokens=100).http_response.status_code == 200
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client, max_tokens=190)  # 6 + 6 used, ~213 asked of 200
    assert refused.value.response.json()["error"]["type"] == "tokens"
    assert "tokens per min (TPM): Limit 200, Used 12" in refused.value.response.json()["error"]["message"]


# --- budgets and spend -------------------------------------------------------------------------------


def test_budget_is_insufficient_quota_and_rolls_over_with_its_window(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-b", "name": "bob", "max_budget": 0.0015, "budget_duration": "1d"}])
    client = served.client("sk-b")
    first = ask(client)
    assert first.headers[COST_HEADER] == "0.001"
    served.settled("sk-b", 1)
    assert ask(client).http_response.status_code == 200  # $0.001 spent < $0.0015: admitted
    assert served.settled("sk-b", 2).current.spend == 2 * ONE_ANSWER
    with pytest.raises(openai.RateLimitError) as refused:
        ask(client)
    response = refused.value.response
    assert response.headers["x-should-retry"] == "false" and "retry-after" not in response.headers
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert response.json()["error"]["type"] == "insufficient_quota"
    assert response.json()["error"]["message"] == (
        "The budget of key 'bob' is used up: $0.002 spent of $0.0015 (resets 2026-12-03T00:00:00Z).")
    served.clock.now += 86_400  # the next UTC day: a new window
    assert ask(client).http_response.status_code == 200
    usage = served.settled("sk-b", 3)
    assert usage.current.spend == ONE_ANSWER and [w.spend for w in usage.history] == [2 * ONE_ANSWER]


def test_monthly_budget_window(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-m", "name": "monthly", "max_budget": 0.0005, "budget_duration": "monthly"}])
    client = served.client("sk-m")
    ask(client)
    served.settled("sk-m", 1)
    with pytest.raises(openai.RateLimitError):
        ask(client)
    served.clock.now += 29 * 86_400  # 2026-12-31: still December
    with pytest.raises(openai.RateLimitError):
        ask(client)
    served.clock.now += 86_400  # 2027-01-01
    assert ask(client).http_response.status_code == 200


def test_cost_of_a_stream_without_include_usage_and_the_usage_chunk_hidden(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-s", "name": "streamer", "max_budget": 10}])
    client = served.client("sk-s")
    chunks = list(client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hello there"}],
                                                 stream=True))
    # The gateway asked the upstream for usage; the client did not, so it never sees that chunk.
    assert chunks and all(chunk.choices for chunk in chunks) and all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "You said: hello there"
    usage = served.settled("sk-s", 1)
    assert usage.current.spend == ONE_ANSWER and usage.current.tokens == 6
    # The cost comes at the end of the stream, as an SSE comment (SDKs skip comments).
    with httpx.stream("POST", served.url + "/chat/completions", headers={"authorization": "Bearer sk-s"},
                      json={"model": "gpt", "stream": True, "messages": [{"role": "user", "content": "hello there"}]},
                      timeout=20) as raw:
        text = raw.read().decode()
    assert f": {COST_HEADER}: 0.001\n\ndata: [DONE]" in text
    assert '"choices":[]' not in text


def test_a_stream_with_include_usage_keeps_its_usage_chunk(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-u", "name": "usage"}])
    chunks = list(served.client("sk-u").chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hello there"}], stream=True,
        stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 6


def test_text_completions_are_billed_and_limited_too(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-c", "name": "completer", "rpm": 1}])
    client = served.client("sk-c")
    response = client.completions.with_raw_response.create(model="gpt", prompt="hello there")
    assert response.headers[COST_HEADER] == "0.001"
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model="gpt", prompt="hello there", stream=True)


def test_request_log_line_carries_cost_team_and_tokens(serve: Callable[..., Served],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    team = Team(name="research", rpm=100)
    served = serve([{"key": "sk-l", "name": "logger", "team": "research"}], teams=(team,))
    with caplog.at_level(logging.INFO, logger="lambdagate.request"):
        ask(served.client("sk-l"))
        deadline = time.monotonic() + 30
        while not [r for r in caplog.records if r.name == "lambdagate.request"] and time.monotonic() < deadline:
            time.sleep(0.01)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "lambdagate.request"]
    assert lines[-1]["cost_usd"] == 0.001 and lines[-1]["team"] == "research"
    assert lines[-1]["key_name"] == "logger" and lines[-1]["limited"] is None and "sk-l" not in json.dumps(lines)


def test_unpriced_models_have_no_cost_header(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-f", "name": "free"}])
    assert ask(served.client("sk-f"), model="free").headers[COST_HEADER] == "0"  # the mock's own price: $0


# --- keys, teams ----------------------------------------------------------------------------------------


def test_disabled_and_expired_keys_are_401(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-off", "name": "off", "disabled": True},
                    {"key": "sk-old", "name": "old", "expires_at": "2026-12-02T00:01:00Z"}])
    with pytest.raises(openai.AuthenticationError) as disabled:
        ask(served.client("sk-off"))
    assert disabled.value.response.json()["error"] == {
        "message": "This API key has been disabled.", "type": "invalid_request_error", "param": None,
        "code": "invalid_api_key"}
    assert ask(served.client("sk-old")).http_response.status_code == 200
    served.clock.now += 60
    with pytest.raises(openai.AuthenticationError) as expired:
        served.client("sk-old").models.list()
    assert expired.value.response.json()["error"]["message"] == "This API key has expired."


def test_a_team_limit_is_shared_by_its_keys(serve: Callable[..., Served]) -> None:
    team = Team(name="platform", rpm=3, max_budget=Decimal("1"))
    served = serve([{"key": "sk-1", "name": "one", "team": "platform"},
                    {"key": "sk-2", "name": "two", "team": "platform", "rpm": 10}], teams=(team,))
    one, two = served.client("sk-1"), served.client("sk-2")
    assert [ask(c).http_response.status_code for c in (one, two, one)] == [200, 200, 200]
    with pytest.raises(openai.RateLimitError) as refused:
        ask(two)
    assert "for team 'platform' on requests per min (RPM): Limit 3, Used 3" in refused.value.message
    # The refused request took nothing from the key's own limit: its counter was taken back.
    assert served.usage("sk-2").minute_requests == 1
    assert served.settled(None, 4, team=team).current.spend == 3 * ONE_ANSWER  # sk-2's own window too


def test_disabled_or_missing_team_is_401(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-d", "name": "d", "team": "gone"}, {"key": "sk-e", "name": "e", "team": "frozen"}],
                   teams=(Team(name="frozen", disabled=True),))
    with pytest.raises(openai.AuthenticationError) as missing:
        ask(served.client("sk-d"))
    assert missing.value.message.endswith("The team 'gone' of this API key does not exist.")
    with pytest.raises(openai.AuthenticationError):
        ask(served.client("sk-e"))


# --- the store: no calls without limits, fail open or closed, never a 500 ------------------------------------


class BrokenStore:
    blocking = False

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> Any:
            self.calls.append(name)
            raise self.error

        return fail


def test_keys_without_limits_never_reach_the_store(serve: Callable[..., Served]) -> None:
    store = BrokenStore(AssertionError("no store call expected"))
    served = serve([{"key": "sk-n", "name": "unlimited"}], store=store)
    response = ask(served.client("sk-n"))
    assert response.http_response.status_code == 200 and response.headers[COST_HEADER] == "0.001"
    time.sleep(0.1)
    assert store.calls == []


def test_store_failure_fails_open_by_default(serve: Callable[..., Served]) -> None:
    store = BrokenStore(StoreError("DynamoDB is down"))
    served = serve([{"key": "sk-o", "name": "open", "rpm": 1}], store=store)
    assert [ask(served.client("sk-o")).http_response.status_code for _ in range(3)] == [200, 200, 200]
    assert store.calls[0] == "admit"


def test_store_failure_fails_closed_when_configured(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-x", "name": "closed", "rpm": 1}], store=BrokenStore(StoreError("down")),
                   on_store_error="closed")
    with pytest.raises(openai.InternalServerError) as refused:
        ask(served.client("sk-x"))
    assert refused.value.status_code == 503
    assert refused.value.response.json()["error"]["code"] == "limits_unavailable"


def test_an_unexpected_store_error_is_never_a_500(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-r", "name": "r", "max_budget": 1}], store=BrokenStore(RuntimeError("bug")))
    assert ask(served.client("sk-r")).http_response.status_code == 200


def test_track_spend_records_keys_without_limits(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-k", "name": "tracked"}], track_spend=True)
    ask(served.client("sk-k"))
    usage = served.settled("sk-k", 1)
    assert (usage.current.requests, usage.current.spend, usage.current.tokens) == (1, ONE_ANSWER, 6)


def test_sqlite_file_store_is_shared(tmp_path: Any) -> None:
    """Two stores on one file (two `lambdagate serve` processes) see one counter."""
    path = str(tmp_path / "limits.db")
    first, second = SqliteStore(path), SqliteStore(path)
    assert first.blocking and second.blocking
    from lambdagate.limits.store import Claim, Refusal, Subject
    from lambdagate.limits.windows import budget_window, minute_of

    subject = Subject("key", "k", "k", rpm=3)
    claim = Claim(subject, minute_of(START), budget_window(None, START), 0)
    first.admit(claim, START)
    second.admit(claim, START)
    first.admit(claim, START)
    with pytest.raises(Refusal):
        second.admit(claim, START)
    second.put_team(Team(name="t", rpm=1))
    assert [t.name for t in first.teams()] == ["t"] and first.delete_team("t") and not first.delete_team("t")


def test_reset_forgets_teams(serve: Callable[..., Served]) -> None:
    served = serve([{"key": "sk-z", "name": "z", "team": "t"}], teams=(Team(name="t", rpm=5),))
    ask(served.client("sk-z"))
    assert "t" in served.limits._teams
    served.limits.reset()  # what a SnapStart restore calls: teams are read again
    assert served.limits._teams == {}
