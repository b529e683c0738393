"""`sam build` as a user runs it: no Docker, whatever the host's Python, artifacts for arm64 CPython 3.13.

Needs the SAM CLI on PATH (`python3 scripts/dev.py test` puts .venv's first) and the layer's wheels:
pip cross-installs them from the package index, or, with no network at all, from a local wheel
cache (`python3 scripts/dev.py wheelhouse` fills `.wheelhouse/`; `LAMBDAGATE_WHEELHOUSE` names
another folder). A cache holding every pinned wheel is used without the index; otherwise the index
is probed first (a few seconds at most) and the build tests are skipped, with the reason, when it
cannot be reached. The built layer must hold aarch64 cp313 binaries and the lambdagate package,
and no test or build tooling; each function's artifact stays its own entry module.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EM_AARCH64 = 183
TOOLING = ("pytest", "_pytest", "moto", "openai", "boto3", "botocore", "s3transfer", "mypy", "ruff",
           "jsonschema", "samcli", "cfnlint", "pip", "setuptools", "hatchling", "uv")

SAM = shutil.which("sam")
pytestmark = pytest.mark.skipif(SAM is None, reason="SAM CLI (`sam`) not on PATH: pip install aws-sam-cli")
WHEELHOUSE = Path(os.environ.get("LAMBDAGATE_WHEELHOUSE") or ROOT / ".wheelhouse")
INDEX_PROBE_SECONDS = 5.0


def _pinned() -> dict[str, str]:
    """The layer's pins, canonical name -> version."""
    pins = {}
    for line in (ROOT / "layers/lambdagate/requirements.txt").read_text().splitlines():
        if line and not line.startswith("#") and "==" in line:
            name, version = line.split(";")[0].strip().split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def complete_wheelhouse(folder: Path) -> bool:
    """Whether ``folder`` has a wheel of every pinned version (then pip needs no index at all)."""
    if not folder.is_dir():
        return False
    present = set()
    for wheel in folder.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        present.add((re.sub(r"[-_.]+", "-", name).lower(), version))
    return all(pin in present for pin in _pinned().items())


def index_unreachable() -> str | None:
    """Why the package index cannot serve the build, or None; a short probe, not pip's long retries."""
    index = (os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple").rstrip("/")
    try:
        with urllib.request.urlopen(f"{index}/pip/", timeout=INDEX_PROBE_SECONDS) as response:
            response.read(1)
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections are all OSErrors
        return f"package index {index} unreachable ({type(exc).__name__}: {exc})"
    return None


def build_env() -> dict[str, str]:
    """The environment `sam build` (and so the layer's pip) runs with: the wheel cache first, if any."""
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    if WHEELHOUSE.is_dir():
        env["PIP_FIND_LINKS"] = " ".join(filter(None, [str(WHEELHOUSE), os.environ.get("PIP_FIND_LINKS", "")]))
    if complete_wheelhouse(WHEELHOUSE):
        env["PIP_NO_INDEX"] = "1"
    return env


def sam(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert SAM is not None
    return subprocess.run([SAM, *args], cwd=ROOT, env=env or {**os.environ, "SAM_CLI_TELEMETRY": "0"},
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not complete_wheelhouse(WHEELHOUSE) and (reason := index_unreachable()):
        pytest.skip(f"sam build needs the layer's wheels: {reason}, and no complete wheel cache in {WHEELHOUSE} "
                    "(fill one while online: python3 scripts/dev.py wheelhouse)")
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    result = sam("build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build_dir),
                 "--cache-dir", str(build_dir.parent / "cache"), env=build_env())
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build_dir


def elf_machine(path: Path) -> tuple[int, int]:
    """(ELF class, e_machine) of a shared object: (2, 183) is 64-bit AArch64."""
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path.name} is not an ELF file"
    return header[4], struct.unpack_from("<H", header, 18)[0]


def test_layer_holds_aarch64_cp313_binaries(built: Path) -> None:
    site = built / "LambdagateLayer" / "python"
    core = list((site / "pydantic_core").glob("_pydantic_core.*.so"))
    assert [p.name for p in core] == ["_pydantic_core.cpython-313-aarch64-linux-gnu.so"]
    shared_objects = list(site.rglob("*.so"))
    assert len(shared_objects) >= 5  # pydantic_core, yaml, aiohttp, multidict, yarl, ...
    for so in shared_objects:
        assert elf_machine(so) == (2, EM_AARCH64), so
        if ".cpython-" in so.name:
            assert ".cpython-313-aarch64-linux-gnu." in so.name, so


def test_layer_holds_the_package_and_no_tooling(built: Path) -> None:
    site = built / "LambdagateLayer" / "python"
    for module in ("lambdagate/__init__.py", "lambdagate/lambda_runtime.py", "lambdagate/api/app.py",
                   "lambdagate/observability/metrics.py", "fastapi", "mangum", "uvicorn", "aws_lambda_powertools"):
        assert (site / module).exists(), module
    top_level = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert not top_level & set(TOOLING), sorted(top_level & set(TOOLING))
    assert not (site / "bin").exists()
    pinned = {line.split("==")[0].lower().replace("-", "_")
              for line in (ROOT / "layers/lambdagate/requirements.txt").read_text().splitlines()
              if line and not line.startswith("#")}
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert installed == pinned
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert size < 100 * 1024 * 1024  # far under Lambda's 250 MB unzipped limit


def _python313() -> str | None:
    """The interpreter the layer's Makefile precompiles with, found the same way it looks."""
    import glob

    pyenv_root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip() \
        if shutil.which("pyenv") else ""
    candidates = [shutil.which("python3.13") or "", *glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13")]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"],
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(_python313() is None, reason="no CPython 3.13 on this machine to precompile the layer with")
def test_layer_is_precompiled_for_cpython_313(built: Path) -> None:
    """Lambda's /opt is read-only: without shipped bytecode every cold start compiles from source."""
    site = built / "LambdagateLayer" / "python"
    caches = {p.parent.parent.name for p in site.rglob("__pycache__/*.pyc")}
    assert {"lambdagate", "fastapi", "pydantic", "starlette"} <= caches
    assert not [p for p in site.rglob("__pycache__/*.pyc") if ".cpython-313." not in p.name]
    assert (site / "lambdagate/api/__pycache__/app.cpython-313.pyc").exists()


def test_function_artifacts_are_their_entry_modules(built: Path) -> None:
    expected = {"ChatFunction": {"app.py"}, "CompletionsFunction": {"app.py"}, "ModelsFunction": {"app.py"},
                "StreamFunction": {"app.py", "run.sh"}}
    for name, files in expected.items():
        artifact = built / name
        assert {p.name for p in artifact.iterdir()} == files, name
        assert sum(p.stat().st_size for p in artifact.iterdir()) < 8 * 1024
    assert os.access(built / "StreamFunction" / "run.sh", os.X_OK)
    template = (built / "template.yaml").read_text()
    for name in expected:
        assert f"CodeUri: {name}" in template
    assert "ContentUri: LambdagateLayer" in template


def test_a_complete_wheel_cache_is_used_without_the_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pins = _pinned()
    for name, version in pins.items():
        (tmp_path / f"{name.replace('-', '_')}-{version}-cp313-cp313-manylinux_2_28_aarch64.whl").touch()
    assert complete_wheelhouse(tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "WHEELHOUSE", tmp_path)
    monkeypatch.setenv("PIP_FIND_LINKS", "/elsewhere")
    env = build_env()
    assert env["PIP_NO_INDEX"] == "1" and env["PIP_FIND_LINKS"] == f"{tmp_path} /elsewhere"
    next(tmp_path.glob("*.whl")).unlink()
    assert not complete_wheelhouse(tmp_path) and "PIP_NO_INDEX" not in build_env()


def test_an_unreachable_index_is_detected_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    with socket.socket() as listener:  # a port that accepts nothing: connection refused at once
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    start = time.monotonic()
    reason = index_unreachable()
    assert reason is not None and f"127.0.0.1:{port}" in reason
    assert time.monotonic() - start < INDEX_PROBE_SECONDS + 1
