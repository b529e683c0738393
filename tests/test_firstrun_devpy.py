"""scripts/dev.py: `serve` installs only the runtime lock, `test` the development lock on top, and the
stamp in .venv records which lock was installed from which files."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[tuple[str, ...]]]:
    """scripts/dev.py with its venv in tmp_path and pip replaced by a recorder."""
    spec = importlib.util.spec_from_file_location("lambdagate_dev_script", ROOT / "scripts" / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")  # an existing venv: not created again
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "BIN", venv / "bin")
    monkeypatch.setattr(module, "STAMP", venv / ".lambdagate-installed")
    installs: list[tuple[str, ...]] = []
    monkeypatch.setattr(module, "_pip", lambda *args: installs.append(args))
    monkeypatch.setattr(module.subprocess, "run", lambda *a, **k: type("Done", (), {"returncode": 0})())
    return module, installs


def test_serve_installs_the_runtime_lock_and_test_adds_the_dev_lock(dev: tuple[ModuleType, list],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    module, installs = dev
    module.ensure_env(module.RUNTIME_LOCK)
    assert installs == [("-r", str(module.RUNTIME_LOCK)), ("--no-deps", "-e", str(module.ROOT))]
    out = capsys.readouterr().out
    assert re.search(r"^==> installing runtime dependencies: requirements\.lock, \d+ packages$", out, re.M)
    assert json.loads(module.STAMP.read_text()) == {"requirements.lock": module.fingerprint(module.RUNTIME_LOCK)}

    installs.clear()
    module.ensure_env(module.RUNTIME_LOCK)  # current: nothing to do
    assert installs == []
    module.ensure_env(module.DEV_LOCK)
    assert installs[0] == ("-r", str(module.DEV_LOCK))
    assert set(json.loads(module.STAMP.read_text())) == {"requirements.lock", "requirements-dev.lock"}


def test_an_environment_set_up_for_test_also_serves(dev: tuple[ModuleType, list]) -> None:
    module, installs = dev
    module.ensure_env(module.DEV_LOCK)
    installs.clear()
    module.ensure_env(module.RUNTIME_LOCK)
    assert installs == []


def test_a_changed_lock_or_an_old_stamp_reinstalls(dev: tuple[ModuleType, list]) -> None:
    module, installs = dev
    module.STAMP.write_text("0" * 64)  # the single-fingerprint stamp of earlier versions
    module.ensure_env(module.RUNTIME_LOCK)
    assert installs
    installs.clear()
    stamp = json.loads(module.STAMP.read_text())
    module.STAMP.write_text(json.dumps({**stamp, "requirements.lock": "stale"}))
    module.ensure_env(module.RUNTIME_LOCK)
    assert installs[0] == ("-r", str(module.RUNTIME_LOCK))


def test_the_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    runtime, development = lock_pins(ROOT / "requirements.lock"), lock_pins(ROOT / "requirements-dev.lock")
    assert {name: development.get(name) for name in runtime} == runtime  # same versions: test installs on top
    for tool in ("aws-sam-cli", "moto", "mypy", "pytest", "ruff", "boto3", "openai"):
        assert tool in development and tool not in runtime, tool
    for needed in ("fastapi", "uvicorn", "httpx", "pydantic", "aws-lambda-powertools", "fastapi-offline"):
        assert needed in runtime, needed


def test_the_readme_gives_both_lock_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    for lock in ("requirements.lock", "requirements-dev.lock"):
        header = (ROOT / lock).read_text().splitlines()[1].lstrip("# ").strip()
        assert header.startswith("uv pip compile") and header in readme, lock

