"""The upstream fault matrix once more on httpx's own transport (``LAMBDAGATE_HTTP_TRANSPORT=httpx``).

aiohttp carries upstream requests by default and the rest of the suite runs on it. The files
below drive every failure an upstream can cause (refusals, resets, bodies that are not HTTP or not
JSON, broken streams, timeouts, retries); here they run again in a fresh interpreter with the
other transport chosen, so the alternative keeps answering each fault as the default does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FAULT_FILES = ("test_faults_upstream.py", "test_upstream_faults.py", "test_faults_streams.py", "test_faults_retry.py")
HTTPX = {"LAMBDAGATE_HTTP_TRANSPORT": "httpx"}


def test_the_variable_chooses_httpx_transport() -> None:
    check = ("import httpx; from lambdagate import upstream_http; "
             "assert isinstance(upstream_http._new_client(), httpx.AsyncClient); "
             "assert upstream_http._transport is not None")
    out = subprocess.run([sys.executable, "-c", check], env={**os.environ, **HTTPX}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_fault_matrix_passes_on_httpx_transport() -> None:
    out = subprocess.run([sys.executable, "-m", "pytest", "-x", "-p", "no:cacheprovider",
                          *(str(TESTS / name) for name in FAULT_FILES)],
                         env={**os.environ, **HTTPX}, cwd=TESTS.parent, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
