#!/usr/bin/env python3
"""Set up a development environment and run the gateway or the checks: the README's two commands.

    python3 scripts/dev.py serve [lambdagate serve options]   # the gateway on gateway.example.yaml
    python3 scripts/dev.py test [pytest options]              # ruff, mypy, then pytest

Only Python 3.11+ is needed: the first run creates .venv and installs the locked dependencies
(requirements-dev.lock) and the package in editable mode; later runs reinstall only when the
lock file or pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements-dev.lock"
STAMP = VENV / ".lambdagate-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (LOCK, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells an older Python so
        sys.exit("lambdagate needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == fingerprint:
        return
    print("installing locked dependencies into .venv ...", flush=True)
    if subprocess.run([str(BIN / "python"), "-m", "pip", "--version"], capture_output=True).returncode:
        # A venv made without pip (by uv, say) gets one.
        subprocess.run([str(BIN / "python"), "-m", "ensurepip"], check=True, capture_output=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(fingerprint)


def run(*command: str) -> int:
    # The venv's tools first on PATH: the suite runs `sam` (aws-sam-cli is a dev dependency).
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "setup"):
        print(__doc__)
        return 2
    ensure_env()
    action, rest = argv[0], argv[1:]
    if action == "serve":
        config = os.environ.get("LAMBDAGATE_CONFIG", str(ROOT / "gateway.example.yaml"))
        return run(str(BIN / "lambdagate"), "serve", "--config", config, *rest)
    if action == "test":
        for check in ([str(BIN / "ruff"), "check", "."], [str(BIN / "mypy")]):
            print("$", " ".join(Path(check[0]).name if i == 0 else a for i, a in enumerate(check)), flush=True)
            if code := run(*check):
                return code
        return run(str(BIN / "python"), "-m", "pytest", *rest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
