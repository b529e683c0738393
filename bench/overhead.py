"""What the gateway adds to a request: CPU, latency, time to first chunk and memory, side by side.

    .venv/bin/python bench/overhead.py [--requests 2000] [--rounds 5] [--peers] [--only lambda,server,serve]
    .venv/bin/python bench/overhead.py --only lambda --pairs 8 --baseline DIR    # A/B of a small change

A fake OpenAI upstream (``bench/loopback.py``) and the load generator run on one core, the gateway
under test on the other (both pinned when the machine has two). Every figure is a median from this
one run; CPU is the operating system's count for the gateway's process tree, so the load
generator's and the upstream's own work are not in it.

``lambda``: the buffered path, in a child process with the template's environment (Powertools logs
and metrics on): the real handler of ``functions/chat`` invoked with an API Gateway event against
the application calling the upstream itself with the shared client, CPU per request by
``time.process_time`` over ``--rounds`` rounds. With ``--baseline`` the two checkouts' children
alternate ``--pairs`` times, and the median of the pairs' ratios is printed: a change of a few
percent is below what this machine's speed drifts by between two runs, not within one pair.

``server``: the streaming function's shape (``functions/stream/run.sh``: uvicorn, template
environment) loaded over keep-alive connections: non-streamed requests at concurrency 1 and 32,
22-event streams at concurrency 1 and 8 (added latency and time to the first ``data:`` bytes over
the direct call), and 202-event streams for the CPU of one relayed chunk ((202 - 22) events apart).
With ``--peers`` the same cells run against LiteLLM's proxy and Portkey's gateway when they are
installed (skipped with a message when not):

    python3 -m venv ~/.cache/lambdagate-bench/peers/litellm
    ~/.cache/lambdagate-bench/peers/litellm/bin/pip install 'litellm[proxy]'
    npm install --prefix ~/.cache/lambdagate-bench/peers/portkey @portkey-ai/gateway

(``--litellm CMD`` and ``--portkey DIR`` name other installs). Each peer gets the same upstream on
loopback and nothing else.

``--tls``: the upstream speaks HTTPS (a throwaway CA, trusted by every gateway and the direct client
through ``SSL_CERT_FILE`` and ``NODE_EXTRA_CA_CERTS``), as every real provider does: what a gateway
does with its upstream connections (a TLS handshake each, or a pool) shows in the figures then.

``serve``: ``lambdagate serve`` from launch to its first 200 on a chat completion (median of
``--launches``), then its peak resident memory after ``--soak`` requests. With ``--baseline`` the
two checkouts' launches alternate and the ratio of their medians is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback  # bench/ is not a package: found through sys.path

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench-overhead"
UPSTREAM_KEY = "sk-upstream"
PEERS = Path(os.environ.get("LAMBDAGATE_BENCH_PEERS", Path.home() / ".cache" / "lambdagate-bench" / "peers"))
# The gateway under test gets one core; the upstream and the load generator the other.
GATEWAY_CPUS, LOAD_CPUS = {1}, {0}
TEMPLATE_ENV = {"POWERTOOLS_SERVICE_NAME": "lambdagate", "POWERTOOLS_METRICS_NAMESPACE": "lambdagate",
                "POWERTOOLS_LOG_LEVEL": "INFO", "LAMBDAGATE_CORS": "platform", "PYDANTIC_DISABLE_PLUGINS": "__all__"}
UPSTREAM_SCHEME = "http"
"""``https`` with ``--tls``: how every gateway and the direct call reach the upstream."""
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello in five words."}]


def upstream_api(port: int) -> str:
    """The fake upstream's OpenAI base URL, as every gateway and the direct call are given it."""
    return f"{UPSTREAM_SCHEME}://127.0.0.1:{port}/v1"


def body(model: str, stream: bool = False, events: int = 22) -> bytes:
    payload: dict[str, Any] = {"model": model, "messages": MESSAGES, "temperature": 0.2, "max_tokens": events}
    if stream:
        payload["stream"] = True
    return json.dumps(payload).encode()


def write_config(upstream_port: int, directory: Path) -> Path:
    path = directory / "gateway.json"
    path.write_text(json.dumps({
        "settings": {"num_retries": 0},
        "providers": {"up": {"type": "openai", "api_base": upstream_api(upstream_port),
                             "api_key": UPSTREAM_KEY}},
        "models": {"gpt": {"provider": "up", "model": "gpt-4o-mini"}},
        "keys": [{"name": "bench", "sha256": hashlib.sha256(KEY.encode()).hexdigest()}],
    }))
    return path


def checkout_env(code: Path) -> dict[str, str]:
    """What a child needs to import the gateway package of the checkout ``code`` rather than this one's."""
    return {} if code == ROOT else {"PYTHONPATH": str(code / "layers" / "lambdagate")}


# --- the Lambda path -----------------------------------------------------------------------------


def _api_event(payload: bytes) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "chat-http.json").read_text())
    event["headers"]["authorization"] = f"Bearer {KEY}"
    event["headers"]["content-length"] = str(len(payload))
    event["body"] = payload.decode()
    return event


class LambdaContext:
    aws_request_id = "bench-request"
    function_name = "lambdagate-chat"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:lambdagate-chat"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29000


def lambda_child(upstream_port: int, requests: int, rounds: int, out: Path, code: Path = ROOT) -> None:
    """In a child with the template's environment: direct vs the chat handler, CPU ms per request."""
    sys.path.insert(0, str(code / "functions" / "chat"))
    import app  # type: ignore[import-not-found]  # the function module, as Lambda imports it

    from lambdagate.upstream_http import get_client

    handler, context = app.handler, LambdaContext()
    event = _api_event(body("gpt"))
    url = upstream_api(upstream_port) + "/chat/completions"
    payload = body("gpt-4o-mini")
    headers = {"authorization": f"Bearer {UPSTREAM_KEY}", "content-type": "application/json"}
    loop = asyncio.get_event_loop()  # Mangum's: the handler runs each invocation on it

    try:  # the shared client's buffered call, as the gateway makes it
        from lambdagate.upstream_http import fetch
    except ImportError:  # a checkout from before upstream_http.fetch
        fetch = None
    import httpx

    timeout = httpx.Timeout(30, connect=10)

    async def direct_once() -> None:
        if fetch is not None:
            json.loads((await fetch("POST", url, payload, headers, timeout)).content)
            return
        response = await get_client().post(url, content=payload, headers=headers)
        json.loads(response.content)

    def direct() -> None:
        loop.run_until_complete(direct_once())

    def via_lambda() -> None:
        response = handler(event, context)
        assert response["statusCode"] == 200, response

    results: dict[str, list[float]] = {"direct": [], "lambda": []}
    for _ in range(50):
        direct()
        via_lambda()
    for _ in range(rounds):
        for name, call in (("direct", direct), ("lambda", via_lambda)):
            started = time.process_time()
            for _ in range(requests):
                call()
            results[name].append((time.process_time() - started) * 1000 / requests)
    import resource

    out.write_text(json.dumps({**{k: statistics.median(v) for k, v in results.items()},
                               "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def lambda_path(upstream_port: int, config: Path, requests: int, rounds: int, workdir: Path,
                code: Path = ROOT) -> dict[str, float]:
    out = workdir / "lambda.json"
    env = loopback.child_env({**TEMPLATE_ENV, "LAMBDAGATE_CONFIG": str(config), **checkout_env(code)})
    available = os.sched_getaffinity(0)
    cpus = GATEWAY_CPUS & available

    def pin_child() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    subprocess.run([sys.executable, __file__, "lambda-child", "--scheme", UPSTREAM_SCHEME,
                    "--upstream-port", str(upstream_port),
                    "--requests", str(requests), "--rounds", str(rounds), "--out", str(out), "--code", str(code)],
                   env=env, check=True, stdout=subprocess.DEVNULL, preexec_fn=pin_child)
    result: dict[str, float] = json.loads(out.read_text())
    return result


# --- servers --------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    model: str
    headers: list[tuple[str, str]]
    launch: Callable[[], subprocess.Popen[bytes]] | None  # None: the upstream itself (direct)
    process: subprocess.Popen[bytes] | None = None
    figures: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    failed: str = ""
    tls: ssl.SSLContext | None = None
    """How the load client reaches this target over TLS (the direct call to an HTTPS upstream)."""


def lambdagate_target(port: int, config: Path, log: Path, code: Path = ROOT, name: str = "lambdagate",
                      env: dict[str, str] | None = None) -> Target:
    """The streaming function as deployed: ``functions/stream/run.sh`` (uvicorn) of the checkout ``code``."""
    full = {**TEMPLATE_ENV, "LAMBDAGATE_CONFIG": str(config), "PORT": str(port),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", **checkout_env(code),
            **(env or {})}
    run = code / "functions" / "stream" / "run.sh"
    return Target(name, port, "gpt", [("authorization", f"Bearer {KEY}")],
                  lambda: loopback.start(["sh", str(run)], env=full, cpus=GATEWAY_CPUS, log=log))


def litellm_target(port: int, upstream_port: int, workdir: Path, command: str | None) -> Target | str:
    executable = command or shutil.which("litellm") or str(PEERS / "litellm" / "bin" / "litellm")
    if not Path(executable).exists():
        return ("LiteLLM skipped: not installed (python3 -m venv ~/.cache/lambdagate-bench/peers/litellm && "
                "~/.cache/lambdagate-bench/peers/litellm/bin/pip install 'litellm[proxy]')")
    config = workdir / "litellm.yaml"
    config.write_text(json.dumps({
        "model_list": [{"model_name": "gpt", "litellm_params": {
            "model": "openai/gpt-4o-mini", "api_base": upstream_api(upstream_port),
            "api_key": UPSTREAM_KEY}}],
        "general_settings": {"master_key": KEY},
        "litellm_settings": {"telemetry": False},
    }))
    env = {"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "DISABLE_SCHEMA_UPDATE": "true",
           "LITELLM_MODE": "PRODUCTION"}
    return Target("LiteLLM", port, "gpt", [("authorization", f"Bearer {KEY}")],
                  lambda: loopback.start([executable, "--config", str(config), "--host", "127.0.0.1",
                                          "--port", str(port), "--num_workers", "1"],
                                         env=env, cpus=GATEWAY_CPUS, log=workdir / "litellm.log"))


def portkey_target(port: int, upstream_port: int, workdir: Path, directory: str | None) -> Target | str:
    root = Path(directory) if directory else PEERS / "portkey"
    script = root / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    node = shutil.which("node")
    if not script.exists() or node is None:
        return ("Portkey skipped: not installed (npm install --prefix ~/.cache/lambdagate-bench/peers/portkey "
                "@portkey-ai/gateway)")
    headers = [("authorization", f"Bearer {UPSTREAM_KEY}"), ("x-portkey-provider", "openai"),
               ("x-portkey-custom-host", upstream_api(upstream_port))]
    return Target("Portkey", port, "gpt-4o-mini", headers,
                  lambda: loopback.start([node, str(script), f"--port={port}"], cpus=GATEWAY_CPUS,
                                         log=workdir / "portkey.log"))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def cell(target: Target, name: str, total: int, concurrency: int, stream: bool, events: int = 22
         ) -> tuple[float | None, float, float | None]:
    """(CPU ms per request, p50 latency ms, p50 time to first chunk ms) of one cell."""
    payload = body(target.model, stream, events)
    path = "/v1/chat/completions"
    warm = max(concurrency * 4, 40)
    check = b"[DONE]" if stream else b"chat.completion"
    _run(loopback.load(target.port, "POST", path, payload, target.headers, warm, concurrency, check, target.tls))
    pid = target.process.pid if target.process is not None else None
    before = loopback.cpu_seconds(pid) if pid else 0.0
    results = _run(loopback.load(target.port, "POST", path, payload, target.headers, total, concurrency, check,
                                 target.tls))
    cpu = (loopback.cpu_seconds(pid) - before) * 1000 / len(results) if pid else None
    target.requests += warm + len(results)
    latency = statistics.median(r.latency for r in results) * 1000
    firsts = [r.first_chunk for r in results if r.first_chunk is not None]
    first = statistics.median(firsts) * 1000 if firsts else None
    if cpu is not None:
        target.figures[f"{name} cpu"] = cpu
    target.figures[f"{name} p50"] = latency
    if first is not None:
        target.figures[f"{name} ttfc"] = first
    return cpu, latency, first


CELLS = (("json c1", 1, False, 22), ("json c32", 32, False, 22), ("sse c1", 1, True, 22), ("sse c8", 8, True, 22),
         ("sse202 c1", 1, True, 202))


def run_targets(targets: list[Target], requests: int, soak: int) -> None:
    """Launch every target, then run each cell on each target in turn (so drift moves them alike)."""
    try:
        for target in targets:
            if target.launch is not None:
                print(f"starting {target.name}...", file=sys.stderr, flush=True)
                target.process = target.launch()
                target.figures["launch"] = _run(wait_for_chat(target, timeout=180))
        streams = max(requests // 2, 200)
        for name, concurrency, stream, events in CELLS:
            total = requests if not stream else streams if events == 22 else max(streams // 4, 100)
            for target in targets:
                if target.failed:
                    continue
                print(f"{name}: {target.name}", file=sys.stderr, flush=True)
                try:
                    cell(target, name, total, concurrency, stream, events)
                except RuntimeError as exc:  # a peer that cannot serve a cell keeps the figures it has
                    target.failed = f"{target.name} failed on {name}, its later cells skipped: {exc}"
                    print(target.failed, flush=True)
        for target in targets:
            if target.process is None:
                continue
            if target.requests < soak:
                _run(loopback.load(target.port, "POST", "/v1/chat/completions", body(target.model),
                                   target.headers, soak - target.requests, 32, b"chat.completion"))
                target.requests = soak
            target.figures["peak rss"] = loopback.peak_rss_mb(target.process.pid)
            target.figures["requests"] = target.requests
    finally:
        for target in targets:
            if target.process is not None:
                loopback.stop(target.process)


async def wait_for_chat(target: Target, timeout: float = 60, interval: float = 0.005) -> float:
    """Seconds from now until a chat completion through ``target`` answers 200."""
    started = time.perf_counter()
    payload = body(target.model)
    while time.perf_counter() - started < timeout:
        if target.process is not None and target.process.poll() is not None:
            raise RuntimeError(f"{target.name} exited with {target.process.returncode} before answering")
        try:
            connection = await loopback.Connection.open(target.port, target.tls)
        except OSError:
            await asyncio.sleep(interval)
            continue
        try:
            result = await connection.request("POST", "/v1/chat/completions", payload, target.headers)
            if result.status == 200:
                return time.perf_counter() - started
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            await connection.close()
        await asyncio.sleep(interval)
    raise RuntimeError(f"{target.name} did not answer within {timeout} s")


# --- lambdagate serve -----------------------------------------------------------------------------


def serve_launch(config: Path, launches: int, soak: int, workdir: Path,
                 codes: Sequence[tuple[str, Path]] = (("now", ROOT),)) -> tuple[dict[str, float], float]:
    """``lambdagate serve`` of each checkout in ``codes``: launch -> first 200 (the median of each; the
    checkouts' launches alternate, so drift moves them alike), then the first one's peak RSS in MB
    after ``soak`` requests."""
    executable = Path(sys.executable).parent / "lambdagate"
    times: dict[str, list[float]] = {name: [] for name, _ in codes}
    rss = 0.0
    for attempt in range(launches + 1):
        for index, (name, code) in enumerate(codes):
            port = loopback.free_port()
            target = Target("serve", port, "gpt", [("authorization", f"Bearer {KEY}")], None)
            target.process = loopback.start([str(executable), "serve", "--config", str(config), "--port", str(port)],
                                            env=checkout_env(code), cpus=GATEWAY_CPUS, log=workdir / "serve.log")
            try:
                seconds = _run(wait_for_chat(target, timeout=60))
                if attempt:  # the first launch may write bytecode caches
                    times[name].append(seconds)
                if attempt == launches and soak and index == 0:
                    for concurrency, stream in ((32, False), (8, True)):
                        _run(loopback.load(port, "POST", "/v1/chat/completions", body("gpt", stream),
                                           target.headers, soak // 2, concurrency,
                                           b"[DONE]" if stream else b"chat.completion"))
                    rss = loopback.peak_rss_mb(target.process.pid)
            finally:
                loopback.stop(target.process)
    return {name: statistics.median(runs) for name, runs in times.items()}, rss


# --- report --------------------------------------------------------------------------------------


def _ms(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(targets: list[Target], direct: Target) -> None:
    names = [t.name for t in targets]
    width = max(14, *(len(n) + 2 for n in names))
    rows: list[tuple[str, list[str]]] = []

    def added(key: str, target: Target) -> str:
        if key not in target.figures or key not in direct.figures:
            return "-"
        return f"+{target.figures[key] - direct.figures[key]:.2f}"

    def get(key: str, target: Target, digits: int = 3) -> str:
        return _ms(target.figures.get(key), digits)

    rows.append(("CPU ms / non-streamed request, c=1", [get("json c1 cpu", t) for t in targets]))
    rows.append(("CPU ms / non-streamed request, c=32", [get("json c32 cpu", t) for t in targets]))
    rows.append(("added p50 latency ms, non-streamed, c=1", [added("json c1 p50", t) for t in targets]))
    rows.append(("added time to first chunk p50 ms, c=1", [added("sse c1 ttfc", t) for t in targets]))
    rows.append(("added time to first chunk p50 ms, c=8", [added("sse c8 ttfc", t) for t in targets]))
    rows.append(("CPU ms / 22-event stream, c=1", [get("sse c1 cpu", t) for t in targets]))
    rows.append(("CPU ms / 22-event stream, c=8", [get("sse c8 cpu", t) for t in targets]))
    per_chunk = []
    for t in targets:
        a, b = t.figures.get("sse c1 cpu"), t.figures.get("sse202 c1 cpu")
        per_chunk.append("-" if a is None or b is None else f"{(b - a) / 180 * 1000:.1f}")
    rows.append(("CPU us / relayed chunk (202 vs 22 events)", per_chunk))
    rows.append(("peak RSS MB after all requests", [_ms(t.figures.get("peak rss"), 1) for t in targets]))
    rows.append(("requests served", [_ms(t.figures.get("requests"), 0) for t in targets]))
    rows.append(("launch -> first 200, s", [_ms(t.figures.get("launch"), 2) for t in targets]))
    label = max(len(r[0]) for r in rows) + 2
    print(f"{'':{label}}" + "".join(f"{n:>{width}}" for n in names))
    for title, values in rows:
        print(f"{title:{label}}" + "".join(f"{v:>{width}}" for v in values))
    print(f"direct call p50 ms: non-streamed {_ms(direct.figures.get('json c1 p50'))}, first chunk c=1 "
          f"{_ms(direct.figures.get('sse c1 ttfc'))}, c=8 {_ms(direct.figures.get('sse c8 ttfc'))}")


def main() -> None:
    global UPSTREAM_SCHEME  # set once, from --tls (or the child's --scheme), before anything reads it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per non-streamed cell")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the Lambda path")
    parser.add_argument("--pairs", type=int, default=2,
                        help="children of the Lambda path per checkout, interleaved with the baseline's")
    parser.add_argument("--only", default="lambda,server,serve", help="comma-separated: lambda, server, serve")
    parser.add_argument("--peers", action="store_true", help="also LiteLLM and Portkey, when installed")
    parser.add_argument("--litellm", help="the litellm command (default: on PATH, or the peers folder)")
    parser.add_argument("--portkey", help="folder where @portkey-ai/gateway is npm-installed")
    parser.add_argument("--launches", type=int, default=7, help="launches of lambdagate serve")
    parser.add_argument("--soak", type=int, default=10000, help="requests before peak RSS is read")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout: its Lambda path, streaming function and serve run in turn")
    parser.add_argument("--baseline-h11", action="store_true", help="run the baseline on asyncio + h11")
    parser.add_argument("--tls", action="store_true", help="the upstream speaks HTTPS, as real providers do")
    if sys.argv[1:2] == ["lambda-child"]:
        child = argparse.ArgumentParser()
        child.add_argument("--upstream-port", type=int)
        child.add_argument("--requests", type=int)
        child.add_argument("--rounds", type=int)
        child.add_argument("--out", type=Path)
        child.add_argument("--code", type=Path, default=ROOT)
        child.add_argument("--scheme", default="http")
        c = child.parse_args(sys.argv[2:])
        UPSTREAM_SCHEME = c.scheme
        lambda_child(c.upstream_port, c.requests, c.rounds, c.out, c.code)
        return
    args = parser.parse_args()
    only = set(args.only.split(","))
    loopback.pin(LOAD_CPUS)
    workdir = Path(tempfile.mkdtemp(prefix="lambdagate-bench-"))
    upstream_port = loopback.free_port()
    ca = loopback.TestCA.create(workdir / "tls") if args.tls else None
    if ca is not None:  # every process started from here on trusts the throwaway CA
        os.environ.update(SSL_CERT_FILE=str(ca.ca_pem), NODE_EXTRA_CA_CERTS=str(ca.ca_pem))
    upstream = loopback.start_upstream(upstream_port, cpus=LOAD_CPUS, tls=ca)
    UPSTREAM_SCHEME = "https" if ca else "http"
    config = write_config(upstream_port, workdir)
    print(f"python {sys.version.split()[0]}; gateway pinned to cpu {sorted(GATEWAY_CPUS)}, load and upstream to "
          f"{sorted(LOAD_CPUS)}; {args.requests} requests per non-streamed cell; medians"
          + ("; upstream over TLS" if ca else ""), flush=True)
    try:
        if "lambda" in only:
            codes = [("now", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
            runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in codes}
            for _ in range(args.pairs):  # A B A B ...: drift moves both alike
                for name, code in codes:
                    runs[name].append(lambda_path(upstream_port, config, args.requests, args.rounds, workdir, code))
            print("\nLambda path (functions/chat handler, template environment), CPU ms per request:")
            for name, _ in codes:
                figures = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
                print(f"  [{name}] direct upstream call (the shared client)   {figures['direct']:7.3f}")
                print(f"  [{name}] through the chat Lambda handler            {figures['lambda']:7.3f}")
                print(f"  [{name}] gateway overhead on the Lambda path        "
                      f"{figures['lambda'] - figures['direct']:7.3f}  ({figures['lambda'] / figures['direct']:.2f}x "
                      "the direct call)")
                print(f"  [{name}] peak RSS of that process                   {figures['rss']:7.1f} MB", flush=True)
            if args.baseline:
                # Each pair ran back to back, so its ratio is what one run can say about a small change.
                pairs = zip(runs["now"], runs["baseline"], strict=True)
                ratios = [now["lambda"] / base["lambda"] for now, base in pairs]
                print(f"  handler CPU now / baseline: median pair ratio {statistics.median(ratios):.3f} "
                      f"of {len(ratios)} pairs (from {min(ratios):.3f} to {max(ratios):.3f})", flush=True)
        if "server" in only:
            direct = Target("direct", upstream_port, "gpt-4o-mini", [("authorization", f"Bearer {UPSTREAM_KEY}")],
                            None, tls=ca.client() if ca else None)
            targets = [direct, lambdagate_target(loopback.free_port(), config, workdir / "lambdagate.log")]
            if args.baseline:
                # A checkout from before uvloop/httptools were dependencies ran uvicorn on asyncio and h11.
                old = {"UVICORN_LOOP": "asyncio", "UVICORN_HTTP": "h11"} if args.baseline_h11 else {}
                targets.append(lambdagate_target(loopback.free_port(), config, workdir / "baseline.log",
                                                 args.baseline.resolve(), "baseline", old))
            if args.peers:
                for peer in (portkey_target(loopback.free_port(), upstream_port, workdir, args.portkey),
                             litellm_target(loopback.free_port(), upstream_port, workdir, args.litellm)):
                    if isinstance(peer, str):
                        print(peer)
                    else:
                        targets.append(peer)
            run_targets(targets, args.requests, args.soak)
            print("\nUnder load (the streaming function's shape: uvicorn, template environment):")
            report(targets, direct)
        if "serve" in only:
            codes = [("now", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
            launch, rss = serve_launch(config, args.launches, args.soak, workdir, codes)
            print(f"\nlambdagate serve: launch -> first 200 {launch['now']:.3f} s (median of {args.launches}); "
                  f"peak RSS after {args.soak} requests {rss:.1f} MB")
            if "baseline" in launch:
                print(f"  [baseline] launch -> first 200 {launch['baseline']:.3f} s; "
                      f"now / baseline {launch['now'] / launch['baseline']:.2f}")
    finally:
        loopback.stop(upstream)


if __name__ == "__main__":
    main()
