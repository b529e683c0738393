"""What the benchmarks share: a fake OpenAI upstream, a lean HTTP/1.1 client, process accounting.

Everything here listens on and talks to 127.0.0.1 only. The upstream and the client are written on
raw asyncio (no framework) so that their own cost stays small beside the gateway being measured,
and so that a "direct" call (the client straight to the upstream) is the floor every gateway adds to.

    python bench/loopback.py upstream --port 8001     # the fake upstream on its own

The upstream answers ``POST /v1/chat/completions`` (a fixed ``chat.completion``, or with ``"stream":
true`` an SSE stream), ``GET /v1/models`` and anything else with a 404. Stream shape: one role chunk,
``events - 2`` one-word content chunks, one finish chunk, then ``data: [DONE]``. The number of events
is the request's ``max_tokens`` (every gateway forwards it), 22 without one. The command line sets
the wait before the first event (``--ttft-ms``, after the headers), between events (``--gap-ms``) and
``--burst`` (every event in one write instead of one write each); ``--tls PEM`` serves HTTPS with
the certificate and key in that file, as every real provider does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"

COMPLETION = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
    "system_fingerprint": "fp_bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there, how are you today?",
                                         "refusal": None},
                 "logprobs": None, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
}, separators=(",", ":")).encode()

MODELS = json.dumps({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1,
                                                "owned_by": "bench"}]}).encode()


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o-mini",
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }, separators=(",", ":")).encode()


def stream_events(count: int) -> list[bytes]:
    """``count`` SSE events (role, words, finish), each ``data: ...\\n\\n``, then ``[DONE]``."""
    words = [_chunk({"content": f" word{i}"}) for i in range(max(count - 2, 0))]
    events = [_chunk({"role": "assistant", "content": ""}), *words, _chunk({}, "stop")]
    return [b"data: " + event + b"\n\n" for event in events[:count]] + [b"data: [DONE]\n\n"]


_MAX_TOKENS = re.compile(rb'"max_tokens"\s*:\s*(\d+)')


def _hex_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _UpstreamProtocol(asyncio.Protocol):
    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.task: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is not an asyncio.Transport subclass)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].decode("latin-1").split("\r\n")
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if len(self.buffer) < head_end + 4 + length:
            return
        body = self.buffer[head_end + 4:head_end + 4 + length]
        self.buffer = self.buffer[head_end + 4 + length:]
        method, path = head[0].split(" ")[:2]
        self.busy = True
        self.task = asyncio.ensure_future(self._answer(method, path, headers, body))

    async def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if method == "POST" and path.endswith("/chat/completions"):
            if b'"stream":true' in body.replace(b" ", b""):
                await self._stream(transport, body)
            else:
                self._send(transport, 200, "application/json", COMPLETION)
        elif method == "GET" and path.endswith("/models"):
            self._send(transport, 200, "application/json", MODELS)
        else:
            self._send(transport, 404, "application/json", b'{"error":{"message":"not found"}}')
        self.busy = False
        if self.buffer and not transport.is_closing():
            self._next()

    @staticmethod
    def _send(transport: asyncio.Transport, status: int, media: str, payload: bytes) -> None:
        transport.write(b"HTTP/1.1 %d OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                        % (status, media.encode(), len(payload), payload))

    async def _stream(self, transport: asyncio.Transport, body: bytes) -> None:
        options = self.server
        found = _MAX_TOKENS.search(body)
        count = int(found[1]) if found else options.events
        ttft, gap, burst = options.ttft_ms / 1000, options.gap_ms / 1000, options.burst
        events = options.events_of(count)
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
        if ttft:
            await asyncio.sleep(ttft)
        if burst and not gap:
            transport.write(_hex_chunk(b"".join(events)) + b"0\r\n\r\n")
            return
        for i, event in enumerate(events):
            if i and gap:
                await asyncio.sleep(gap)
            transport.write(_hex_chunk(event))
        transport.write(b"0\r\n\r\n")


class FakeUpstream:
    def __init__(self, events: int = 22, ttft_ms: float = 0, gap_ms: float = 0, burst: bool = False) -> None:
        self.events, self.ttft_ms, self.gap_ms, self.burst = events, ttft_ms, gap_ms, burst
        self._cache: dict[int, list[bytes]] = {}

    def events_of(self, count: int) -> list[bytes]:
        if count not in self._cache:
            self._cache[count] = stream_events(count)
        return self._cache[count]

    async def serve(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _UpstreamProtocol(self), HOST, port, backlog=1024, ssl=tls)
        async with server:
            await server.serve_forever()


# --- the client --------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    status: int
    latency: float
    """Seconds from sending the request to the whole response."""
    first_chunk: float | None
    """Seconds from sending the request to the first ``data:`` bytes of a stream (None when not SSE)."""
    body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection, reading content-length and chunked bodies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, tls: ssl.SSLContext | None = None) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22, ssl=tls)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
                      ) -> Result:
        lines = [f"{method} {path} HTTP/1.1", f"host: {HOST}", *(f"{k}: {v}" for k, v in headers)]
        if body or method == "POST":
            lines += ["content-type: application/json", f"content-length: {len(body)}"]
        started = time.perf_counter()
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name:
                fields[name.strip().lower()] = value.strip().lower()
        first: float | None = None
        if b"content-length" in fields:
            payload = await self.reader.readexactly(int(fields[b"content-length"]))
        elif fields.get(b"transfer-encoding") == b"chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                data = await self.reader.readexactly(size + 2)
                if first is None and b"data:" in data:
                    first = time.perf_counter() - started
                parts.append(data[:-2])
            payload = b"".join(parts)
        else:  # read to close
            payload = await self.reader.read()
        return Result(status, time.perf_counter() - started, first, payload)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def load(port: int, method: str, path: str, body: bytes, headers: Sequence[tuple[str, str]],
               total: int, concurrency: int, check: bytes | None = None, tls: ssl.SSLContext | None = None
               ) -> list[Result]:
    """``total`` requests over ``concurrency`` keep-alive connections, one request at a time each."""
    results: list[Result] = []
    per_worker = total // concurrency

    async def worker() -> None:
        connection = await Connection.open(port, tls)
        try:
            for _ in range(per_worker):
                result = await connection.request(method, path, body, headers)
                if result.status != 200 or (check is not None and check not in result.body):
                    raise RuntimeError(f"unexpected answer {result.status}: {result.body[:300]!r}")
                results.append(result)
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def wait_until_up(port: int, path: str, headers: Sequence[tuple[str, str]] = (), timeout: float = 60,
                        process: subprocess.Popen[bytes] | None = None, interval: float = 0.005,
                        tls: ssl.SSLContext | None = None) -> float:
    """Seconds until ``GET path`` answers 200 (polled every ``interval``), or raise."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before answering")
        try:
            connection = await Connection.open(port, tls)
        except OSError:
            await asyncio.sleep(interval)
            continue
        try:
            result = await connection.request("GET", path, b"", headers)
            if result.status == 200:
                return time.perf_counter() - started
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            await connection.close()
        await asyncio.sleep(interval)
    raise RuntimeError(f"nothing answered 200 on 127.0.0.1:{port}{path} within {timeout} s")


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


_TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        kids: list[int] = []
        for task in tasks:
            text = (task / "children").read_text().split()
            kids += [int(k) for k in text]
        return kids
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (npx and shells start the real server as a child)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its living descendants, all threads."""
    total = 0
    for each in tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def peak_rss_mb(pid: int) -> float:
    """The largest peak resident set (VmHWM) of ``pid`` and its descendants, in MB."""
    peak = 0
    for each in tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def rss_mb(pid: int) -> float:
    """The resident set (VmRSS) now of ``pid`` and its descendants, summed, in MB."""
    total = 0
    for each in tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def pin(cpus: set[int]) -> None:
    """Pin this process to ``cpus`` when the machine has them (children inherit it)."""
    available = os.sched_getaffinity(0)
    if cpus & available:
        os.sched_setaffinity(0, cpus & available)


def start(args: Sequence[str], env: dict[str, str] | None = None, cpus: set[int] | None = None,
          cwd: str | Path | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    """A server process in its own session, optionally pinned to ``cpus``, its output to ``log``."""
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
    available = os.sched_getaffinity(0)
    target = (cpus & available) if cpus else None

    def pin_child() -> None:
        if target:
            os.sched_setaffinity(0, target)

    return subprocess.Popen(list(args), env=child_env(env), stdout=out, stderr=out,
                            stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True, preexec_fn=pin_child)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment plus ``extra``, with bytecode caching on: Lambda's layer ships it precompiled,
    so a benchmark that recompiled every module at each launch would measure the compiler."""
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` and what it started (its own session), by its process group id."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def start_upstream(port: int, *, cpus: set[int] | None = None, events: int = 22, ttft_ms: float = 0,
                   gap_ms: float = 0, burst: bool = False, tls: TestCA | None = None) -> subprocess.Popen[bytes]:
    args = [sys.executable, str(Path(__file__).resolve()), "upstream", "--port", str(port), "--events", str(events),
            "--ttft-ms", str(ttft_ms), "--gap-ms", str(gap_ms), *(["--burst"] if burst else []),
            *(["--tls", str(tls.server_pem)] if tls else [])]
    process = start(args, cpus=cpus)
    asyncio.run(wait_until_up(port, "/v1/models", process=process, timeout=20, tls=tls.client() if tls else None))
    return process


@dataclass(frozen=True)
class TestCA:
    """A throwaway certificate authority (trustme, a development dependency) and a certificate it
    issued for 127.0.0.1: ``ca_pem`` is what a client trusts (``SSL_CERT_FILE``), ``server_pem`` the
    upstream's certificate and key."""

    ca_pem: Path
    server_pem: Path

    @classmethod
    def create(cls, directory: Path) -> TestCA:
        import trustme

        ca = trustme.CA()
        directory.mkdir(parents=True, exist_ok=True)
        ca_pem, server_pem = directory / "ca.pem", directory / "server.pem"
        ca.cert_pem.write_to_path(str(ca_pem))
        ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(server_pem))
        return cls(ca_pem, server_pem)

    def client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_pem))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    upstream = commands.add_parser("upstream", help="run the fake OpenAI upstream")
    upstream.add_argument("--port", type=int, default=8001)
    upstream.add_argument("--events", type=int, default=22)
    upstream.add_argument("--ttft-ms", type=float, default=0)
    upstream.add_argument("--gap-ms", type=float, default=0)
    upstream.add_argument("--burst", action="store_true")
    upstream.add_argument("--tls", type=Path, help="PEM file with the certificate and key: serve HTTPS")
    args = parser.parse_args(argv)
    fake = FakeUpstream(args.events, args.ttft_ms, args.gap_ms, args.burst)
    tls = None
    if args.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(str(args.tls))
    try:
        import uvloop  # the upstream's own speed is not measured; cheaper is better when present

        uvloop.run(fake.serve(args.port, tls))
    except ImportError:
        asyncio.run(fake.serve(args.port, tls))


if __name__ == "__main__":
    main()
