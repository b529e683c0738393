"""Cold start: the time to import a function's code and build its app, in fresh interpreters.

    .venv/bin/python bench/cold_start.py [--runs 15]

Each target runs in a new process (nothing cached in memory; the OS file cache is warm, as on a
warm Lambda host) and times only its own import-and-build, not the interpreter's start. The
baseline is FastAPI alone, which DESIGN.md budgets at ~270 ms with everything else under 150 ms more.
Functions run with the environment the SAM template gives them (Powertools logger and metrics on);
the ``+ssm`` rows also load the SSM store as deployed, which builds its boto3 client at init (no
AWS call is made). Medians of one run are printed, with each target's difference from the baseline.
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

_TIMER = (
    "import resource, time; t0 = time.perf_counter()\n{code}\n"
    "print((time.perf_counter() - t0) * 1000, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
)

TARGETS: dict[str, str] = {
    "fastapi (baseline)": "import fastapi\nfastapi.FastAPI()",
    "fastapi + mangum (baseline)": "import fastapi, mangum\nmangum.Mangum(fastapi.FastAPI(), lifespan='off')",
}


FUNCTION_ENV = {"POWERTOOLS_SERVICE_NAME": "lambdagate", "POWERTOOLS_METRICS_NAMESPACE": "lambdagate",
                "POWERTOOLS_LOG_LEVEL": "WARNING"}
SSM_ENV = {"LAMBDAGATE_CONFIG": "ssm:/lambdagate", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench"}


def _function_targets() -> dict[str, tuple[str, dict[str, str]]]:
    """One target per function entry module under functions/, imported as Lambda would."""
    targets = {}
    for module in sorted((ROOT / "functions").glob("*/app.py")):
        code = f"import sys; sys.path.insert(0, {str(module.parent)!r})\nimport app"
        targets[f"functions/{module.parent.name}"] = (code, FUNCTION_ENV)
        targets[f"functions/{module.parent.name} +ssm"] = (code, {**FUNCTION_ENV, **SSM_ENV})
    return targets


def measure(code: str, runs: int, extra_env: dict[str, str] | None = None) -> tuple[list[float], float]:
    """Milliseconds of each run, and the peak resident memory (MB) of the last one."""
    env = {**os.environ, "LAMBDAGATE_CONFIG": os.environ.get("LAMBDAGATE_CONFIG", str(CONFIG)),
           "PYTHONDONTWRITEBYTECODE": "0", **(extra_env or {})}
    times = []
    rss = 0.0
    for _ in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", _TIMER.format(code=code)], env=env, capture_output=True,
                             text=True, check=True)
        ms, rss_mb = out.stdout.strip().splitlines()[-1].split()
        times.append(float(ms))
        rss = float(rss_mb)
    return times[1:], rss  # the first run may compile .pyc files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    targets = {**{name: (code, {}) for name, code in TARGETS.items()}, **_function_targets()}
    results = {}
    for name, (code, env) in targets.items():
        times, rss = measure(code, args.runs, env)
        results[name] = (statistics.median(times), rss)
    baseline = results["fastapi (baseline)"][0]
    print(f"{'target':40} {'median ms':>10} {'vs fastapi':>11} {'peak RSS MB':>12}")
    for name, (ms, rss) in results.items():
        print(f"{name:40} {ms:10.1f} {ms - baseline:+10.1f} {rss:12.1f}")


if __name__ == "__main__":
    main()
