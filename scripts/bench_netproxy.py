"""The cost of the proxy hop: p50/p95 of a Redis GET and a Postgres SELECT 1, each on one
open connection, straight to the dependency and through the lab's Toxiproxy.

    flock /tmp/prodlab-lab.lock .venv/bin/python scripts/bench_netproxy.py [--n 2000]

Boots a private native lab (1 API replica, no worker) in a temporary home, measures,
brings it down. Run it twice on a shared machine: compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
import redis

from lab.lab import Lab
from lab.runtime.native.context import link_key
from lab.runtime.native.state import StateStore
from lab.settings import Settings
from lab.wait import free_port


def quantiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


def redis_gets(host: str, port: int, password: str, n: int) -> list[float]:
    client = redis.Redis(host=host, port=port, password=password)
    client.set("bench", "x" * 100)
    times = []
    for _ in range(n):
        began = time.perf_counter()
        client.get("bench")
        times.append(time.perf_counter() - began)
    client.close()
    return times


def pg_selects(host: str, port: int, password: str, n: int) -> list[float]:
    async def run() -> list[float]:
        conn = await asyncpg.connect(
            host=host, port=port, user="lab", database="shop", password=password
        )
        times = []
        for _ in range(n):
            began = time.perf_counter()
            await conn.fetchval("SELECT 1")
            times.append(time.perf_counter() - began)
        await conn.close()
        return times

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="prodlab-bench-", dir="/tmp"))
    root.chmod(0o755)
    settings = Settings.load(
        home=root / ".lab",
        runs_dir=root / "runs",
        runtime="native",
        lb_port=free_port(),
        prometheus_port=free_port(),
        net_proxy=True,
        seed_products=100,
    )
    lab = Lab(settings)
    try:
        lab.up({"api": 1, "worker": 0})
        state = StateStore(settings.state_dir).load()
        assert state is not None
        secrets = settings.state_dir / "secrets"
        host = settings.bind_host
        for name, measure, secret in (
            ("redis", redis_gets, "redis_password"),
            ("postgres", pg_selects, "pg_password"),
        ):
            password = (secrets / secret).read_text().strip()
            for how, port in (
                ("direct", state.ports[name]),
                ("proxied", state.ports[link_key(name)]),
            ):
                measure(host, port, password, 200)  # warm up
                p50, p95 = quantiles(measure(host, port, password, args.n))
                print(f"{name:9} {how:8} p50 {p50:6.3f} ms   p95 {p95:6.3f} ms   (n={args.n})")
    finally:
        lab.runtime.down(volumes=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
