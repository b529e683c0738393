"""Bedrock's upstream I/O: boto3 ``bedrock-runtime`` clients, run off the event loop, failures mapped.

Bedrock is the one provider type not reached through :mod:`lambdagate.providers.http`: boto3 signs
with the function's role and parses the binary event stream. This module plays the same part for
it: :func:`call` returns the parsed answer, :func:`stream` yields parsed events (as
:class:`SSEEvent`, named by their type), :func:`relay` feeds them through a stream translator, and
every failure is mapped once, with the adapter's error parser (:func:`.response.parse_error`);
a body or event-stream frame botocore cannot parse is a retryable 502, as for HTTP providers.

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
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from lambdagate.errors import GatewayError, ProviderNotConfigured, UpstreamTimeout, UpstreamUnavailable, upstream_error
from lambdagate.providers.base import SSEEvent, StreamTranslator, Target, translate_stream
from lambdagate.providers.http import ErrorParser, bad_answer
from lambdagate.wire import JSONBody

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


# Where botocore reads an answer: a plain exception raised below one of these is a broken body.
_PARSING_MODULES = frozenset({"botocore.parsers", "botocore.eventstream", "botocore.response"})
# What botocore's parsers raise on a body of the wrong shape (a JSON list: AttributeError; bytes
# that do not decode: UnicodeDecodeError, a ValueError), instead of an exception of their own.
_PARSE_FAILURES = (AttributeError, TypeError, ValueError, LookupError)


def raised_parsing(exc: BaseException) -> bool:
    """Whether ``exc`` came out of botocore's response parsing, not out of the gateway's own code."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") in _PARSING_MODULES:
            return True
        tb = tb.tb_next
    return False


def map_exception(exc: BaseException, target: Target, parse_error: ErrorParser) -> BaseException:
    """Any failure of a boto3 call or of reading its event stream, as the gateway reports it.

    Statuses then map the way they do for every provider (403 -> 502: the function's IAM role is
    the operator's problem, not the client's). An answer botocore could not parse (not JSON, the
    wrong JSON, a broken event stream frame) is the upstream's fault, a retryable 502, like a
    bad body of any HTTP provider; only an exception of the gateway's own code stays unmapped.
    """
    from botocore import eventstream as bes
    from botocore import exceptions as bx
    from botocore import parsers as bp
    from urllib3 import exceptions as ux

    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, bx.ClientError):  # EventStreamError included
        info = parse_error(exc.response)
        return upstream_error(target.provider_name, info.status or 502, info.message, code=info.code,
                              param=info.param, secrets=target.secrets)
    if isinstance(exc, bx.ReadTimeoutError | bx.ConnectTimeoutError | ux.ReadTimeoutError | TimeoutError):
        return UpstreamTimeout(f"{target.provider_name} did not answer within {target.timeout:g} seconds.")
    if isinstance(exc, bx.NoRegionError):
        return ProviderNotConfigured(
            f"The provider '{target.provider_name}' has no AWS region: set its 'region' option or AWS_REGION."
        )
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError | bx.CredentialRetrievalError):
        return upstream_error(target.provider_name, 401, "No usable AWS credentials for Bedrock.")
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError | ux.HTTPError | OSError):
        return UpstreamUnavailable(f"{target.provider_name} could not be reached.")
    if isinstance(exc, bx.ParamValidationError):
        # The gateway built an invalid request: a client value Bedrock's model refuses.
        return upstream_error(target.provider_name, 400, str(exc), secrets=target.secrets)
    # Never the exception's text below: botocore's quote the body or the URL they failed on.
    if isinstance(exc, bes.ParserError | bp.ResponseParserError) or (
        isinstance(exc, _PARSE_FAILURES) and raised_parsing(exc)
    ):
        return upstream_error(target.provider_name, 502, "the upstream answered with a body that could not be parsed.",
                              secrets=target.secrets)
    if isinstance(exc, bx.BotoCoreError):
        return upstream_error(target.provider_name, 502, f"the AWS SDK failed ({type(exc).__name__}).",
                              secrets=target.secrets)
    return exc


async def call(target: Target, operation: str, params: dict[str, Any], *, parse_error: ErrorParser) -> dict[str, Any]:
    """``client.<operation>(**params)`` in a worker thread, failures mapped."""

    def run() -> dict[str, Any]:
        return getattr(client_for(target), operation)(**params)

    try:
        return await asyncio.to_thread(run)
    except Exception as exc:
        raise map_exception(exc, target, parse_error) from None


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
            stream = open_stream()
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


async def stream(target: Target, params: dict[str, Any], *, parse_error: ErrorParser) -> AsyncGenerator[SSEEvent, None]:
    """The ConverseStream events of one request, as they arrive; failures raised mapped.

    boto3 gives each event as ``{type: body}``; it becomes ``SSEEvent(type, body, "")`` (no raw
    text: the frame was binary, and nothing of Bedrock is passed through).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def deliver(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening any more
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def open_stream() -> Any:
        events = client_for(target).converse_stream(**params).get("stream")
        if events is None:
            raise bad_answer(target, "an answer without an event stream")
        return events

    pump = _Pump(deliver)
    thread = threading.Thread(
        target=pump.run, args=(open_stream,),
        name="bedrock-converse-stream", daemon=True,
    )
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise map_exception(item.exc, target, parse_error) from None
            for name, body in item.items():
                yield SSEEvent(name, body, "")
    finally:
        pump.stop()


def relay(target: Target, params: dict[str, Any], translator: StreamTranslator, *,
          parse_error: ErrorParser) -> AsyncIterator[JSONBody]:
    """The chunks of one ConverseStream, through the one stream loop of every provider.

    Closing the result stops the reader thread and the upstream response.
    """
    return translate_stream(stream(target, params, parse_error=parse_error), translator)
