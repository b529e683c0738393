"""The CLI as an operator meets it: a missing AWS extra, unset credentials, the public development key,
pruning next to keys made by ``keys create``, and ``serve`` on a non-loopback host.

SSM is moto's (the ``moto_aws`` fixture); every command runs through ``lambdagate.cli.main``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from lambdagate.auth import hash_key
from lambdagate.cli import main as cli
from lambdagate.cli.common import DEV_KEY, DEV_KEY_SHA256
from lambdagate.cli.serve import dev_key_warning, is_loopback
from lambdagate.config.file_store import FileConfigStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "gateway.example.yaml"
PREFIX = "/lg-ops"
KEY_RE = re.compile(r"sk-lg-[A-Za-z0-9_-]{43,}")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored() -> dict[str, str]:
    pages = boto3.client("ssm").get_paginator("get_parameters_by_path").paginate(
        Path=PREFIX, Recursive=True, WithDecryption=True)
    return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}


def example_without_dev_key() -> dict[str, Any]:
    config = yaml.safe_load(EXAMPLE.read_text())
    config.pop("keys")
    return config


def write(tmp_path: Path, config: dict[str, Any]) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "MISTRAL_API_KEY", "COHERE_API_KEY",
                 "GROQ_API_KEY"):
        monkeypatch.delenv(name, raising=False)


# --- the aws extra ----------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["config", "push", str(EXAMPLE), "--prefix", PREFIX],
    ["config", "pull", "--prefix", PREFIX],
    ["keys", "list", "--prefix", PREFIX],
    ["keys", "create", "--name", "x", "--prefix", PREFIX],
    ["keys", "revoke", "--sha256", "0" * 64, "--prefix", PREFIX],
    ["serve", "--config", "ssm:/lambdagate"],
], ids=["push", "pull", "keys-list", "keys-create", "keys-revoke", "serve-ssm"])
def test_commands_needing_aws_name_the_extra_when_boto3_is_missing(
        argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    if argv[:2] == ["config", "push"]:
        argv = [*argv[:2], write(tmp_path, example_without_dev_key()), *argv[3:]]
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `pip install .` without the extra gives
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert err.count("\n") == 1 and "pip install 'lambdagate[aws]'" in err and "Traceback" not in err
    assert KEY_RE.search(out) is None  # keys create shows no key it could not store


def test_keys_create_without_a_prefix_needs_no_aws(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    code, out, _ = run(capsys, "keys", "create", "--name", "local")
    assert code == 0 and KEY_RE.search(out)


# --- unset credentials ------------------------------------------------------------------------


def test_push_reports_every_unset_variable_at_once_and_writes_nothing(
        moto_aws: None, no_provider_keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "push", write(tmp_path, example_without_dev_key()), "--prefix", PREFIX)
    assert code == 1
    for provider, variable in [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"),
                               ("gemini", "GEMINI_API_KEY"), ("mistral", "MISTRAL_API_KEY"),
                               ("cohere", "COHERE_API_KEY"), ("groq", "GROQ_API_KEY")]:
        assert re.search(rf"^  {provider}: environment variable {variable} is not set$", err, re.M), provider
    assert "6 provider(s)" in err and "--skip-missing" in err
    assert stored() == {}


def test_skip_missing_pushes_the_rest_and_keeps_what_ssm_has_for_the_skipped(
        moto_aws: None, no_provider_keys: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, example_without_dev_key())
    # An earlier push, from a shell that had the OpenAI key.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-earlier")
    code, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--skip-missing")
    assert code == 0 and "sk-openai-earlier" not in out
    assert stored()[f"{PREFIX}/providers/openai/api_key"] == "sk-openai-earlier"
    skipped = re.search(r"^skipped \(no credentials here\): (.*)$", out, re.M)
    assert skipped is not None
    assert [p.split(" ")[0] for p in re.findall(r"(\w+ \(environment variable \w+ is not set\))",
                                                skipped.group(1))] == ["anthropic", "cohere", "gemini", "groq",
                                                                        "mistral"]
    params = stored()
    assert f"{PREFIX}/providers/anthropic" not in params and f"{PREFIX}/models/claude" in params
    assert f"{PREFIX}/providers/mock" in params and f"{PREFIX}/providers/ollama" in params

    # Now from a shell without it, pruning: openai is skipped, and its stored secret survives.
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--skip-missing", "--prune")
    assert code == 0 and "openai (environment variable OPENAI_API_KEY is not set)" in out
    assert "0 deleted" in out and not re.search(r"^delete", out, re.M)
    assert stored()[f"{PREFIX}/providers/openai/api_key"] == "sk-openai-earlier"
    assert f"{PREFIX}/providers/openai" in stored()


# --- the development key ----------------------------------------------------------------------


def test_push_refuses_the_development_key_of_the_example_config(
        moto_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert hash_key("sk-lambdagate-dev") == DEV_KEY_SHA256
    assert DEV_KEY_SHA256 in EXAMPLE.read_text()  # the example config documents it
    code, _, err = run(capsys, "config", "push", str(EXAMPLE), "--prefix", PREFIX, "--skip-missing")
    assert code == 2 and DEV_KEY in err and "local-dev" in err
    assert stored() == {}


def test_keys_create_never_stores_the_development_key(
        moto_aws: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lambdagate.auth.generate_key", lambda: DEV_KEY)
    code, out, err = run(capsys, "keys", "create", "--name", "oops", "--prefix", PREFIX)
    assert code == 2 and DEV_KEY in err and DEV_KEY not in out
    assert stored() == {}


def test_a_stored_development_key_is_pointed_out(moto_aws: None, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/keys/{DEV_KEY_SHA256}", Type="String",
                                      Value=f'{{"name": "local-dev", "sha256": "{DEV_KEY_SHA256}"}}')
    _, _, err = run(capsys, "keys", "list", "--prefix", PREFIX)
    assert f"keys revoke --sha256 {DEV_KEY_SHA256}" in err
    config = {"providers": {"mock": {}}, "models": {"m": {"provider": "mock", "model": "m"}}}
    code, _, err = run(capsys, "config", "push", write(tmp_path, config), "--prefix", PREFIX)
    assert code == 0 and f"keys revoke --sha256 {DEV_KEY_SHA256}" in err


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("gateway.internal", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.fixture
def gateway_logger() -> Any:
    """``serve`` adds a stderr handler to the gateway's logger; taken off again after the test."""
    import logging

    logger = logging.getLogger("lambdagate")
    handlers, level = logger.handlers[:], logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_serve_warns_when_the_development_key_is_reachable_from_elsewhere(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, gateway_logger: Any) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, host, port, **_: served.append((host, port)))
    code, _, err = run(capsys, "serve", "--config", str(EXAMPLE), "--host", "0.0.0.0", "--port", "8123")
    assert code == 0 and re.search(rf"^warning: .*{DEV_KEY}.*0\.0\.0\.0", err, re.M)
    _, _, err = run(capsys, "serve", "--config", str(EXAMPLE))  # 127.0.0.1 by default
    assert "warning" not in err
    assert served == [("0.0.0.0", 8123), ("127.0.0.1", 8000)]


def test_no_warning_without_the_development_key(tmp_path: Path) -> None:
    store = FileConfigStore.from_path(write(tmp_path, example_without_dev_key()))
    assert dev_key_warning(store, "0.0.0.0") is None
    assert dev_key_warning(FileConfigStore.from_path(EXAMPLE), "0.0.0.0") is not None


# --- pruning and keys -------------------------------------------------------------------------


def test_prune_keeps_client_keys_unless_asked_separately(moto_aws: None, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = {"providers": {"mock": {}}, "models": {"a": {"provider": "mock", "model": "a"},
                                                    "b": {"provider": "mock", "model": "b"}}}
    assert run(capsys, "config", "push", write(tmp_path, config), "--prefix", PREFIX)[0] == 0
    key = KEY_RE.findall(run(capsys, "keys", "create", "--name", "svc", "--prefix", PREFIX)[1])[0]
    key_name = f"{PREFIX}/keys/{hash_key(key)}"

    del config["models"]["b"]
    path = write(tmp_path, config)
    code, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--prune")
    assert code == 0 and re.search(rf"^delete\s+{PREFIX}/models/b$", out, re.M)
    assert re.search(rf"^extra\s+{key_name}\s+\(a client key .*--prune-keys", out, re.M)
    assert "1 deleted" in out and key_name in stored() and f"{PREFIX}/models/b" not in stored()

    code, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--prune-keys", "--dry-run")
    assert code == 0 and re.search(rf"^delete\s+{key_name}$", out, re.M) and key_name in stored()
    code, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--prune-keys")
    assert code == 0 and key_name not in stored()


@pytest.mark.parametrize("level", ["critical", "error", "warning", "info", "debug", "trace"])
def test_serve_accepts_the_log_levels_uvicorn_accepts(level: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    import uvicorn

    from lambdagate.cli import build_parser
    from lambdagate.cli.serve import LOG_LEVELS

    seen: dict[str, Any] = {}
    gateway_logger = logging.getLogger("lambdagate")
    # serve configures the process's "lambdagate" logger: put it back for the tests that follow.
    monkeypatch.setattr(gateway_logger, "level", gateway_logger.level)
    monkeypatch.setattr(gateway_logger, "handlers", list(gateway_logger.handlers))
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    args = build_parser().parse_args(["serve", "--config", str(Path(__file__).parents[1] / "gateway.example.yaml"),
                                      "--log-level", level])
    assert args.handler(args) == 0
    assert seen["log_level"] == level
    assert gateway_logger.level == LOG_LEVELS[level]
    assert set(LOG_LEVELS) == set(uvicorn.config.LOG_LEVELS)


def test_serve_refuses_an_unknown_log_level_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli(["serve", "--log-level", "bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
