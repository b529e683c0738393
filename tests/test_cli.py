"""The ``lambdagate`` CLI against moto's SSM: config push/pull and client keys.

Every command is run through ``lambdagate.cli.main`` as a user would run it; what it writes is read
back from SSM, and what it prints is checked for secrets.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import boto3
import pytest
import yaml

from lambdagate.auth import authenticate, hash_key
from lambdagate.cli import main as cli
from lambdagate.config.file_store import FileConfigStore
from lambdagate.config.schema import GatewayConfig
from lambdagate.config.ssm import SsmConfigStore

PREFIX = "/lg-cli"
SECRET = "sk-provider-secret-XYZ"
KEY_RE = re.compile(r"sk-lg-[A-Za-z0-9_-]{43,}")  # the legacy format or the checksummed one

CONFIG = {
    "settings": {"num_retries": 3, "fallbacks": {"gpt-4o": ["llama3.2:1b"]}},
    "providers": {"openai": {"api_key": "env:LG_CLI_OPENAI_KEY"}, "mock": {}},
    "models": {
        "gpt-4o": [{"provider": "openai", "model": "gpt-4o", "weight": 2}, {"provider": "mock", "model": "m"}],
        "llama3.2:1b": {"provider": "mock", "model": "llama"},
        "openai/gpt-4o-mini": {"provider": "openai", "model": "gpt-4o-mini"},
    },
    "keys": [{"name": "team-a", "sha256": hash_key("sk-team-a"), "models": ["gpt-4o"]}],
}


@pytest.fixture
def aws(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LG_CLI_OPENAI_KEY", SECRET)


def write(tmp_path: Path, config: dict, name: str = "gateway.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def stored(prefix: str = PREFIX) -> dict[str, tuple[str, str]]:
    client = boto3.client("ssm")
    pages = client.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True, WithDecryption=True)
    return {p["Name"]: (p["Value"], p["Type"]) for page in pages for p in page["Parameters"]}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- config push ------------------------------------------------------------------------------


def test_push_writes_the_layout_with_the_secret_as_securestring(aws: None, tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "config", "push", write(tmp_path, CONFIG), "--prefix", PREFIX, "--region", "us-east-1")
    assert code == 0 and SECRET not in out
    params = stored()
    assert params[f"{PREFIX}/providers/openai/api_key"] == (SECRET, "SecureString")
    assert params[f"{PREFIX}/models/llama3.2_3A1b"] == ('{"provider":"mock","model":"llama"}', "String")
    assert f"{PREFIX}/models/openai_2Fgpt-4o-mini" in params
    assert params[f"{PREFIX}/keys/{hash_key('sk-team-a')}"][1] == "String"
    assert all(kind == "String" for name, (_, kind) in params.items() if not name.endswith("/api_key"))
    assert "api_key" not in params[f"{PREFIX}/providers/openai"][0]
    assert "8 created, 0 updated, 0 unchanged, 0 deleted" in out
    # The store reads back the same configuration.
    store = SsmConfigStore(PREFIX, client=boto3.client("ssm"))
    local = FileConfigStore(GatewayConfig.model_validate(CONFIG))
    assert store.settings() == local.settings()
    assert {alias: store.deployments(alias) for alias in local.aliases()} == local.config.models
    assert store.provider("openai") == local.provider("openai")


def test_push_is_idempotent_updates_changes_and_prunes_on_request(aws: None, tmp_path: Path, capsys) -> None:
    path = write(tmp_path, CONFIG)
    assert cli(["config", "push", path, "--prefix", PREFIX]) == 0
    capsys.readouterr()
    _, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX)
    assert "0 created, 0 updated, 8 unchanged" in out

    changed = {**CONFIG, "models": {k: v for k, v in CONFIG["models"].items() if k != "llama3.2:1b"},
               "settings": {"num_retries": 1}}
    path = write(tmp_path, changed)
    _, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX)
    assert re.search(r"update\s+/lg-cli/settings", out)
    assert re.search(r"extra\s+/lg-cli/models/llama3.2_3A1b", out) and f"{PREFIX}/models/llama3.2_3A1b" in stored()

    _, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--prune", "--dry-run")
    assert "1 deleted" in out and "dry run" in out and f"{PREFIX}/models/llama3.2_3A1b" in stored()
    _, out, _ = run(capsys, "config", "push", path, "--prefix", PREFIX, "--prune")
    assert f"{PREFIX}/models/llama3.2_3A1b" not in stored()
    assert stored()[f"{PREFIX}/settings"][0] == '{"num_retries":1}'


def test_dry_run_writes_nothing(aws: None, tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "config", "push", write(tmp_path, CONFIG), "--prefix", PREFIX, "--dry-run")
    assert code == 0 and "8 created" in out and "dry run: nothing written" in out
    assert stored() == {}


def test_push_refuses_an_unresolvable_secret_and_writes_nothing(aws: None, tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_CLI_OPENAI_KEY")
    code, _, err = run(capsys, "config", "push", write(tmp_path, CONFIG), "--prefix", PREFIX)
    assert code == 1 and "LG_CLI_OPENAI_KEY" in err and "openai" in err
    assert stored() == {}


def test_push_reports_bad_input_without_a_traceback(aws: None, tmp_path: Path, capsys) -> None:
    assert run(capsys, "config", "push", str(tmp_path / "missing.yaml"), "--prefix", PREFIX)[0] == 2
    assert run(capsys, "config", "push", write(tmp_path, {"bogus": 1}), "--prefix", PREFIX)[0] == 2
    code, _, err = run(capsys, "config", "push", write(tmp_path, CONFIG), "--prefix", "/bad prefix")
    assert code == 2 and "prefix" in err


# --- config pull ------------------------------------------------------------------------------


def test_pull_prints_the_config_without_secrets_and_pushes_back_unchanged(aws: None, tmp_path: Path,
                                                                          capsys) -> None:
    assert cli(["config", "push", write(tmp_path, CONFIG), "--prefix", PREFIX]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "config", "pull", "--prefix", PREFIX)
    assert code == 0 and SECRET not in out
    pulled = GatewayConfig.model_validate(yaml.safe_load(out))
    assert pulled.providers["openai"].api_key == f"ssm:{PREFIX}/providers/openai/api_key"
    original = GatewayConfig.model_validate(CONFIG)
    assert pulled.settings == original.settings and pulled.models == original.models
    assert pulled.keys == original.keys
    assert pulled.providers["mock"] == original.providers["mock"]

    # What pull printed is a config push accepts: the stored secret is kept, nothing changes.
    (tmp_path / "pulled.yaml").write_text(out)
    _, again, _ = run(capsys, "config", "push", str(tmp_path / "pulled.yaml"), "--prefix", PREFIX, "--prune")
    assert "0 created, 0 updated, 8 unchanged, 0 deleted" in again
    assert stored()[f"{PREFIX}/providers/openai/api_key"] == (SECRET, "SecureString")


def test_pull_of_an_empty_prefix_is_an_error(aws: None, capsys) -> None:
    code, _, err = run(capsys, "config", "pull", "--prefix", "/nothing-here")
    assert code == 1 and "nothing stored" in err


# --- keys -------------------------------------------------------------------------------------


def test_keys_create_stores_the_hash_and_prints_the_key_once(aws: None, capsys) -> None:
    code, out, _ = run(capsys, "keys", "create", "--name", "svc", "--models", "gpt-4o, mock/*", "--prefix", PREFIX)
    assert code == 0
    keys = KEY_RE.findall(out)
    assert len(keys) == 1
    key = keys[0]
    params = stored()
    assert list(params) == [f"{PREFIX}/keys/{hash_key(key)}"]
    assert key not in next(iter(params.values()))[0]
    record = authenticate(f"Bearer {key}", SsmConfigStore(PREFIX, client=boto3.client("ssm")))
    assert record.name == "svc" and record.models == ["gpt-4o", "mock/*"]


def test_keys_create_without_prefix_prints_the_config_entry(aws: None, capsys) -> None:
    code, out, _ = run(capsys, "keys", "create", "--name", "local", "--models", "a,b")
    key = KEY_RE.findall(out)[0]
    assert code == 0 and f"{{name: local, sha256: {hash_key(key)}, models: [a, b]}}" in out
    assert stored() == {}


def test_keys_list_shows_names_hashes_and_models_never_keys(aws: None, capsys) -> None:
    first = KEY_RE.findall(run(capsys, "keys", "create", "--name", "alpha", "--prefix", PREFIX)[1])[0]
    second = KEY_RE.findall(run(capsys, "keys", "create", "--name", "beta", "--models", "x,y",
                                "--prefix", PREFIX)[1])[0]
    code, out, _ = run(capsys, "keys", "list", "--prefix", PREFIX)
    assert code == 0 and first not in out and second not in out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SHA256", "MODELS"]
    assert lines[1].split() == ["alpha", hash_key(first), "*"]
    assert lines[2].split() == ["beta", hash_key(second), "x,y"]
    assert "no keys" in run(capsys, "keys", "list", "--prefix", "/empty")[1]


def test_keys_revoke_by_hash_or_by_key(aws: None, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    one = KEY_RE.findall(run(capsys, "keys", "create", "--name", "one", "--prefix", PREFIX)[1])[0]
    two = KEY_RE.findall(run(capsys, "keys", "create", "--name", "two", "--prefix", PREFIX)[1])[0]
    three = KEY_RE.findall(run(capsys, "keys", "create", "--name", "three", "--prefix", PREFIX)[1])[0]

    code, out, _ = run(capsys, "keys", "revoke", "--sha256", hash_key(one).upper(), "--prefix", PREFIX)
    assert code == 0 and "revoked key 'one'" in out
    assert run(capsys, "keys", "revoke", "--key", two, "--prefix", PREFIX)[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(three + "\n"))
    code, out, _ = run(capsys, "keys", "revoke", "--key", "-", "--prefix", PREFIX)
    assert code == 0 and three not in out
    assert stored() == {}

    code, _, err = run(capsys, "keys", "revoke", "--sha256", hash_key(one), "--prefix", PREFIX)
    assert code == 1 and "no key" in err
    assert run(capsys, "keys", "revoke", "--sha256", "abc", "--prefix", PREFIX)[0] == 2
    with pytest.raises(SystemExit):  # argparse: exactly one of --sha256/--key
        cli(["keys", "revoke", "--prefix", PREFIX])


def test_aws_failures_are_one_line_errors(aws: None, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # No credentials at all: botocore's error, reported without a traceback.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = run(capsys, "keys", "create", "--name", "x", "--prefix", PREFIX)
    assert code == 1 and err.startswith("error:") and "credentials" in err.lower()
    assert KEY_RE.search(out) is None  # the key is shown only once it is stored
