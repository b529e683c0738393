"""Per-request CPU the gateway adds over calling the upstream directly, measured side by side.

    .venv/bin/python bench/overhead.py [--requests 2000] [--transport aiohttp|httpx]

An OpenAI-compatible upstream runs in a separate process (its CPU is not counted). In this
process, two paths make the same non-streamed chat request, measured with ``time.process_time``:

- direct: the shared upstream client posts the request itself (what an application would pay);
- lambda: the real per-endpoint Lambda shape, ``Mangum(create_app(...))`` invoked with an API
  Gateway event per request, which authenticates, validates, routes and forwards upstream bytes.

The difference is the gateway's overhead per request on the Lambda path. A second measurement
runs the app under uvicorn (the streaming function's shape) in a child process and loads it
from here at concurrency 1 and 16, counting the child's CPU per request (uvicorn's HTTP work
included). Medians of several rounds from one run are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

KEY = "sk-bench"
BODY = {"model": "gpt", "messages": [{"role": "system", "content": "You are terse."},
                                     {"role": "user", "content": "Say hello in five words."}],
        "temperature": 0.2, "max_tokens": 32}

UPSTREAM_APP = '''
import json, time
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
PAYLOAD = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, how are you", "refusal": None},
                 "finish_reason": "stop", "logprobs": None}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}}).encode()
async def chat(request):
    await request.body()
    return Response(PAYLOAD, media_type="application/json")
app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
'''


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    import httpx

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def _config(upstream: str, path: Path) -> Path:
    import hashlib

    path.write_text(json.dumps({
        "settings": {"num_retries": 0},
        "providers": {"up": {"type": "openai", "api_base": upstream + "/v1", "api_key": "sk-upstream"}},
        "models": {"gpt": {"provider": "up", "model": "gpt-4o-mini"}},
        "keys": [{"name": "bench", "sha256": hashlib.sha256(KEY.encode()).hexdigest()}],
    }))
    return path


def _event() -> dict[str, Any]:
    return {
        "resource": "/v1/chat/completions", "path": "/v1/chat/completions", "httpMethod": "POST",
        "headers": {"authorization": f"Bearer {KEY}", "content-type": "application/json", "host": "x.example"},
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


def lambda_path(upstream: str, requests: int, rounds: int) -> tuple[float, float]:
    """(direct, lambda) median CPU ms per request, both in this process on one event loop."""
    from mangum import Mangum

    from lambdagate.api import create_app
    from lambdagate.config.file_store import FileConfigStore
    from lambdagate.upstream_http import get_client

    handler = Mangum(create_app(FileConfigStore.from_path(_config(upstream, Path("/tmp/lambdagate-bench.json"))),
                                endpoints=["chat"]), lifespan="off")
    event, context = _event(), _Context()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    payload = json.dumps({**BODY, "model": "gpt-4o-mini"}).encode()

    async def direct_once() -> None:
        response = await get_client().post(upstream + "/v1/chat/completions", content=payload,
                                           headers={"authorization": "Bearer sk-upstream",
                                                    "content-type": "application/json"})
        json.loads(response.content)

    def direct() -> None:
        loop.run_until_complete(direct_once())

    def via_lambda() -> None:
        response = handler(event, context)  # type: ignore[arg-type]
        assert response["statusCode"] == 200, response

    results = {"direct": [], "lambda": []}  # type: dict[str, list[float]]
    for _ in range(20):
        direct()
        via_lambda()
    for _ in range(rounds):
        for name, call in (("direct", direct), ("lambda", via_lambda)):
            started = time.process_time()
            for _ in range(requests):
                call()
            results[name].append((time.process_time() - started) * 1000 / requests)
    return statistics.median(results["direct"]), statistics.median(results["lambda"])


def _cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def uvicorn_path(upstream: str, requests: int, concurrency: int, env: dict[str, str]) -> float:
    """CPU ms per request of the gateway under uvicorn, loaded at ``concurrency``."""
    import httpx

    port = _free_port()
    config = _config(upstream, Path("/tmp/lambdagate-bench-uvicorn.json"))
    server = _start([sys.executable, "-m", "lambdagate.cli", "serve", "--config", str(config), "--port", str(port),
                     "--log-level", "warning"], port, env)
    try:
        async def load(count: int) -> None:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                         limits=httpx.Limits(max_connections=concurrency)) as client:
                async def worker(n: int) -> None:
                    for _ in range(n):
                        r = await client.post("/v1/chat/completions", json=BODY,
                                              headers={"authorization": f"Bearer {KEY}"})
                        assert r.status_code == 200, r.text
                await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))

        asyncio.run(load(concurrency * 10))
        before = _cpu_ms(server.pid)
        asyncio.run(load(requests))
        return (_cpu_ms(server.pid) - before) / (requests // concurrency * concurrency)
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--transport", choices=["aiohttp", "httpx"], default="aiohttp")
    args = parser.parse_args()
    env = {"LAMBDAGATE_HTTP_TRANSPORT": args.transport}
    os.environ.update(env)
    port = _free_port()
    upstream_file = Path("/tmp/lambdagate_bench_upstream.py")
    upstream_file.write_text(UPSTREAM_APP)
    upstream = _start([sys.executable, "-m", "uvicorn", "--app-dir", "/tmp", "lambdagate_bench_upstream:app",
                       "--port", str(port), "--log-level", "warning", "--no-access-log"], port)
    url = f"http://127.0.0.1:{port}"
    try:
        direct, via_lambda = lambda_path(url, args.requests, args.rounds)
        print(f"transport: {args.transport}; {args.requests} requests x {args.rounds} rounds; medians")
        print(f"direct upstream call (client CPU)        {direct:7.3f} ms/request")
        print(f"through the Lambda handler (Mangum)      {via_lambda:7.3f} ms/request")
        print(f"gateway overhead on the Lambda path      {via_lambda - direct:7.3f} ms/request "
              f"({via_lambda / direct:.1f}x the direct call)")
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process after the Lambda-path requests {peak:6.1f} MB")
        for concurrency in (1, 16):
            per_request = uvicorn_path(url, args.requests, concurrency, env)
            print(f"uvicorn app CPU, concurrency {concurrency:2}          {per_request:7.3f} ms/request")
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
