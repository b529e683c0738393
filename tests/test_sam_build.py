"""`sam build` as a user runs it: no Docker, whatever the host's Python, artifacts for arm64 CPython 3.13.

Needs the SAM CLI on PATH (CI installs it into its own virtualenv) and PyPI (pip cross-installs the
layer's wheels); skipped with the reason otherwise. The built layer must hold aarch64 cp313 binaries
and the lambdagate package, and no test or build tooling; each function's artifact stays its own
entry module.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EM_AARCH64 = 183
TOOLING = ("pytest", "_pytest", "moto", "openai", "boto3", "botocore", "s3transfer", "mypy", "ruff",
           "jsonschema", "samcli", "cfnlint", "pip", "setuptools", "hatchling", "uv")

SAM = shutil.which("sam")
pytestmark = pytest.mark.skipif(SAM is None, reason="SAM CLI (`sam`) not on PATH: pip install aws-sam-cli")


def sam(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    assert SAM is not None
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run([SAM, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    result = sam("build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build_dir),
                 "--cache-dir", str(build_dir.parent / "cache"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build_dir


def elf_machine(path: Path) -> tuple[int, int]:
    """(ELF class, e_machine) of a shared object: (2, 183) is 64-bit AArch64."""
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path.name} is not an ELF file"
    return header[4], struct.unpack_from("<H", header, 18)[0]


def test_sam_validate_lint() -> None:
    result = sam("validate", "--lint", "--template-file", str(ROOT / "template.yaml"), "--region", "us-east-1",
                 timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


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
