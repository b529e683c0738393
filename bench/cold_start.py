"""Cold start: init, the first invocation, and both under the CPU share of Lambda's memory sizes.

    .venv/bin/python bench/cold_start.py [--runs 15]                  # init and first-invocation tables
    .venv/bin/python bench/cold_start.py --quota [--runs 5]           # + CPU quotas of 256..1769 MB
    .venv/bin/python bench/cold_start.py --importtime                 # where the chat function's init goes

Every run is a fresh interpreter (the OS file cache is warm, as on a warm Lambda host; bytecode is
cached after a discarded first run, as the layer ships it precompiled). Functions run with the SAM
template's environment (Powertools logger and metrics on) and answer a chat completion from
``events/chat-http.json`` through an OpenAI-type upstream on loopback (``bench/loopback.py``), so
the first invocation pays whatever is left of its own set-up. ``+ssm`` rows read the configuration
from SSM Parameter Store as deployed: ``moto_server`` on loopback stands in for SSM, the function's
boto3 client is pointed at it with ``AWS_ENDPOINT_URL_SSM``.

Tables:

- init: import the function module and build its app (what Lambda's init phase runs), against
  FastAPI alone (``import fastapi; FastAPI()``), CPU and wall medians, peak RSS;
- first invocation: CPU of the first request through the real handler against the median warm one,
  and the modules the first request imported;
- ``--quota``: the same interpreter put in a CPU cgroup with Lambda's share of one vCPU for each
  memory size (memory / 1,769 MB), wall time from the interpreter's launch to the first response,
  with and without SSM, and what a million typical 5 s generations cost at that size. The quota is
  a cgroup v2 ``cpu.max`` or a cgroup v1 ``cpu.cfs_quota_us`` (100 ms period) when this runs as
  root with the cpu controller mounted; otherwise the table is skipped with the reason.

``--python`` runs the functions with another interpreter (a CPython 3.13, Lambda's runtime) and
``--site`` adds a folder of the layer's packages built for this machine
(``python3.13 -m pip install --target DIR -r layers/lambdagate/requirements.txt boto3``; boto3 stands in
for the runtime's own). ``--code`` measures another checkout of the repository (its
``layers/lambdagate`` and ``functions/``), for before/after comparisons in one run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loopback  # bench/ is not a package: found through sys.path

ROOT = Path(__file__).resolve().parents[1]

FUNCTION_ENV = {"POWERTOOLS_SERVICE_NAME": "lambdagate", "POWERTOOLS_METRICS_NAMESPACE": "lambdagate",
                "POWERTOOLS_LOG_LEVEL": "INFO", "LAMBDAGATE_CORS": "platform", "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": "lambdagate-chat",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "PYDANTIC_DISABLE_PLUGINS": "__all__"}
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench"}
SSM_PREFIX = "/lambdagate-bench"
UPSTREAM_KEY = "sk-upstream-bench"

LAMBDA_VCPU_MB = 1769
"""Lambda gives one full vCPU at 1,769 MB and a proportional share below it."""
MEMORY_SIZES = (256, 512, 1024, 1769)
# AWS Lambda price list, arm64, us-east-1, first pricing tier (read 2026-12-02 from aws.amazon.com/lambda/pricing).
PRICE_GB_SECOND = 0.0000133334
PRICE_PER_REQUEST = 0.20 / 1_000_000
GENERATION_SECONDS = 5.0

# The child: a fresh interpreter that times its own init, first and warm invocations.
# Only the standard library is imported before ``import app``.
CHILD = r'''
import json, os, sys, time
w0, c0 = time.perf_counter(), time.process_time()
mode = os.environ["BENCH_MODE"]
if mode == "fastapi":
    import fastapi
    fastapi.FastAPI()
    print("first " + json.dumps({"init_cpu": (time.process_time() - c0) * 1000,
                                 "init_wall": (time.perf_counter() - w0) * 1000}), flush=True)
    raise SystemExit
sys.path.insert(0, os.environ["BENCH_FUNCTION"])
import app
w1, c1 = time.perf_counter(), time.process_time()
result = {"init_cpu": (c1 - c0) * 1000, "init_wall": (w1 - w0) * 1000}
if mode == "invoke":
    class Context:
        aws_request_id = "bench-cold"
        function_name = "lambdagate-chat"
        function_version = "$LATEST"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:lambdagate-chat"
        @staticmethod
        def get_remaining_time_in_millis():
            return 29000
    event = json.loads(os.environ["BENCH_EVENT"])
    before = set(sys.modules)
    response = app.handler(event, Context())
    c2 = time.process_time()
    assert response["statusCode"] == 200, response
    result["first_cpu"] = (c2 - c1) * 1000
    result["first_wall"] = (time.perf_counter() - w1) * 1000
    result["imported"] = sorted(set(sys.modules) - before)
    print("first " + json.dumps(result), flush=True)
    warm = []
    for _ in range(int(os.environ.get("BENCH_WARM", "20"))):
        c = time.process_time()
        app.handler(event, Context())
        warm.append((time.process_time() - c) * 1000)
    warm.sort()
    if warm:
        result["warm_cpu"] = warm[len(warm) // 2]
else:
    print("first " + json.dumps(result), flush=True)
import resource
result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("done " + json.dumps(result), flush=True)
'''


# --- CPU quotas -----------------------------------------------------------------------------------


class CpuQuota:
    """A cgroup limiting the CPU of the processes put in it to ``share`` of one CPU."""

    PERIOD_US = 100_000

    def __init__(self, name: str) -> None:
        self.path, self.version = self._create(name)

    @staticmethod
    def _create(name: str) -> tuple[Path, int]:
        unified = Path("/sys/fs/cgroup")
        if (unified / "cgroup.controllers").exists():
            if "cpu" not in (unified / "cgroup.subtree_control").read_text().split():
                (unified / "cgroup.subtree_control").write_text("+cpu")
            path = unified / name
            path.mkdir(exist_ok=True)
            return path, 2
        v1 = unified / "cpu"
        if (v1 / "cpu.cfs_quota_us").exists():
            path = v1 / name
            path.mkdir(exist_ok=True)
            (path / "cpu.cfs_period_us").write_text(str(CpuQuota.PERIOD_US))
            return path, 1
        raise OSError("no cgroup cpu controller at /sys/fs/cgroup (v2) or /sys/fs/cgroup/cpu (v1)")

    @staticmethod
    def unavailable() -> str | None:
        """Why quotas cannot be applied here, or None."""
        try:
            probe = CpuQuota(f"lambdagate-bench-probe-{os.getpid()}")
            probe.set(0.5)
            probe.remove()
        except OSError as exc:
            return f"{exc} (run as root on a machine with the cgroup cpu controller)"
        return None

    def set(self, share: float) -> None:
        quota = max(int(self.PERIOD_US * share), 1000)
        if self.version == 2:
            (self.path / "cpu.max").write_text(f"{quota} {self.PERIOD_US}")
        else:
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def enter(self) -> None:
        """Put the calling process in the group (used between fork and exec)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


# --- the environment: upstream, SSM -------------------------------------------------------------


def _event(key: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "chat-http.json").read_text())
    body = json.dumps({"model": "gpt", "messages": [{"role": "user", "content": "Hello from a cold start"}],
                       "max_tokens": 16})
    event["headers"]["authorization"] = f"Bearer {key}"
    event["headers"]["content-length"] = str(len(body))
    event["body"] = body
    return event


def _gateway_config(upstream_port: int, key: str) -> dict[str, Any]:
    return {
        "settings": {"num_retries": 0},
        "providers": {"up": {"type": "openai", "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                             "api_key": UPSTREAM_KEY}},
        "models": {"gpt": {"provider": "up", "model": "gpt-4o-mini"}},
        "keys": [{"name": "bench", "sha256": hashlib.sha256(key.encode()).hexdigest()}],
    }


class Environment:
    """The fake upstream, the file config, and (when asked) moto_server holding the same config."""

    def __init__(self, workdir: Path, ssm: bool) -> None:
        from lambdagate.auth.keys import generate_key

        self.key = generate_key()  # a well-formed key: the SSM store looks up nothing else
        self.processes: list[subprocess.Popen[bytes]] = []
        upstream_port = loopback.free_port()
        self.processes.append(loopback.start_upstream(upstream_port, cpus=None))
        self.config = workdir / "gateway.json"
        self.config.write_text(json.dumps(_gateway_config(upstream_port, self.key)))
        self.ssm_env: dict[str, str] | None = None
        if ssm:
            self.ssm_env = self._moto(workdir)

    def _moto(self, workdir: Path) -> dict[str, str]:
        port = loopback.free_port()
        moto = Path(sys.executable).parent / "moto_server"
        if not moto.exists():
            raise RuntimeError("moto_server not found beside this Python (the dev extra installs moto[server])")
        self.processes.append(loopback.start([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                                             log=workdir / "moto.log"))
        env = {**AWS_ENV, "AWS_ENDPOINT_URL_SSM": f"http://127.0.0.1:{port}", "AWS_REGION": "us-east-1",
               "AWS_DEFAULT_REGION": "us-east-1"}
        deadline = time.monotonic() + 30
        while True:
            pushed = subprocess.run(
                [str(Path(sys.executable).parent / "lambdagate"), "config", "push", str(self.config),
                 "--prefix", SSM_PREFIX], env=loopback.child_env(env), capture_output=True, text=True)
            if pushed.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"config push to moto_server failed: {pushed.stderr[-500:]}")
            time.sleep(0.3)
        return {**env, "LAMBDAGATE_CONFIG": f"ssm:{SSM_PREFIX}"}

    def close(self) -> None:
        for process in self.processes:
            loopback.stop(process)


# --- running children ----------------------------------------------------------------------------


class Runner:
    def __init__(self, python: str, code: Path, site: Path | None, env: Environment) -> None:
        self.python, self.code, self.site, self.env = python, code, site, env

    def _env(self, mode: str, function: str, ssm: bool) -> dict[str, str]:
        paths = [str(self.code / "layers" / "lambdagate")]
        if self.site is not None:
            paths.append(str(self.site))
        extra = {**FUNCTION_ENV, "BENCH_MODE": mode, "BENCH_FUNCTION": str(self.code / "functions" / function),
                 "BENCH_EVENT": json.dumps(_event(self.env.key)), "PYTHONPATH": os.pathsep.join(paths),
                 "LAMBDAGATE_CONFIG": str(self.env.config)}
        if ssm:
            if self.env.ssm_env is None:
                raise RuntimeError("no SSM environment")
            extra.update(self.env.ssm_env)
        return loopback.child_env(extra)

    def run(self, mode: str, function: str = "chat", ssm: bool = False, quota: CpuQuota | None = None,
            warm: int = 20) -> dict[str, Any]:
        """One fresh interpreter: its own figures, plus ``launch_wall``: launch -> first response (ms)."""
        env = {**self._env(mode, function, ssm), "BENCH_WARM": str(warm)}
        preexec: Callable[[], None] | None = quota.enter if quota is not None else None
        started = time.perf_counter()
        process = subprocess.Popen([self.python, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
        assert process.stdout is not None
        first: dict[str, Any] | None = None
        done: dict[str, Any] | None = None
        for line in process.stdout:
            if line.startswith("first ") and first is None:
                first = json.loads(line[6:])
                first["launch_wall"] = (time.perf_counter() - started) * 1000
            elif line.startswith("done "):
                done = json.loads(line[5:])
        stderr = process.stderr.read() if process.stderr else ""
        process.wait()
        if first is None or (mode != "fastapi" and done is None):
            raise RuntimeError(f"{function} ({mode}) failed: {stderr[-2000:]}")
        return {**(done or {}), **first}

    def median(self, runs: int, mode: str, function: str = "chat", ssm: bool = False,
               quota: CpuQuota | None = None, warm: int = 20) -> dict[str, Any]:
        return medians([self], runs, mode, function, ssm, quota, warm)[0]


def medians(runners: list[Runner], runs: int, mode: str, function: str = "chat", ssm: bool = False,
            quota: CpuQuota | None = None, warm: int = 20) -> list[dict[str, Any]]:
    """Each runner's median figures, the runners taking turns run by run (A B A B ...), so that a
    machine whose speed drifts during the measurement moves them alike."""
    working = []
    for runner in runners:
        try:
            runner.run(mode, function, ssm, None, warm=1)  # writes bytecode caches; not counted
            working.append(True)
        except RuntimeError as exc:  # e.g. a baseline whose schema refuses the config pushed to SSM now
            print(f"  ({runner.code} cannot run {function} {mode}{' +ssm' if ssm else ''}: "
                  f"{str(exc).splitlines()[-1][:160]})", flush=True)
            working.append(False)
    results: list[list[dict[str, Any]]] = [[] for _ in runners]
    for _ in range(runs):
        for i, runner in enumerate(runners):
            if working[i]:
                results[i].append(runner.run(mode, function, ssm, quota, warm))
    out = []
    for each in results:
        if not each:
            out.append(dict.fromkeys(("init_cpu", "init_wall", "rss", "first_cpu", "first_wall", "warm_cpu",
                                      "launch_wall"), float("nan")) | {"imported": []})
            continue
        figures: dict[str, Any] = {}
        for name in each[0]:
            values = [r[name] for r in each]
            figures[name] = statistics.median(values) if isinstance(values[0], int | float) else values[-1]
        out.append(figures)
    return out


# --- tables ----------------------------------------------------------------------------------------


def _label(runners: list[Runner], i: int, name: str) -> str:
    return name if len(runners) == 1 else f"{name} [{'now' if i == 0 else 'baseline'}]"


def init_table(runners: list[Runner], runs: int, ssm: bool) -> None:
    bases = medians(runners, runs, "fastapi")
    print(f"\nInit: import the function module and build its app (medians of {runs}; CPU and wall ms)")
    print(f"{'target':44} {'CPU':>8} {'vs FastAPI':>11} {'wall':>8} {'peak RSS MB':>12}")
    for i, base in enumerate(bases):
        print(f"{_label(runners, i, 'import fastapi; FastAPI()'):44} {base['init_cpu']:8.1f} {'-':>11} "
              f"{base['init_wall']:8.1f} {'-':>12}")
    for function in ("chat", "completions", "models", "stream"):
        for with_ssm in (False, True) if ssm else (False,):
            if with_ssm and function == "stream":
                continue
            name = f"functions/{function}" + (" +ssm" if with_ssm else "")
            for i, figures in enumerate(medians(runners, runs, "init", function, with_ssm)):
                print(f"{_label(runners, i, name):44} {figures['init_cpu']:8.1f} "
                      f"{figures['init_cpu'] - bases[i]['init_cpu']:+11.1f} {figures['init_wall']:8.1f} "
                      f"{figures['rss']:12.1f}", flush=True)


def first_table(runners: list[Runner], runs: int, ssm: bool) -> None:
    print(f"\nFirst invocation of functions/chat after init, against a warm one (CPU ms, medians of {runs})")
    print(f"{'config':20} {'init':>8} {'first':>8} {'warm':>8} {'first - warm':>13}  imported by the first request")
    for with_ssm in (False, True) if ssm else (False,):
        for i, figures in enumerate(medians(runners, runs, "invoke", "chat", with_ssm)):
            imported = figures["imported"]
            shown = ", ".join(imported[:6]) + (f" and {len(imported) - 6} more" if len(imported) > 6 else "")
            print(f"{_label(runners, i, 'ssm' if with_ssm else 'file'):20} {figures['init_cpu']:8.1f} "
                  f"{figures['first_cpu']:8.1f} {figures['warm_cpu']:8.2f} "
                  f"{figures['first_cpu'] - figures['warm_cpu']:13.1f}  "
                  f"{len(imported)} modules{': ' + shown if imported else ''}", flush=True)


def cost_per_million(memory_mb: int, overhead_ms: float = 0.0) -> float:
    """USD for a million requests that each hold the function for a 5 s generation plus ``overhead_ms``."""
    seconds = GENERATION_SECONDS + overhead_ms / 1000
    return 1_000_000 * (memory_mb / 1024 * seconds * PRICE_GB_SECOND + PRICE_PER_REQUEST)


def quota_table(runners: list[Runner], runs: int, ssm: bool, warm_cpu_ms: float) -> None:
    reason = CpuQuota.unavailable()
    if reason is not None:
        print(f"\nCPU quota table skipped: {reason}")
        return
    quota = CpuQuota(f"lambdagate-bench-{os.getpid()}")
    print(f"\nUnder Lambda's CPU share: launch -> first response, wall ms (medians of {runs}); cost of a million "
          f"{GENERATION_SECONDS:g} s generations")
    print(f"{'memory':>18} {'CPU share':>10} {'FastAPI':>9} {'chat':>9} {'chat +ssm':>10} {'first (in it)':>14}"
          f" {'USD / 1M':>10}")
    try:
        for memory in MEMORY_SIZES:
            share = min(memory / LAMBDA_VCPU_MB, 1.0)
            quota.set(share)
            bases = medians(runners, runs, "fastapi", quota=quota)
            chats = medians(runners, runs, "invoke", "chat", quota=quota, warm=0)
            ssms = medians(runners, runs, "invoke", "chat", True, quota=quota, warm=0) if ssm else None
            # The gateway's own CPU for a request, stretched by the share (a generation's wait is not).
            cost = cost_per_million(memory, warm_cpu_ms / share)
            for i in range(len(runners)):
                ssm_wall = ssms[i]["launch_wall"] if ssms else float("nan")
                print(f"{_label(runners, i, f'{memory} MB'):>18} {share * 100:9.1f}% {bases[i]['launch_wall']:9.0f} "
                      f"{chats[i]['launch_wall']:9.0f} {ssm_wall:10.0f} {chats[i]['first_wall']:14.0f} "
                      f"{cost:10.2f}", flush=True)
    finally:
        quota.remove()


def importtime(runner: Runner, top: int) -> None:
    """The chat function's init by package, from ``python -X importtime`` (self time, one run)."""
    env = runner._env("init", "chat", False)
    runner.run("init")  # bytecode caches
    out = subprocess.run([runner.python, "-X", "importtime", "-c", CHILD], env=env, capture_output=True, text=True)
    totals: dict[str, int] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line[len("import time:"):].split("|")
        try:
            self_us = int(fields[0])
        except ValueError:
            continue
        name = fields[2].strip().split(".")[0]
        totals[name] = totals.get(name, 0) + self_us
    total = sum(totals.values())
    print(f"\nImports of functions/chat's init, self time by top-level package (one run, {total / 1000:.0f} ms "
          "under -X importtime, which inflates it)")
    for name, micros in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {name:28} {micros / 1000:7.1f} ms  {micros / total * 100:5.1f}%")


@contextlib.contextmanager
def environment(ssm: bool) -> Iterator[Environment]:
    workdir = Path(tempfile.mkdtemp(prefix="lambdagate-cold-"))
    env = Environment(workdir, ssm)
    try:
        yield env
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quota", action="store_true", help="also the table under Lambda's CPU shares")
    parser.add_argument("--quota-only", action="store_true", help="only the CPU quota table")
    parser.add_argument("--no-ssm", action="store_true", help="skip the SSM rows (no moto_server)")
    parser.add_argument("--importtime", action="store_true", help="only the import breakdown")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the functions")
    parser.add_argument("--site", type=Path, help="folder with the layer's third-party packages")
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose functions are measured")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured in turn with --code")
    args = parser.parse_args()
    ssm = not args.no_ssm and not args.importtime
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                             text=True, check=True).stdout.strip()
    print(f"functions on Python {version}" + (f" with {args.site}" if args.site else "") + f"; code: {args.code}"
          + (f"; baseline: {args.baseline}" if args.baseline else ""))
    with environment(ssm) as env:
        runner = Runner(args.python, args.code.resolve(), args.site, env)
        runners = [runner] + ([Runner(args.python, args.baseline.resolve(), args.site, env)] if args.baseline else [])
        if args.importtime:
            importtime(runner, 25)
            return
        if not args.quota_only:
            init_table(runners, args.runs, ssm)
            first_table(runners, args.runs, ssm)
        if args.quota or args.quota_only:
            warm = runner.median(3, "invoke", "chat", warm=50)["warm_cpu"]
            quota_table(runners, args.runs, ssm, warm)


if __name__ == "__main__":
    main()
