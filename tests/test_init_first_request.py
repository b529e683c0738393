"""Init does what the first request needs: it imports and builds, the first invocation only serves.

Each check runs in a fresh interpreter (this process has imported everything long ago) with the
SAM template's environment, importing a function module as Lambda does. The first request goes
through the real handler with an ``events/`` file, and once more through an OpenAI-type upstream on
loopback, and must import no module: whatever it would import is paid inside a request (seven
times slower at 256 MB's CPU share) and, with SnapStart, after every restore.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TEMPLATE_ENV = {"POWERTOOLS_SERVICE_NAME": "lambdagate", "POWERTOOLS_METRICS_NAMESPACE": "lambdagate-test",
                "POWERTOOLS_LOG_LEVEL": "WARNING", "LAMBDAGATE_CORS": "platform",
                "PYDANTIC_DISABLE_PLUGINS": "__all__"}

PRELUDE = textwrap.dedent('''
    import json, sys
    from pathlib import Path

    class Context:
        aws_request_id = "init-test"
        function_name = "lambdagate-chat"
        function_version = "$LATEST"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:lambdagate-chat"

        @staticmethod
        def get_remaining_time_in_millis():
            return 29000
''')


def run(function: str, code: str, config: Path | str, **env: str) -> dict[str, object]:
    """Run ``code`` after ``import app`` of ``functions/<function>``; it prints one JSON line last."""
    entry = f"sys.path.insert(0, {str(ROOT / 'functions' / function)!r})\nimport app\n"
    script = PRELUDE + entry + textwrap.dedent(code)
    full_env = {**os.environ, **TEMPLATE_ENV, "LAMBDAGATE_CONFIG": str(config), **env}
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", script], env=full_env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


CLIENT_STATE = '''
    import ssl
    import aiohttp
    import aiohttp.connector
    from lambdagate import trust_store, upstream_http
    client = upstream_http._client
    print(json.dumps({
        "built": client is not None,
        "bound_to_a_loop": upstream_http._client_loop is not None,
        "session_opened": bool(getattr(client, "opened", False)),
        "tls_is_aiohttp_default": upstream_http._tls is aiohttp.connector._SSL_CONTEXT_VERIFIED,
        "lazy_trust_store": isinstance(trust_store._lazy_directory, str),
        "verified_cas": aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"],
        "unverified_cas": aiohttp.connector._SSL_CONTEXT_UNVERIFIED.cert_store_stats()["x509_ca"],
        "system_cas": ssl.create_default_context().cert_store_stats()["x509_ca"],
        "ssl_patched": "set_default_verify_paths" in ssl.SSLContext.__dict__,
        "pydantic_plugins_scanned": sys.modules["pydantic.plugin._loader"]._plugins is not None,
        "modules": sorted(m for m in ("aiohttp", "httpx", "httpx_aiohttp", "httpx_sse", "click", "rich", "pydantic.v1")
                          if m in sys.modules),
    }))
'''


def test_upstream_client_and_tls_context_are_built_at_init() -> None:
    for function in ("chat", "stream"):
        state = run(function, CLIENT_STATE, ROOT / "gateway.example.yaml")
        assert state["built"], function
        # Built but not bound: the aiohttp session (bound to the running loop) opens on the first request.
        assert not state["bound_to_a_loop"] and not state["session_opened"], function
        # One CA bundle load (aiohttp's own, at its import), not a second one for httpx's default.
        assert state["tls_is_aiohttp_default"], function
        # The trust store is loaded into the verified context only: the unverified one never reads it,
        # and the import-time shortcut is gone once aiohttp is imported. Loaded from a hashed directory
        # that matches the bundle, no certificate is parsed before a handshake needs it.
        loaded = 0 if state["lazy_trust_store"] else state["system_cas"]
        assert state["verified_cas"] == loaded and state["unverified_cas"] == 0, state
        assert not state["ssl_patched"], function
        # The template's PYDANTIC_DISABLE_PLUGINS: no package's entry points are read for pydantic plugins.
        assert not state["pydantic_plugins_scanned"], function
        modules = state["modules"]
        assert isinstance(modules, list)
        assert {"aiohttp", "httpx", "httpx_sse"} <= set(modules), function
        assert "httpx_aiohttp" not in modules, function  # the pool is aiohttp's own session
        if function == "chat":  # httpx's command-line client (click, rich) is never imported
            assert "click" not in modules and "rich" not in modules
        # No route declares a parameter FastAPI would analyse (it imports pydantic.v1 to rule out a v1 model).
        assert "pydantic.v1" not in modules, function


MODEL_BUILDS = '''
    from pydantic._internal import _model_construction
    from lambdagate import types
    built = []
    complete = _model_construction.complete_model_class

    def counting(cls, *args, **kwargs):
        built.append(cls.__name__)
        return complete(cls, *args, **kwargs)

    _model_construction.complete_model_class = counting  # every schema build, at class creation or deferred
    at_init = {{name: getattr(types, name).__pydantic_complete__
               for name in ("BaseRequest", "ChatCompletionRequest", "CompletionRequest")}}
    response = app.handler(json.loads(Path({event!r}).read_text()), Context())
    print(json.dumps({{"status": response["statusCode"], "at_init": at_init, "built_by_the_request": built}}))
'''


@pytest.mark.parametrize(("function", "event", "serves_completions"),
                         [("chat", "chat-http.json", False), ("completions", "completions-http.json", True)])
def test_request_schemas_are_built_at_init_for_the_endpoints_served(function: str, event: str,
                                                                    serves_completions: bool) -> None:
    """A function builds the schemas of the requests it serves at init and no other (a text
    completion's is about 8 ms of init that the chat function never uses), and its first request
    builds none."""
    result = run(function, MODEL_BUILDS.format(event=str(ROOT / "events" / event)), ROOT / "gateway.example.yaml")
    assert result["status"] == 200
    assert result["at_init"] == {"BaseRequest": False, "ChatCompletionRequest": True,
                                 "CompletionRequest": serves_completions}
    assert result["built_by_the_request"] == []


FIRST_REQUEST = '''
    event = json.loads(Path({event!r}).read_text())
    {setup}
    before = set(sys.modules)
    response = app.handler(event, Context())
    imported = sorted(set(sys.modules) - before)
    again = app.handler(event, Context())
    print(json.dumps({{"status": response["statusCode"], "again": again["statusCode"], "imported": imported,
                       "body": response["body"][:300]}}))
'''


def test_first_invocation_imports_nothing_new() -> None:
    code = FIRST_REQUEST.format(event=str(ROOT / "events" / "chat-http.json"), setup="")
    result = run("chat", code, ROOT / "gateway.example.yaml")
    assert (result["status"], result["again"]) == (200, 200), result["body"]
    assert result["imported"] == []


UPSTREAM = '''
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ANSWER = json.dumps({{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{{"index": 0, "message": {{"role": "assistant", "content": "hi"}}, "finish_reason": "stop"}}],
        "usage": {{"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}}}).encode()

    class Upstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", {port}), Upstream)
    {tls}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    event["headers"]["authorization"] = "Bearer sk-init-test"
    event["body"] = json.dumps({{"model": "up-model", "messages": [{{"role": "user", "content": "hi"}}]}})
    event["headers"]["content-length"] = str(len(event["body"]))
'''


def _upstream_config(tmp_path: Path, origin: str, api_key: str) -> tuple[Path, int]:
    """A config routing ``up-model`` to an OpenAI-type upstream at ``origin`` on a free port; (path, port)."""
    import hashlib
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({
        "settings": {"num_retries": 0},
        "providers": {"up": {"type": "openai", "api_base": f"{origin}:{port}/v1", "api_key": api_key}},
        "models": {"up-model": {"provider": "up", "model": "gpt-4o-mini"}},
        "keys": [{"name": "init", "sha256": hashlib.sha256(b"sk-init-test").hexdigest()}],
    }))
    return config, port


def test_first_invocation_through_an_openai_upstream_imports_nothing_new(tmp_path: Path) -> None:
    config, port = _upstream_config(tmp_path, "http://127.0.0.1", "sk-up")
    code = FIRST_REQUEST.format(event=str(ROOT / "events" / "chat-http.json"), setup=UPSTREAM.format(port=port, tls=""))
    result = run("chat", code, config)
    assert (result["status"], result["again"]) == (200, 200), result["body"]
    assert result["imported"] == []


TLS = ("import ssl; tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH); tls.load_cert_chain({chain!r}); "
       "server.socket = tls.wrap_socket(server.socket, server_side=True)")


def test_an_https_upstream_is_verified_against_the_trust_store(tmp_path: Path) -> None:
    """The one trust store load at init is the one upstream connections verify against.

    The upstream's certificate comes from a throwaway CA: trusted through ``SSL_CERT_FILE`` (which
    OpenSSL reads when the trust store is loaded, at init) the request succeeds and the first one
    imports nothing; untrusted it is refused before any byte of the request is sent, as a 502 that
    says the certificate was not verified and names neither the upstream's URL nor its key.
    """
    import trustme

    authority = trustme.CA()
    chain, ca_file = tmp_path / "upstream.pem", tmp_path / "ca.pem"
    authority.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(chain))
    authority.cert_pem.write_to_path(str(ca_file))
    config, port = _upstream_config(tmp_path, "https://localhost", "sk-up-secret")
    setup = UPSTREAM.format(port=port, tls=TLS.format(chain=str(chain)))
    code = FIRST_REQUEST.format(event=str(ROOT / "events" / "chat-http.json"), setup=setup)

    trusted = run("chat", code, config, SSL_CERT_FILE=str(ca_file))
    assert (trusted["status"], trusted["again"]) == (200, 200), trusted["body"]
    assert trusted["imported"] == []

    untrusted = run("chat", code, config)
    assert (untrusted["status"], untrusted["again"]) == (502, 502), untrusted["body"]
    body = str(untrusted["body"])
    error = json.loads(body)["error"]
    assert error["code"] == "upstream_unreachable" and "TLS certificate" in error["message"], error
    assert "localhost" not in body and str(port) not in body and "sk-up-secret" not in body


def test_an_https_upstream_is_verified_against_a_hashed_directory_read_at_the_handshake(tmp_path: Path) -> None:
    """A trust store whose hashed directory matches its bundle is read at the first handshake, not at init.

    The throwaway CA that signed the upstream's certificate sits in the bundle and, under its
    subject hash, in the directory (``SSL_CERT_FILE``/``SSL_CERT_DIR``, as OpenSSL reads them): init
    parses no certificate, the first request finds the CA in the directory and imports nothing.
    """
    from test_trust_store import authority, bundle, hashed_directory

    upstream_ca, other_ca = authority(1), authority(2)
    chain = tmp_path / "upstream.pem"
    upstream_ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(chain))
    bundle_file = bundle(tmp_path / "bundle.pem", other_ca, upstream_ca)
    directory = hashed_directory(tmp_path / "certs", upstream_ca, other_ca)
    config, port = _upstream_config(tmp_path, "https://localhost", "sk-up-secret")
    setup = UPSTREAM.format(port=port, tls=TLS.format(chain=str(chain))) + (
        "\n    import aiohttp.connector"
        "\n    at_init = aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()['x509_ca']")
    code = FIRST_REQUEST.format(event=str(ROOT / "events" / "chat-http.json"), setup=setup).replace(
        '"body": response["body"][:300]', '"body": response["body"][:300], "at_init": at_init, '
        '"after": aiohttp.connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]')
    result = run("chat", code, config, SSL_CERT_FILE=str(bundle_file), SSL_CERT_DIR=str(directory))
    assert (result["status"], result["again"]) == (200, 200), result["body"]
    assert result["imported"] == []
    assert (result["at_init"], result["after"]) == (0, 1)  # only the upstream's CA was ever parsed


def test_after_restore_keeps_imports_and_tls_context() -> None:
    code = '''
    from lambdagate import lambda_runtime, upstream_http
    tls = upstream_http.tls_context()
    lambda_runtime.after_restore()
    dropped = upstream_http._client is None
    import asyncio
    async def rebuilt():
        return upstream_http.get_client().session().connector._ssl is tls  # what connections use
    print(json.dumps({"dropped": dropped, "same_tls": asyncio.run(rebuilt())}))
    '''
    result = run("chat", code, ROOT / "gateway.example.yaml")
    assert result == {"dropped": True, "same_tls": True}
