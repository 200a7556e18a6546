"""`lab bench`: what one API replica and the load balancer cost, against baselines.

Everything runs in one go on this machine, so the ratios are meaningful even when the
absolute numbers are not (shared, noisy machines). wrk runs pinned to one core and the
server under test to the other; each target gets the same duration and connections.

Targets, for the same ``GET /products/1`` (a cache hit: one Redis GET):
1. a bare ASGI callable on uvicorn (the ceiling of the server stack);
2. a FastAPI hello-world (the framework's cost);
3. one API replica directly (our middleware, metrics, cache-aside on Redis);
4. the same replica through HAProxy (the hop's cost).
The API runs with ``LAB_API_WORK_MS=0`` and a high concurrency limit so that only code
is measured, not the simulated downstream latency.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab import proc
from lab.errors import RuntimeUnavailable
from lab.lab import Lab
from lab.settings import Settings
from lab.wait import free_port, http_ok, reserved_port, wait_for

_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


@dataclass(frozen=True)
class BenchResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float


def run_wrk(url: str, *, seconds: int, connections: int, cpu: int | None) -> BenchResult:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeUnavailable("wrk not found", hint="apt-get install -y wrk")
    pin = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
    done = proc.run(
        [*pin, wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        timeout=seconds + 30,
    )
    rps = float(m.group(1)) if (m := _RPS.search(done.stdout)) else 0.0
    pct = {p: float(v) * _UNIT[u] * 1000 for p, v, u in _PCT.findall(done.stdout)}
    return BenchResult(url, rps, pct.get("50", float("nan")), pct.get("99", float("nan")))


@contextmanager
def baseline(kind: str, log_dir: Path, cpu: int | None) -> Iterator[str]:
    port = free_port()
    popen = proc.spawn(
        [sys.executable, "-m", "lab.agents.bench_baseline", kind, str(port)],
        log_path=log_dir / f"baseline-{kind}.log",
    )
    try:
        url = f"http://127.0.0.1:{port}/products/1"
        wait_for(
            f"baseline {kind} on port {port}",
            lambda: http_ok(url),
            timeout=15,
            hint=f"see {log_dir}/baseline-{kind}.log",
        )
        _pin(popen.pid, cpu)
        yield url
    finally:
        popen.terminate()
        popen.wait(timeout=10)


def _pin(pid: int, cpu: int | None) -> None:
    if cpu is None:
        return
    with suppress(psutil.Error, AttributeError):
        psutil.Process(pid).cpu_affinity([cpu])


def run_bench(*, seconds: int = 10, connections: int = 32) -> list[BenchResult]:
    cpus = os.cpu_count() or 1
    server_cpu, load_cpu = (0, 1) if cpus >= 2 else (None, None)
    root = Path(tempfile.mkdtemp(prefix="prodlab-bench-", dir="/tmp"))
    root.chmod(0o755)
    settings = Settings.load(
        home=root / ".lab",
        runtime="native",
        lb_port=reserved_port(),
        prometheus_port=reserved_port(),
        api_work_ms=0,
        api_concurrency=1024,
        seed_products=100,
    )
    lab = Lab(settings)
    results: list[BenchResult] = []
    try:
        for kind, label in (("asgi", "bare ASGI (uvicorn)"), ("fastapi", "FastAPI hello-world")):
            with baseline(kind, root, server_cpu) as url:
                run_wrk(url, seconds=2, connections=connections, cpu=load_cpu)  # warm-up
                r = run_wrk(url, seconds=seconds, connections=connections, cpu=load_cpu)
                results.append(BenchResult(label, r.rps, r.p50_ms, r.p99_ms))
        status = lab.runtime.up({"api": 1, "worker": 1})
        replica = status.of("api")[0]
        assert replica.endpoint is not None and replica.pid is not None
        _pin(replica.pid, server_cpu)
        for label, base in (
            ("API replica, direct", replica.endpoint.url),
            ("API replica via HAProxy", lab.runtime.endpoint("lb").url),
        ):
            url = f"{base}/products/1"
            run_wrk(url, seconds=2, connections=connections, cpu=load_cpu)
            r = run_wrk(url, seconds=seconds, connections=connections, cpu=load_cpu)
            results.append(BenchResult(label, r.rps, r.p50_ms, r.p99_ms))
    finally:
        lab.runtime.down(volumes=True)
        shutil.rmtree(root, ignore_errors=True)
    return results
