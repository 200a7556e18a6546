"""The database cost of a product read, against real PostgreSQL and Redis.

Each test starts its own ``python -m shop_api`` on the session's native lab with the knobs
it needs: a cache miss runs one query costing ``LAB_DB_QUERY_MS`` (``io``: it holds a pool
connection that long; ``cpu``: Postgres burns about that much CPU), a hit costs no query,
a small pool makes callers wait (and the wait is measured), and single-flight turns a
stampede of 50 concurrent misses of one key into one query.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import redis

from lab.lab import Lab
from tests.labtools import sql
from tests.shoptools import lab_context, sample, shop_process

pytestmark = pytest.mark.procs

READS = "shop_db_product_reads_total"


def forget(lab: Lab, *product_ids: int) -> None:
    """Drop products from the Redis cache: the next read of each is a miss."""
    ctx = lab_context(lab)
    store = redis.Redis(
        host="127.0.0.1", port=ctx.port("redis"), password=ctx.secret("redis_password") or None
    )
    try:
        store.delete(*(f"product:{i}" for i in product_ids))
    finally:
        store.close()


async def _get_many(url: str, paths: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(paths))
    async with httpx.AsyncClient(base_url=url, timeout=20, limits=limits) as client:
        return await asyncio.gather(*(client.get(p) for p in paths))


def get_many(url: str, paths: list[str]) -> list[httpx.Response]:
    """Send every request at once (one connection each)."""
    return asyncio.run(_get_many(url, paths))


@pytest.mark.parametrize(("single_flight", "queries"), [("0", 50), ("1", 1)])
def test_a_stampede_on_an_expired_hot_key_runs_one_query_with_single_flight(
    running_lab: Lab, tmp_path: Path, single_flight: str, queries: int
) -> None:
    product = 941 + int(single_flight)
    knobs = {
        "LAB_DB_QUERY_MS": "300",  # every reader arrives while the first read still runs
        "LAB_API_CONCURRENCY": "100",
        "LAB_DB_POOL_SIZE": "60",
        "LAB_CACHE_SINGLE_FLIGHT": single_flight,
    }
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        assert sample(api.url, "shop_cache_single_flight") == int(single_flight)
        forget(running_lab, product)
        reads = sample(api.url, READS)
        answers = get_many(api.url, [f"/products/{product}"] * 50)
        assert {a.status_code for a in answers} == {200}
        assert {a.content for a in answers} == {answers[0].content}
        assert answers[0].json()["id"] == product
        assert sample(api.url, READS) - reads == queries
        coalesced = sample(api.url, "shop_cache_coalesced_total")
        assert coalesced == 50 - queries
        # once cached, the same key costs no query at all
        again = get_many(api.url, [f"/products/{product}"] * 10)
        assert {a.status_code for a in again} == {200}
        assert sample(api.url, READS) - reads == queries


def test_a_miss_costs_the_query_and_a_hit_costs_no_database(
    running_lab: Lab, tmp_path: Path
) -> None:
    with shop_process(running_lab, tmp_path, "api", LAB_DB_QUERY_MS="250") as api:
        assert sample(api.url, "shop_db_query_cost_seconds") == 0.25
        forget(running_lab, 951, 952)
        reads = sample(api.url, READS)
        start = time.perf_counter()
        first = httpx.get(f"{api.url}/products/951", timeout=10)
        miss_s = time.perf_counter() - start
        assert first.status_code == 200 and miss_s >= 0.25
        hits = []
        for _ in range(10):
            start = time.perf_counter()
            assert httpx.get(f"{api.url}/products/951", timeout=10).status_code == 200
            hits.append(time.perf_counter() - start)
        assert sample(api.url, READS) == reads + 1, "hits read no product from Postgres"
        assert max(hits) < 0.25, f"a hit took {max(hits):.3f} s: it waited for the database"
        # a product that does not exist costs the query too (it is asked for, and absent)
        start = time.perf_counter()
        missing = httpx.get(f"{api.url}/products/999999", timeout=10)
        assert missing.status_code == 404 and time.perf_counter() - start >= 0.25
        assert sample(api.url, READS) == reads + 2


def test_callers_beyond_the_pool_wait_and_the_wait_is_measured(
    running_lab: Lab, tmp_path: Path
) -> None:
    knobs = {
        "LAB_DB_QUERY_MS": "200",
        "LAB_DB_POOL_SIZE": "2",
        "LAB_CACHE_TTL_S": "0",  # every read goes to Postgres
        "LAB_API_CONCURRENCY": "64",
    }
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        assert sample(api.url, "shop_db_pool_max_size") == 2
        waits = sample(api.url, "shop_db_pool_wait_seconds_count")
        waited = sample(api.url, "shop_db_pool_wait_seconds_sum")
        start = time.perf_counter()
        answers = get_many(api.url, [f"/products/{i}" for i in range(961, 969)])
        elapsed = time.perf_counter() - start
        assert {a.status_code for a in answers} == {200}
        # 8 reads of 200 ms through 2 connections: 4 rounds, not 1
        assert elapsed >= 0.75, f"8 reads took {elapsed:.2f} s through a pool of 2"
        assert sample(api.url, "shop_db_pool_wait_seconds_count") - waits >= 8
        # the waits: 0, 0, 0.2, 0.2, 0.4, 0.4, 0.6, 0.6 s, about 2.4 s in all
        assert sample(api.url, "shop_db_pool_wait_seconds_sum") - waited >= 1.8


def test_cpu_mode_costs_postgres_cpu_of_about_the_query_cost(
    running_lab: Lab, tmp_path: Path
) -> None:
    knobs = {"LAB_DB_WORK": "cpu", "LAB_DB_QUERY_MS": "60", "LAB_CACHE_TTL_S": "0"}
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        assert sample(api.url, "shop_db_work_mode", mode="cpu") == 1
        assert sample(api.url, "shop_db_work_mode", mode="io") == 0
        before = _postgres_cpu_s(running_lab)
        count = sample(api.url, "shop_db_query_duration_seconds_count", query="product_by_id")
        total = sample(api.url, "shop_db_query_duration_seconds_sum", query="product_by_id")
        for i in range(971, 981):
            assert httpx.get(f"{api.url}/products/{i}", timeout=10).status_code == 200
        reads = sample(api.url, "shop_db_query_duration_seconds_count", query="product_by_id")
        spent = sample(api.url, "shop_db_query_duration_seconds_sum", query="product_by_id")
        mean = (spent - total) / (reads - count)
        calibration = [line for line in api.log_text().splitlines() if "cpu query cost" in line]
        assert 0.03 <= mean <= 0.24, (
            f"a 60 ms cpu query took {mean * 1000:.0f} ms on average ({calibration})"
        )
        # the time is Postgres' CPU, not waiting: 10 reads burn at least 0.3 s of it
        assert _postgres_cpu_s(running_lab) - before >= 0.3


def _postgres_cpu_s(lab: Lab) -> float:
    """CPU seconds used so far by every process of the lab's Postgres."""
    import psutil

    pid = lab.runtime.status().of("postgres")[0].pid
    assert pid is not None
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def test_the_api_reports_postgres_max_connections(running_lab: Lab, tmp_path: Path) -> None:
    configured = int(sql(running_lab, "SHOW max_connections")[0][0])
    assert configured == running_lab.settings.pg_max_connections
    with shop_process(running_lab, tmp_path, "api") as api:
        assert sample(api.url, "shop_pg_max_connections") == configured
