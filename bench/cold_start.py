"""Cold start: the time to import a function's code and build its app, in fresh interpreters.

    .venv/bin/python bench/cold_start.py [--runs 15]

Each target runs in a new process (nothing cached in memory; the OS file cache is warm, as on a
warm Lambda host) and times only its own import-and-build, not the interpreter's start. The
baseline is FastAPI alone, which DESIGN.md budgets at ~270 ms with everything else under 150 ms more.
Medians of one run are printed, with each target's difference from the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "gateway.example.yaml"

_TIMER = "import time; t0 = time.perf_counter()\n{code}\nprint((time.perf_counter() - t0) * 1000)"

TARGETS: dict[str, str] = {
    "fastapi (baseline)": "import fastapi\nfastapi.FastAPI()",
    "fastapi + mangum (baseline)": "import fastapi, mangum\nmangum.Mangum(fastapi.FastAPI(), lifespan='off')",
}


def _function_targets() -> dict[str, str]:
    """One target per function entry module under functions/, imported as Lambda would."""
    targets = {}
    for module in sorted((ROOT / "functions").glob("*/app.py")):
        targets[f"functions/{module.parent.name}"] = (
            f"import sys; sys.path.insert(0, {str(module.parent)!r})\nimport app"
        )
    if not targets:
        targets["lambdagate app (all endpoints)"] = (
            "from mangum import Mangum\nfrom lambdagate.api import create_app\n"
            "handler = Mangum(create_app(), lifespan='off')"
        )
    return targets


def measure(code: str, runs: int) -> list[float]:
    env = {**os.environ, "LAMBDAGATE_CONFIG": os.environ.get("LAMBDAGATE_CONFIG", str(CONFIG)),
           "PYTHONDONTWRITEBYTECODE": "0"}
    times = []
    for _ in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", _TIMER.format(code=code)], env=env, capture_output=True,
                             text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times[1:]  # the first run may compile .pyc files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results = {name: statistics.median(measure(code, args.runs)) for name, code in
               {**TARGETS, **_function_targets()}.items()}
    baseline = results["fastapi (baseline)"]
    print(f"{'target':40} {'median ms':>10} {'vs fastapi':>11}")
    for name, ms in results.items():
        print(f"{name:40} {ms:10.1f} {ms - baseline:+10.1f}")


if __name__ == "__main__":
    main()
