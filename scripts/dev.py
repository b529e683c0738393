#!/usr/bin/env python3
"""Set up a development environment and run the gateway or the checks: the README's two commands.

    python3 scripts/dev.py serve [lambdagate serve options]   # the gateway on gateway.example.yaml
    python3 scripts/dev.py test [pytest options]              # ruff, mypy, then pytest
    python3 scripts/dev.py setup                              # only the environment, as `test` needs it
    python3 scripts/dev.py wheelhouse                         # the layer's wheels, for `sam build` offline

Only Python 3.11+ is needed. The first run creates .venv; `serve` installs what the gateway needs
to run (requirements.lock), `test` and `setup` add the development tools on top
(requirements-dev.lock), and both install the package in editable mode. A stamp in .venv records
which lock was installed from which files; later runs reinstall only when those changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
STAMP = VENV / ".lambdagate-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
WHEELHOUSE = ROOT / ".wheelhouse"
LAYER_REQUIREMENTS = ROOT / "layers" / "lambdagate" / "requirements.txt"
# What the layer's Makefile cross-installs for: Lambda's arm64 CPython 3.13.
LAYER_PLATFORM = ["--platform", "manylinux2014_aarch64", "--platform", "manylinux_2_28_aarch64",
                  "--python-version", "3.13", "--implementation", "cp", "--abi", "cp313", "--only-binary=:all:"]


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def fingerprint(lock: Path) -> str:
    """What an installed lock depends on: the lock itself and pyproject.toml (the editable package)."""
    digest = hashlib.sha256()
    for path in (lock, ROOT / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_stamp() -> dict[str, str]:
    """Lock file name -> fingerprint of what is installed; empty for a new venv or an older stamp format."""
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in stamp.items()} if isinstance(stamp, dict) else {}


def is_current(lock: Path, stamp: dict[str, str]) -> bool:
    return stamp.get(lock.name) == fingerprint(lock)


def _count(lock: Path) -> int:
    return sum(1 for line in lock.read_text().splitlines() if line[:1].isalnum())


def _pip(*args: str) -> None:
    # No -q: pip's own lines and download bars are the progress a first run shows.
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", *args], check=True)


def ensure_env(lock: Path) -> None:
    """Make .venv hold ``lock``'s packages and the package itself, installing only what changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script is what tells an older Python so
        sys.exit("lambdagate needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        step("creating .venv")
        venv.create(VENV, with_pip=True)
    stamp = read_stamp()
    # The development lock pins the runtime packages at the same versions (requirements.lock is
    # compiled against it), so an environment set up for `test` also serves.
    if is_current(lock, stamp) or (lock == RUNTIME_LOCK and is_current(DEV_LOCK, stamp)):
        return
    if subprocess.run([str(BIN / "python"), "-m", "pip", "--version"], capture_output=True).returncode:
        step("adding pip to .venv")  # a venv made without pip (by uv, say)
        subprocess.run([str(BIN / "python"), "-m", "ensurepip"], check=True, capture_output=True)
    what = "runtime dependencies" if lock == RUNTIME_LOCK else "runtime and development dependencies"
    step(f"installing {what}: {lock.name}, {_count(lock)} packages")
    _pip("-r", str(lock))
    step("installing lambdagate itself (editable)")
    _pip("--no-deps", "-e", str(ROOT))
    stamp[lock.name] = fingerprint(lock)
    STAMP.write_text(json.dumps(stamp, indent=1, sort_keys=True))
    step(f"{VENV.name} ready ({lock.name})")


def wheelhouse() -> int:
    """Download the layer's wheels into .wheelhouse, where tests/test_sam_build.py finds them offline."""
    step(f"downloading the layer's wheels ({LAYER_REQUIREMENTS.relative_to(ROOT)}) into {WHEELHOUSE.name}/")
    command = [str(BIN / "python"), "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
               *LAYER_PLATFORM, "--dest", str(WHEELHOUSE), "-r", str(LAYER_REQUIREMENTS)]
    return subprocess.run(command, cwd=ROOT).returncode


def run(*command: str) -> int:
    # The venv's tools first on PATH: the suite runs `sam` (aws-sam-cli is a dev dependency).
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "setup", "wheelhouse"):
        print(__doc__)
        return 2
    action, rest = argv[0], argv[1:]
    ensure_env(RUNTIME_LOCK if action == "serve" else DEV_LOCK)
    if action == "serve":
        config = os.environ.get("LAMBDAGATE_CONFIG", str(ROOT / "gateway.example.yaml"))
        return run(str(BIN / "lambdagate"), "serve", "--config", config, *rest)
    if action == "test":
        for check in ([str(BIN / "ruff"), "check", "."], [str(BIN / "mypy")]):
            print("$", " ".join(Path(check[0]).name if i == 0 else a for i, a in enumerate(check)), flush=True)
            if code := run(*check):
                return code
        return run(str(BIN / "python"), "-m", "pytest", *rest)
    if action == "wheelhouse":
        return wheelhouse()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
