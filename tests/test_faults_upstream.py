"""An upstream that closes the connection before any response byte (issue 8, "What upstreams can do"),
or answers with bytes that are not HTTP, or resets the connection.

Not a timeout (it answered at once, with nothing usable): a retried 502 ``upstream_unreachable``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import openai
import pytest

from conftest import DEV_KEY, make_config

REPLIES = {"close": b"", "not_http": b"SSH-2.0-OpenSSH_9.6 not an HTTP server\r\n\r\n", "reset": None}
"""What the server sends after reading the request, then closes; None: it resets the connection."""


@pytest.fixture(params=list(REPLIES))
def closing_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[int]]]:
    """A TCP server on loopback that reads the request and answers ``REPLIES[param]`` (or resets)."""
    reply = REPLIES[request.param]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.2)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            accepted.append(1)
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    if reply is None:  # SO_LINGER with a zero timeout: close sends RST, not FIN
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    else:
                        conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", accepted
    stop.set()
    thread.join(timeout=5)
    sock.close()


def test_no_usable_answer_is_a_retried_502(closing_server: tuple[str, list[int]],
                                                      serve_gateway: Callable[..., str]) -> None:
    api_base, accepted = closing_server
    config = make_config({"closer": {"type": "openai", "api_base": api_base}},
                         {"gpt": {"provider": "closer", "model": "m", "timeout": 5}}, num_retries=1, retry_backoff=0)
    client = openai.OpenAI(base_url=serve_gateway(config), api_key=DEV_KEY, max_retries=0, timeout=20)
    for stream in (False, True):
        accepted.clear()
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "x"}],
                                           stream=stream)  # type: ignore[call-overload]
        assert caught.value.status_code == 502 and caught.value.code == "upstream_unreachable"
        assert "127.0.0.1" not in caught.value.response.text
        headers = caught.value.response.headers
        assert (headers["x-lambdagate-attempts"], headers["x-should-retry"]) == ("2", "false")
        assert len(accepted) == 2  # retried: an unreachable upstream may answer the next time
