"""CORS from a real browser: a page on one loopback origin calls the gateway on another.

Headless Chromium (Debian's ``chromium`` package; ``.ci/run`` installs it) loads a page served
from ``http://127.0.0.1:<port A>``; its script ``fetch()``es ``http://127.0.0.1:<port B>/v1/...``
with an ``Authorization`` header and a JSON body, which makes the browser send a preflight first.
The script writes what it got into the page, and ``--dump-dom`` prints the page once the
``--virtual-time-budget`` has run out (the fetches hold virtual time until they finish).

On AWS the URLs answer CORS themselves (``CorsAllowedOrigins``; the template turns the app's own
CORS off with ``LAMBDAGATE_CORS=platform``): the tests at the end check the app stays silent then.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from conftest import DEV_KEY, ServerThread, make_config
from lambdagate.api import create_app
from lambdagate.api.cors import CORS_ENV
from lambdagate.config.file_store import FileConfigStore

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PAGE = """<!doctype html>
<html><body><pre id="out">pending</pre>
<script>
const gateway = new URLSearchParams(location.search).get("gateway");
const headers = {"Authorization": "Bearer %(key)s", "Content-Type": "application/json", "x-stainless-lang": "js"};
const ask = (extra) => fetch(gateway + "/v1/chat/completions", {method: "POST", headers,
  body: JSON.stringify({model: "mock-gpt", messages: [{role: "user", content: "from the browser"}], ...extra})});
(async () => {
  const result = {};
  try {
    const response = await ask({});
    result.status = response.status;
    result.requestId = response.headers.get("x-request-id");
    result.answer = (await response.json()).choices[0].message.content;
    const stream = await ask({stream: true});
    result.streamStatus = stream.status;
    result.streamEnd = (await stream.text()).trim().split("\\n").pop();
    const models = await fetch(gateway + "/v1/models", {headers: {"Authorization": headers.Authorization}});
    result.models = (await models.json()).data.map((m) => m.id);
  } catch (error) {
    result.error = String(error);
  }
  document.getElementById("out").textContent = JSON.stringify(result);
})();
</script></body></html>
"""


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium on PATH (Debian: apt-get install -y chromium; .ci/run installs it)")


@pytest.fixture
def page_server() -> Iterator[ServerThread]:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE % {"key": DEV_KEY})

    with ServerThread(Starlette(routes=[Route("/", page)])) as server:
        yield server


def gateway_app(origins: list[str]) -> Any:
    config = make_config({"mock": {}}, {"mock-gpt": {"provider": "mock", "model": "mock-gpt"}},
                         cors_allow_origins=origins)
    return create_app(FileConfigStore(config))


def run_page(page_url: str, gateway_url: str, profile: Path) -> dict[str, Any]:
    command = [
        browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom",
        f"{page_url}/?gateway={gateway_url}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r'<pre id="out">(.*?)</pre>', done.stdout, re.S)
    assert match, f"no result in the page (exit {done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
    text = html.unescape(match.group(1))
    assert text != "pending", "the page's fetches did not finish"
    result: dict[str, Any] = json.loads(text)
    return result


def test_browser_on_an_allowed_origin_calls_the_gateway(page_server: ServerThread, tmp_path: Path) -> None:
    with ServerThread(gateway_app([page_server.url])) as gateway:
        result = run_page(page_server.url, gateway.url, tmp_path / "profile")
    assert result.get("error") is None, result
    assert result["status"] == 200 and result["answer"] == "You said: from the browser"
    assert result["requestId"]  # exposed to the page (Access-Control-Expose-Headers)
    assert result["streamStatus"] == 200 and result["streamEnd"] == "data: [DONE]"
    assert result["models"] == ["mock-gpt"]


def test_browser_on_another_origin_is_refused(page_server: ServerThread, tmp_path: Path) -> None:
    with ServerThread(gateway_app(["https://chat.example.com"])) as gateway:
        result = run_page(page_server.url, gateway.url, tmp_path / "profile")
    assert "status" not in result and "Failed to fetch" in result["error"]


def test_no_cors_by_default(page_server: ServerThread, tmp_path: Path) -> None:
    with ServerThread(gateway_app([])) as gateway:
        result = run_page(page_server.url, gateway.url, tmp_path / "profile")
    assert "Failed to fetch" in result["error"]


# --- the headers themselves: one set, from one place ---------------------------------------------------

ORIGIN = "http://127.0.0.1:5173"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os"}


def test_preflight_and_response_headers_appear_once() -> None:
    with TestClient(gateway_app([ORIGIN])) as client:
        preflight = client.options("/v1/chat/completions", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers.get_list("access-control-allow-origin") == [ORIGIN]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-stainless-os"} <= {h.strip() for h in allowed.split(",")}
        response = client.get("/v1/models", headers={"Origin": ORIGIN, "Authorization": f"Bearer {DEV_KEY}"})
        assert response.headers.get_list("access-control-allow-origin") == [ORIGIN]
        assert "x-request-id" in response.headers["access-control-expose-headers"]


def test_app_adds_no_cors_headers_when_the_platform_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORS_ENV, "platform")  # as the template sets it on every function
    with TestClient(gateway_app([ORIGIN])) as client:
        response = client.get("/v1/models", headers={"Origin": ORIGIN, "Authorization": f"Bearer {DEV_KEY}"})
        assert response.status_code == 200
        assert not [name for name in response.headers if name.lower().startswith("access-control-")]
        assert client.options("/v1/chat/completions", headers=PREFLIGHT).status_code == 405
