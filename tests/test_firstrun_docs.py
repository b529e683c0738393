"""``/docs`` and ``/redoc`` work offline: their JavaScript and CSS come from the app, not from a CDN."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from conftest import ServerThread
from lambdagate.api import create_app
from lambdagate.api.docs import ASSETS_PATH, assets_dir
from lambdagate.config import load_store

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def example_server() -> str:
    with ServerThread(create_app(load_store(str(ROOT / "gateway.example.yaml")))) as server:
        yield server.url


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"""url: ?["']([^"']+)["']""", html)


@pytest.mark.parametrize(("page", "assets"), [
    ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css"}),
    ("/redoc", {"redoc.standalone.js"}),
])
def test_docs_pages_load_every_asset_from_the_app_itself(example_server: str, page: str, assets: set[str]) -> None:
    assert assets_dir() is not None, "fastapi-offline (a dependency) is not installed"
    html = httpx.get(example_server + page).text
    urls = _asset_urls(html)
    assert not [u for u in urls if u.startswith(("http://", "https://", "//"))], urls
    assert "cdn" not in html.lower() and "fonts.googleapis" not in html
    local = {u.rsplit("/", 1)[-1]: u for u in urls if u.startswith(ASSETS_PATH + "/")}
    assert assets <= set(local)
    for name, url in local.items():
        response = httpx.get(example_server + url)
        assert response.status_code == 200, url
        assert len(response.content) > 1000, name  # the real bundle, not an empty page
        kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[name.rsplit(".", 1)[-1]]
        assert kind in response.headers["content-type"], name
    assert httpx.get(example_server + "/openapi.json").status_code == 200


def test_only_the_known_asset_files_are_served(example_server: str) -> None:
    for name in ("../../../etc/passwd", "core.py", "..%2F__init__.py", "missing.js"):
        assert httpx.get(f"{example_server}{ASSETS_PATH}/{name}").status_code == 404, name


def test_the_docs_assets_stay_off_the_import_path() -> None:
    """Building the app locates nothing and imports nothing of fastapi-offline: cold starts pay nothing."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
            "from lambdagate.api import create_app\n"
            "from lambdagate.config.file_store import FileConfigStore\n"
            f"create_app(FileConfigStore.from_path({str(ROOT / 'gateway.example.yaml')!r}))\n"
            "print(sorted(m for m in sys.modules if m.startswith('fastapi_offline')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_without_the_assets_package_the_pages_still_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lambda layer pins only the request path's packages: there /docs falls back to FastAPI's page."""
    import lambdagate.api.docs as docs

    monkeypatch.setattr(docs, "assets_dir", lambda: None)
    with ServerThread(create_app(load_store(str(ROOT / "gateway.example.yaml")))) as server:
        page = httpx.get(server.url + "/docs")
        assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
        assert httpx.get(f"{server.url}{ASSETS_PATH}/swagger-ui.css").status_code == 404
