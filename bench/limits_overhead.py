"""Latency and CPU that limits and cost add to a request, and how many store calls they make.

    .venv/bin/python bench/limits_overhead.py [--requests 300] [--rounds 3] [--processes 1,2,4]

The gateway answers from the ``mock`` provider (no upstream), so what is measured is the gateway
with and without limits. Keys: ``free`` (no limits: cost only), ``limited`` (rpm, tpm and a
budget: one conditional update before the call, one settlement after), ``team`` (its own limits
and a team's: two updates at once, two settlements). Stores: SQLite in memory and in a file
(``lambdagate serve``) and DynamoDB served by moto_server on loopback (real boto3 over HTTP; moto
answers far slower than DynamoDB in-region, so its round trip is reported on its own).

1. The Lambda shape: ``Mangum(create_app(...))`` invoked in this process, one request at a time:
   wall and CPU milliseconds per request (the settlement is inside the invocation, as on Lambda),
   and DynamoDB calls per request, admissions and settlements counted apart.
2. The function-URL shape: ``lambdagate serve`` processes (1, 2, 4...) on one DynamoDB table, each
   loaded with the ``limited`` key by 8 concurrent clients: the client-observed latency (the
   settlement runs after the response there) and the admissions' round trip as processes grow.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"free": "sk-free", "limited": "sk-limited", "team": "sk-team"}
BIG = 10**9
BODY = {"model": "gpt", "messages": [{"role": "user", "content": "Say hello in five words."}], "max_tokens": 32}


def _config(path: Path, store: str | None) -> Path:
    def key(name: str, **limits: Any) -> dict[str, Any]:
        return {"name": name, "sha256": hashlib.sha256(KEYS[name].encode()).hexdigest(), **limits}

    limits = {"rpm": BIG, "tpm": BIG, "max_budget": BIG, "budget_duration": "monthly"}
    path.write_text(json.dumps({
        "settings": {"num_retries": 0, **({"limits": {"store": store}} if store else {})},
        "providers": {"mock": {}},
        "models": {"gpt": {"provider": "mock", "model": "mock-gpt", "price": {"input": 0.15, "output": 0.60}}},
        "keys": [key("free"), key("limited", **limits), key("team", **limits, team="bench")],
    }))
    return path


def _event(key: str) -> dict[str, Any]:
    """An API Gateway (REST v1) event for the chat function."""
    return {
        "resource": "/v1/chat/completions", "path": "/v1/chat/completions", "httpMethod": "POST",
        "headers": {"authorization": f"Bearer {key}", "content-type": "application/json", "host": "x.example"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "isBase64Encoded": False, "body": json.dumps(BODY),
        "requestContext": {"resourcePath": "/v1/chat/completions", "httpMethod": "POST", "path": "/v1/chat/completions",
                           "stage": "prod", "requestId": "r", "identity": {"sourceIp": "127.0.0.1"}},
    }


class _Context:
    aws_request_id = "bench"
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30000


class Counter:
    """DynamoDB calls by kind (the store's client reports each one)."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, kind: str, params: dict[str, Any]) -> None:
        if kind == "UpdateItem":
            kind = "UpdateItem (admission)" if "ConditionExpression" in params else "UpdateItem (settlement)"
        self.calls[kind] = self.calls.get(kind, 0) + 1


def lambda_shape(store_spec: str | None, requests: int, rounds: int, moto: str | None) -> dict[str, Any]:
    from mangum import Mangum

    from lambdagate.api import create_app
    from lambdagate.config.file_store import FileConfigStore
    from lambdagate.config.schema import Team

    config = _config(Path(tempfile.mkdtemp()) / "bench.json", store_spec)
    app = create_app(FileConfigStore.from_path(config), endpoints=["chat"])
    limits = app.state.gateway.limits
    store = limits.store()
    store.put_team(Team(name="bench", rpm=BIG, max_budget=BIG))
    counter = Counter()
    if hasattr(store, "client"):
        store.client().on_call = counter
    timers = {"admit": 0.0, "settle": 0.0}
    admit, write = limits.admit, limits.write

    async def timed_admit(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await admit(*args)
        finally:
            timers["admit"] += time.perf_counter() - started

    async def timed_write(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await write(*args)
        finally:
            timers["settle"] += time.perf_counter() - started

    limits.admit, limits.write = timed_admit, timed_write
    handler = Mangum(app, lifespan="off")
    context = _Context()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    events = {name: _event(key) for name, key in KEYS.items()}
    for event in events.values():
        for _ in range(10):
            assert handler(event, context)["statusCode"] == 200  # type: ignore[arg-type]
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "admit": [], "settle": []}
                                                  for name in KEYS}
    calls: dict[str, dict[str, int]] = {name: {} for name in KEYS}
    for _ in range(rounds):  # the keys take turns, so drift in the machine's load hits them alike
        for name, event in events.items():
            counter.calls.clear()
            timers.update(admit=0.0, settle=0.0)
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(requests):
                response = handler(event, context)  # type: ignore[arg-type]
                assert response["statusCode"] == 200, response
            row = samples[name]
            row["wall"].append((time.perf_counter() - started) * 1000 / requests)
            row["cpu"].append((time.process_time() - cpu_started) * 1000 / requests)
            row["admit"].append(timers["admit"] * 1000 / requests)
            row["settle"].append(timers["settle"] * 1000 / requests)
            for kind, count in counter.calls.items():
                calls[name][kind] = calls[name].get(kind, 0) + count
    return {name: {**{k: statistics.median(v) for k, v in row.items()},
                   "calls_per_request": {k: v / (requests * rounds) for k, v in sorted(calls[name].items())}}
            for name, row in samples.items()}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def uvicorn_shape(moto: str, table: str, processes: int, requests: int) -> dict[str, float]:
    """Client-observed latency (median, p90 ms) of the limited and free keys across ``processes`` gateways."""
    import httpx

    config = _config(Path(tempfile.mkdtemp()) / "bench.json", None)
    env = {**os.environ, "LAMBDAGATE_LIMITS": f"dynamodb:{table}", "AWS_ENDPOINT_URL_DYNAMODB": moto}
    servers = []
    for _ in range(processes):
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "lambdagate.cli", "serve", "--config", str(config),
                                 "--port", str(port), "--log-level", "warning"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        servers.append((proc, f"http://127.0.0.1:{port}"))
    try:
        for _, url in servers:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(url + "/", timeout=0.5)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)

        async def load(key: str, count: int) -> list[float]:
            latencies: list[float] = []
            async with httpx.AsyncClient(timeout=30) as client:
                async def worker(index: int) -> None:
                    for n in range(count // 8):
                        url = servers[(index + n) % len(servers)][1]
                        started = time.perf_counter()
                        r = await client.post(url + "/v1/chat/completions", json=BODY,
                                              headers={"authorization": f"Bearer {key}"})
                        assert r.status_code == 200, r.text
                        latencies.append((time.perf_counter() - started) * 1000)

                await asyncio.gather(*(worker(i) for i in range(8)))
            return latencies

        asyncio.run(load(KEYS["limited"], 16 * processes))
        out: dict[str, float] = {}
        for name in ("free", "limited"):
            latencies = sorted(asyncio.run(load(KEYS[name], requests)))
            out[f"{name}_p50_ms"] = statistics.median(latencies)
            out[f"{name}_p90_ms"] = latencies[int(len(latencies) * 0.9)]
        return out
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait()


def moto_round_trip(moto: str, table: str, count: int = 200) -> float:
    import boto3

    client = boto3.client("dynamodb", endpoint_url=moto)
    key = {"pk": {"S": "bench#rtt"}, "sk": {"S": "total"}}
    started = time.perf_counter()
    for _ in range(count):
        client.update_item(TableName=table, Key=key, UpdateExpression="ADD n :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    return (time.perf_counter() - started) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--moto-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ.setdefault(name, value)
    import logging

    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from lambdagate.limits.dynamodb import describe_table

    class SerialMotoServer(ThreadedMotoServer):
        """One request at a time: moto's backend does not lock items (DynamoDB does)."""

        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, False, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if args.moto_child:
        moto = SerialMotoServer(ip_address="127.0.0.1", port=args.moto_child, verbose=False)
        moto.start()
        moto._thread.join()  # type: ignore[union-attr]
        return
    # moto in a process of its own, so this process's CPU is the gateway's alone
    moto_port = _free_port()
    moto_process = subprocess.Popen([sys.executable, __file__, "--moto-child", str(moto_port)])
    endpoint = f"http://127.0.0.1:{moto_port}"
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint
    deadline = time.monotonic() + 30
    while True:
        try:
            boto3.client("dynamodb").list_tables()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        table = "bench-limits"
        boto3.client("dynamodb").create_table(**json.loads(describe_table(table)))
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.requests} requests x "
              f"{args.rounds} rounds, medians")
        print(f"moto_server UpdateItem round trip: {moto_round_trip(endpoint, table):.2f} ms")
        print("\n1. Lambda shape (Mangum, in process, sequential): ms per request (wall, gateway CPU, in the admission"
              " before the call, in the settlement after the answer) and store calls")
        for label, spec in (("sqlite memory", "memory"), ("sqlite file", f"sqlite:{tempfile.mkdtemp()}/l.db"),
                            ("dynamodb (moto)", f"dynamodb:{table}")):
            results = lambda_shape(spec, args.requests, args.rounds, endpoint)
            for key, row in results.items():
                print(f"   {label:16} {key:8} wall {row['wall']:7.3f}  cpu {row['cpu']:6.3f}  "
                      f"admission {row['admit']:7.3f}  settlement {row['settle']:7.3f}  "
                      f"calls {row['calls_per_request'] or '-'}")
        print("\n2. Function-URL shape (lambdagate serve processes on one table, 8 concurrent clients)")
        for processes in (int(p) for p in args.processes.split(",")):
            row = uvicorn_shape(endpoint, table, processes, args.requests)
            print(f"   {processes} process(es): free p50 {row['free_p50_ms']:6.2f} p90 {row['free_p90_ms']:6.2f} ms; "
                  f"limited p50 {row['limited_p50_ms']:6.2f} p90 {row['limited_p90_ms']:6.2f} ms")
    finally:
        moto_process.terminate()
        moto_process.wait()


if __name__ == "__main__":
    main()
