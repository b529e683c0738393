"""The DynamoDB limits store, over real boto3 and HTTP against moto_server on loopback.

The last test starts two gateway *processes* (``lambdagate serve``) on one table and sends them
bursts of parallel requests: no rpm, team or tpm limit admits one request more than it allows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import free_port
from lambdagate.config.schema import Team
from lambdagate.limits.dynamodb import DynamoDBStore, describe_table
from lambdagate.limits.store import Claim, Refusal, Settlement, Subject
from lambdagate.limits.windows import KEEP_BUDGET_WINDOWS, budget_window, minute_of

NOW = 1_796_169_600.0 + 5  # 2026-12-02T00:00:05Z
ROOT = Path(__file__).resolve().parents[1]


def serial_moto_server() -> Any:
    """moto_server in a thread, answering one request at a time.

    DynamoDB applies the writes of one item one after the other; moto's backend does not lock, so
    its threaded server lets two conditional updates of one item both read the old value (and
    fails some with "dictionary changed size during iteration"). One request at a time is what
    makes moto as strict as DynamoDB for the concurrency test.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, False, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto_server on 127.0.0.1 in a thread, with fake credentials for every boto3 client of this module."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = serial_moto_server()
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ENDPOINT_URL_DYNAMODB", endpoint)):
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_SESSION_TOKEN", raising=False)
        yield endpoint
    server.stop()


@pytest.fixture
def table(moto_endpoint: str) -> str:
    import boto3

    name = f"limits-{uuid.uuid4().hex[:8]}"
    boto3.client("dynamodb").create_table(**json.loads(describe_table(name)))
    return name


def item(table: str, pk: str, sk: str) -> dict[str, Any]:
    import boto3

    found: dict[str, Any] = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item", {})
    return found


def claim(subject: Subject, now: float = NOW, tokens: int = 0) -> Claim:
    return Claim(subject, minute_of(now), budget_window(subject.budget_duration, now), tokens)


def test_one_conditional_update_checks_rpm_tpm_and_budget(table: str) -> None:
    store = DynamoDBStore(table)
    subject = Subject("key", "abc", "alice", rpm=2, tpm=100, max_budget=Decimal("0.5"), budget_duration="1d")
    store.admit(claim(subject, tokens=40), NOW)
    store.admit(claim(subject, tokens=40), NOW)
    with pytest.raises(Refusal) as rpm:
        store.admit(claim(subject, tokens=1), NOW)
    assert (rpm.value.limit, rpm.value.used) == ("rpm", 2)
    minute = minute_of(NOW)
    stored = item(table, "key#abc", "1d#1796169600")
    assert stored[f"r{minute}"] == {"N": "2"} and stored[f"t{minute}"] == {"N": "80"} and stored["req"] == {"N": "2"}
    # The TTL attribute: the window's end plus 90 days.
    assert int(stored["expires"]["N"]) == 1796169600 + 86400 + KEEP_BUDGET_WINDOWS
    tokens_only = Subject("key", "tpm", "t", tpm=100)
    store.admit(claim(tokens_only, tokens=60), NOW)
    with pytest.raises(Refusal) as tpm:
        store.admit(claim(tokens_only, tokens=60), NOW)  # 60 + 60 > 100
    assert (tpm.value.limit, tpm.value.used) == ("tpm", 60)
    store.admit(claim(tokens_only, tokens=40), NOW)  # 60 + 40 fits exactly
    budget = Subject("key", "money", "m", max_budget=Decimal("0.01"))
    grant = store.admit(claim(budget), NOW)
    store.settle(Settlement(grant.claim, 10, Decimal("0.0100000001")))
    with pytest.raises(Refusal) as spent:
        store.admit(claim(budget), NOW)
    assert spent.value.limit == "budget" and spent.value.used == Decimal("0.0100000001")
    assert "expires" not in item(table, "key#money", "total")  # a lifetime budget never expires


def test_settlement_reconciles_tokens_and_drops_stale_minutes(table: str) -> None:
    store = DynamoDBStore(table)
    subject = Subject("key", "k", "k", rpm=100, tpm=10_000)
    early = store.admit(claim(subject, tokens=500), NOW)
    store.settle(Settlement(early.claim, 120, Decimal("0.25"), 120 - 500, False, early.stale))
    later_time = NOW + 600  # ten minutes on: the first minute's counters are stale
    later = store.admit(claim(subject, later_time, tokens=300), later_time)
    old = minute_of(NOW)
    assert set(later.stale) == {f"r{old}", f"t{old}"}
    store.settle(Settlement(later.claim, 200, Decimal("0.5"), 200 - 300, False, later.stale))
    stored = item(table, "key#k", "total")
    new = minute_of(later_time)
    assert f"r{old}" not in stored and f"t{old}" not in stored
    assert stored[f"t{new}"] == {"N": "200"} and stored["tok"] == {"N": "320"}
    assert Decimal(stored["spend"]["N"]) == Decimal("0.75")
    usage = store.usage(subject, later_time)
    assert (usage.current.requests, usage.current.tokens) == (2, 320)
    assert (usage.minute_requests, usage.minute_tokens) == (1, 200)


def test_undo_takes_an_admission_back(table: str) -> None:
    store = DynamoDBStore(table)
    subject = Subject("team", "t", "t", rpm=1)
    grant = store.admit(claim(subject, tokens=7), NOW)
    store.undo(grant)
    store.admit(claim(subject, tokens=7), NOW)  # the minute's one request is free again


def test_teams_and_history(table: str) -> None:
    store = DynamoDBStore(table)
    store.put_team(Team(name="research", rpm=10, max_budget=Decimal("50"), budget_duration="monthly"))
    store.put_team(Team(name="ops", tpm=1000))
    assert store.team("research") == Team(name="research", rpm=10, max_budget=Decimal("50"), budget_duration="monthly")
    assert store.team("nobody") is None
    assert [t.name for t in store.teams()] == ["ops", "research"]
    assert store.delete_team("ops") and not store.delete_team("ops")
    subject = Subject("team", "research", "research", rpm=10, max_budget=Decimal("50"), budget_duration="monthly")
    november = NOW - 5 * 86400
    grant = store.admit(claim(subject, november), november)
    store.settle(Settlement(grant.claim, 10, Decimal("1.5")))
    usage = store.usage(subject, NOW)
    assert usage.current.window == "monthly#2026-12" and usage.current.requests == 0
    assert [(w.window, w.spend) for w in usage.history] == [("monthly#2026-11", Decimal("1.5"))]


def test_store_errors_are_store_errors(moto_endpoint: str) -> None:
    from lambdagate.limits.errors import StoreError

    with pytest.raises(StoreError, match="ResourceNotFoundException"):
        DynamoDBStore("no-such-table").admit(claim(Subject("key", "k", "k", rpm=1)), NOW)


# --- two gateway processes, one table ---------------------------------------------------------------


KEYS = {"sk-own": "own", "sk-team-1": "team-1", "sk-team-2": "team-2", "sk-tokens": "tokens"}


def _gateway_config(path: Path) -> Path:
    path.write_text(json.dumps({
        "settings": {"num_retries": 0, "stream_keepalive": 0},
        "providers": {"mock": {}},
        "models": {"gpt": {"provider": "mock", "model": "mock-gpt", "price": {"input": 100, "output": 200}},
                   "slow": {"provider": "mock", "model": "mock-gpt", "latency": 6}},
        "keys": [
            {"name": "own", "sha256": hashlib.sha256(b"sk-own").hexdigest(), "rpm": 20},
            {"name": "team-1", "sha256": hashlib.sha256(b"sk-team-1").hexdigest(), "team": "shared"},
            {"name": "team-2", "sha256": hashlib.sha256(b"sk-team-2").hexdigest(), "team": "shared", "rpm": 1000},
            # Each request below is estimated at 100 tokens (a 400-byte body): four fit in 450.
            {"name": "tokens", "sha256": hashlib.sha256(b"sk-tokens").hexdigest(), "tpm": 450},
        ],
    }))
    return path


def _start_gateway(config: Path, table: str, endpoint: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "LAMBDAGATE_LIMITS": f"dynamodb:{table}", "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "lambdagate"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "lambdagate.cli", "serve", "--config", str(config),
                                "--port", str(port), "--log-level", "warning"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=0.5)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gateway did not start")


def _body(model: str, size: int) -> bytes:
    """A chat request of exactly ``size`` bytes (``max_tokens: 1``): estimated at size / 4 + 1 tokens."""
    base = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    padding = size - len(json.dumps(base, separators=(",", ":"))) - len(',"user":""')
    body = json.dumps({**base, "user": "x" * padding}, separators=(",", ":")).encode()
    assert len(body) == size
    return body


async def _burst(urls: list[str], jobs: list[tuple[str, bytes]]) -> list[tuple[str, int]]:
    """Every job at once, alternating between the gateways: (key, status) per request."""
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        async def one(index: int, key: str, body: bytes) -> tuple[str, int]:
            response = await client.post(urls[index % len(urls)] + "/v1/chat/completions", content=body,
                                         headers={"authorization": f"Bearer {key}",
                                                  "content-type": "application/json"})
            return key, response.status_code

        return list(await asyncio.gather(*(one(i, key, body) for i, (key, body) in enumerate(jobs))))


def test_two_gateway_processes_never_over_admit(table: str, moto_endpoint: str, tmp_path: Path) -> None:
    DynamoDBStore(table).put_team(Team(name="shared", rpm=30))
    config = _gateway_config(tmp_path / "gateway.json")
    gateways = [_start_gateway(config, table, moto_endpoint) for _ in range(2)]
    try:
        urls = [url for _, url in gateways]
        if time.time() % 60 > 30:  # the bursts must fall in one minute: start at the next one
            time.sleep(60 - time.time() % 60 + 0.2)
        minute = minute_of(time.time())
        # 20 requests for a key with tpm 450, each estimated at 100 tokens and all in flight at once
        # (6 s each, so no settlement gives tokens back during the burst); 60 for a key with rpm 20;
        # 60 for two keys sharing a team's rpm 30.
        jobs = [("sk-tokens", _body("slow", 396)) for _ in range(20)]
        jobs += [("sk-own", _body("gpt", 200)) for _ in range(60)]
        jobs += [(("sk-team-1", "sk-team-2")[i % 2], _body("gpt", 200)) for i in range(60)]
        results = asyncio.run(_burst(urls, jobs))
        assert minute_of(time.time()) == minute, "the burst outlived its minute; rerun"
        assert {status for _, status in results} == {200, 429}  # never a 500, never a store failure
        admitted = {key: sum(1 for k, status in results if k == key and status == 200) for key in KEYS}
        refused = {key: sum(1 for k, status in results if k == key and status == 429) for key in KEYS}
        assert admitted["sk-own"] == 20 and refused["sk-own"] == 40
        assert admitted["sk-team-1"] + admitted["sk-team-2"] == 30
        assert refused["sk-team-1"] + refused["sk-team-2"] == 30
        assert admitted["sk-tokens"] == 4 and refused["sk-tokens"] == 16
        # What the table holds agrees: 20 requests counted for the key, 30 for the team.
        own = item(table, "key#" + hashlib.sha256(b"sk-own").hexdigest(), "total")
        assert own[f"r{minute}"] == {"N": "20"}
        assert item(table, "team#shared", "total")[f"r{minute}"] == {"N": "30"}
        # Every admitted request was settled from its real usage: "hi" is 1 prompt token ($100/M), the
        # answer 1 completion token (max_tokens 1, $200/M): $0.0003 each.
        deadline = time.monotonic() + 30
        while Decimal(own.get("spend", {"N": "0"})["N"]) < 20 * Decimal("0.0003") and time.monotonic() < deadline:
            time.sleep(0.1)
            own = item(table, "key#" + hashlib.sha256(b"sk-own").hexdigest(), "total")
        assert Decimal(own["spend"]["N"]) == 20 * Decimal("0.0003") and own["tok"] == {"N": str(20 * 2)}
    finally:
        for process, _ in gateways:
            process.terminate()
            process.wait(timeout=10)


def test_cli_teams_and_key_usage_on_dynamodb(table: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lambdagate.cli import main
    from lambdagate.config.schema import KeyRecord
    from lambdagate.limits import key_subject

    store = f"dynamodb:{table}"
    assert main(["teams", "create", "ops", "--tpm", "9000", "--budget", "100", "--store", store]) == 0
    assert main(["teams", "list", "--store", store]) == 0
    assert "ops   rpm -, tpm 9000, budget $100 in all" in capsys.readouterr().out
    sha = hashlib.sha256(b"sk-cli").hexdigest()
    (tmp_path / "gateway.json").write_text(json.dumps(
        {"keys": [{"name": "cli", "sha256": sha, "rpm": 3, "team": "ops"}]}))
    record = KeyRecord(name="cli", sha256=sha, rpm=3, team="ops")
    now = time.time()
    grant = DynamoDBStore(table).admit(claim(key_subject(record), now, tokens=50), now)
    DynamoDBStore(table).settle(Settlement(grant.claim, 40, Decimal("0.002"), -10, False, grant.stale))
    assert main(["keys", "usage", "cli", "--config", str(tmp_path / "gateway.json"), "--store", store]) == 0
    out = capsys.readouterr().out
    assert "window total (lifetime): $0.002 spent, 1 requests, 40 tokens" in out
    assert "team ops: rpm -, tpm 9000" in out
    if minute_of(time.time()) == minute_of(now):  # the report reads the minute it runs in
        assert "this minute: 1 requests of 3, 40 tokens" in out
