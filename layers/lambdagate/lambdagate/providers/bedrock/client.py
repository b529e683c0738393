"""boto3 ``bedrock-runtime`` clients, and running their blocking calls off the event loop.

boto3 is imported on first use only (it costs the cold start ~100 ms otherwise), and clients are
cached per region, endpoint and timeout: creating one loads service models and takes tens of
milliseconds. Credentials come from the default chain, i.e. the Lambda function's IAM role.
botocore's own retries are off: the router retries and falls back with the gateway's policy.

ConverseStream's EventStream is a blocking iterator, so a thread reads it and hands each event to
the async generator through a queue; events leave as they arrive. Closing the generator (the
client went away) shuts the HTTP response down, which ends the thread's read and the upstream
generation with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from lambdagate.providers.base import Target
from lambdagate.providers.bedrock.errors import map_exception

_clients: dict[tuple[str | None, str | None, float], Any] = {}
_lock = threading.Lock()


def region_of(target: Target) -> str | None:
    return target.option("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def endpoint_of(target: Target) -> str | None:
    return target.option("endpoint_url") or target.config.api_base


def client_for(target: Target) -> Any:
    """The cached client for the target's region and endpoint (blocking on first use)."""
    key = (region_of(target), endpoint_of(target), float(target.timeout))
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            region, endpoint_url, timeout = key
            config = Config(
                read_timeout=timeout,
                connect_timeout=min(timeout, 10.0),
                retries={"total_max_attempts": 1},
            )
            # A session per client: boto3's default session is not safe to share across threads.
            client = boto3.session.Session().client(
                "bedrock-runtime", region_name=region, endpoint_url=endpoint_url, config=config
            )
            _clients[key] = client
    return client


async def call(target: Target, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``client.<operation>(**params)`` in a worker thread, failures mapped."""

    def run() -> dict[str, Any]:
        return getattr(client_for(target), operation)(**params)

    try:
        return await asyncio.to_thread(run)
    except Exception as exc:
        raise map_exception(exc, target) from None


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


class _Pump:
    """Reads one EventStream in a thread; ``stop`` may be called from the event loop at any time."""

    def __init__(self, deliver: Callable[[Any], None]) -> None:
        self.deliver = deliver
        self.stopped = threading.Event()
        self.stream: Any = None
        self.lock = threading.Lock()

    def run(self, open_stream: Callable[[], Any]) -> None:
        try:
            stream = open_stream()["stream"]
            with self.lock:
                self.stream = stream
            if self.stopped.is_set():
                return
            for event in stream:
                if self.stopped.is_set():
                    break
                self.deliver(event)
        except BaseException as exc:
            if not self.stopped.is_set():
                self.deliver(_Failure(exc))
        finally:
            self._close()
            self.deliver(_END)

    def stop(self) -> None:
        self.stopped.set()
        self._close()

    def _close(self) -> None:
        with self.lock:
            stream, self.stream = self.stream, None
        if stream is None:
            return
        # EventStream.close() closes the urllib3 response; urllib3 (>= 2.3) also offers shutdown(),
        # documented to interrupt a read blocked in another thread, which is the pump's situation.
        raw = getattr(stream, "_raw_stream", None)
        shutdown = getattr(raw, "shutdown", None)
        with contextlib.suppress(Exception):  # already closed or broken: nothing left to release
            if callable(shutdown):
                shutdown()
            stream.close()


async def stream(target: Target, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The ConverseStream events of one request, as they arrive; failures raised mapped."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def deliver(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    pump = _Pump(deliver)
    thread = threading.Thread(
        target=pump.run, args=(lambda: client_for(target).converse_stream(**params),),
        name="bedrock-converse-stream", daemon=True,
    )
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise map_exception(item.exc, target) from None
            yield item
    finally:
        pump.stop()
