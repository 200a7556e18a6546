"""The API's defences against real dependency failures (shop_api.resilience).

Each test starts its own ``python -m shop_api`` on the session's native lab with the
defence it studies switched on, then causes a real failure directly: Redis or Postgres
stopped, or a product read (``LAB_DB_QUERY_MS`` of ``pg_sleep``) slower than the request's
deadline. No fault is simulated inside the API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from lab.lab import Lab
from lab.wait import http_ok, wait_for
from tests.labtools import sql
from tests.shoptools import replica_urls, sample, shop_process

pytestmark = pytest.mark.procs


@contextmanager
def stopped(lab: Lab, instance: str) -> Iterator[None]:
    """``instance`` stopped for the block, then started again and the lab's API ready."""
    lab.stop(instance)
    try:
        yield
    finally:
        lab.start(instance)
        url = replica_urls(lab, "api")[0]
        wait_for(f"readyz after {instance} is back", lambda: http_ok(f"{url}/readyz"), timeout=20)


def counter(url: str, name: str, dependency: str) -> float:
    return sample(url, name, dependency=dependency)


async def _get_all(url: str, paths: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(paths))
    async with httpx.AsyncClient(base_url=url, timeout=20, limits=limits) as client:
        return await asyncio.gather(*(client.get(p) for p in paths))


def get_all(url: str, paths: list[str]) -> list[httpx.Response]:
    """Send every request at once (one connection each)."""
    return asyncio.run(_get_all(url, paths))


def test_redis_down_opens_its_breaker_reads_degrade_to_postgres_and_it_closes_after(
    running_lab: Lab, tmp_path: Path
) -> None:
    knobs = {"LAB_API_BREAKER": "1", "LAB_API_BREAKER_COOLDOWN_S": "1"}
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        assert sample(api.url, "shop_breaker_state", dependency="redis") == 0
        with stopped(running_lab, "redis-1"):
            answers = [httpx.get(f"{api.url}/products/{i}", timeout=10) for i in range(300, 320)]
            assert [a.status_code for a in answers] == [200] * 20  # degraded, not failed
            assert [a.json()["id"] for a in answers] == list(range(300, 320))
            assert sample(api.url, "shop_breaker_state", dependency="redis") == 2
            assert counter(api.url, "shop_breaker_rejected_total", "redis") > 0
            assert sample(api.url, "shop_breaker_state", dependency="postgres") == 0
            opened = sample(
                api.url, "shop_breaker_transitions_total", dependency="redis", state="open"
            )
            assert opened >= 1  # again after each failed probe (the cool-down is 1 s)

        def closed_again() -> bool:
            assert httpx.get(f"{api.url}/products/7", timeout=10).status_code == 200
            return sample(api.url, "shop_breaker_state", dependency="redis") == 0

        wait_for("redis breaker closed after redis is back", closed_again, timeout=20)
        moved = {
            state: sample(
                api.url, "shop_breaker_transitions_total", dependency="redis", state=state
            )
            for state in ("half_open", "closed")
        }
        assert moved["half_open"] >= 1 and moved["closed"] == 1
        hits = sample(api.url, "shop_cache_requests_total", result="hit")
        for _ in range(2):  # the first read may fill the cache, the second hits it
            assert httpx.get(f"{api.url}/products/8", timeout=10).status_code == 200
        assert sample(api.url, "shop_cache_requests_total", result="hit") > hits


def test_a_query_slower_than_the_deadline_is_a_504_at_the_deadline_never_a_500(
    running_lab: Lab, tmp_path: Path
) -> None:
    knobs = {
        "LAB_API_DEADLINE_MS": "300",
        "LAB_DB_QUERY_MS": "2000",  # every product read: pg_sleep(2) in the query
        "LAB_CACHE_TTL_S": "0",
        "LAB_API_CONCURRENCY": "16",
    }
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        assert sample(api.url, "shop_deadline_seconds") == 0.3
        start = time.monotonic()
        late = httpx.get(f"{api.url}/products/5", timeout=10)
        took = time.monotonic() - start
        assert late.status_code == 504, late.text
        assert late.json()["error"] == "deadline_exceeded"
        assert "postgres" in late.json()["reason"] and "300 ms" in late.json()["reason"]
        assert late.headers["retry-after"] == "1"
        assert took < 1.0, f"answered after {took:.2f} s: cut at the deadline, not the query"
        print(f"504 after {took * 1000:.0f} ms (deadline 300 ms, query 2000 ms)")
        # more cancelled queries than the pool has connections (16 + 4 = 20)
        answers = get_all(api.url, [f"/products/{i}" for i in range(10, 40)])
        assert {a.status_code for a in answers} == {504}
        assert counter(api.url, "shop_deadline_exceeded_total", "postgres") >= 31
        # the cancelled queries gave their connections and backends back at once: a read
        # without the cost answers within the deadline
        page = httpx.get(f"{api.url}/products", params={"limit": 2}, timeout=10)
        assert page.status_code == 200, page.text
        sleeping = sql(
            running_lab,
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%'"
            " AND state = 'active' AND pid <> pg_backend_pid()",
        )
        assert sleeping == [["0"]]


@pytest.mark.parametrize("mode", ["naive", "budgeted"])
def test_retries_against_a_stopped_postgres_naive_multiply_budgeted_stay_bounded(
    running_lab: Lab, tmp_path: Path, mode: str
) -> None:
    knobs = {"LAB_API_RETRY": mode, "LAB_API_RETRIES": "3", "LAB_API_RETRY_BUDGET": "0.1"}
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        assert sample(api.url, "shop_retry_mode", mode=mode) == 1
        names = ("calls", "attempts", "retries")
        before = {n: counter(api.url, f"shop_dependency_{n}_total", "postgres") for n in names}
        with stopped(running_lab, "postgres-1"):
            answers = [
                httpx.get(f"{api.url}/products", params={"limit": 1}, timeout=10) for _ in range(50)
            ]
            after = {n: counter(api.url, f"shop_dependency_{n}_total", "postgres") for n in names}
            exhausted = counter(api.url, "shop_retry_budget_exhausted_total", "postgres")
        assert {a.status_code for a in answers} == {503}
        assert all("postgres unavailable" in a.json()["reason"] for a in answers)
        calls, attempts, retries = (after[n] - before[n] for n in names)
        print(f"{mode}: {calls:g} calls, {attempts:g} attempts ({attempts / calls:.2f}x)")
        # an attempt counts when it starts, a call when it ends: a background call (the
        # outbox relay) still in flight when the counters are read is one attempt ahead
        assert calls >= 50 and 0 <= attempts - (calls + retries) <= 2
        if mode == "naive":
            # every request tried 1 + 3 times; the relay's rounds fail at their first,
            # never retried, connection, except one backlog read the stop may interrupt
            assert 150 <= retries <= 153, retries
            assert attempts / calls > 3
        else:
            # the bucket: a burst of 10, then 0.1 per call
            assert retries <= 10 + 0.1 * calls
            assert exhausted >= 50 - retries
            assert attempts / calls < 1.5


def test_postgres_breaker_answers_503_at_once_while_open_then_probes_and_closes(
    running_lab: Lab, tmp_path: Path
) -> None:
    knobs = {"LAB_API_BREAKER": "1", "LAB_API_BREAKER_COOLDOWN_S": "3"}
    with shop_process(running_lab, tmp_path, "api", **knobs) as api:
        with stopped(running_lab, "postgres-1"):
            answers = [
                httpx.get(f"{api.url}/products", params={"limit": 1}, timeout=10) for _ in range(10)
            ]
            assert {a.status_code for a in answers} == {503}
            assert sample(api.url, "shop_breaker_state", dependency="postgres") == 2
            refused = [a for a in answers if "circuit breaker open" in a.json()["reason"]]
            assert refused, [a.json()["reason"] for a in answers]
            assert all(1 <= int(a.headers["retry-after"]) <= 3 for a in refused)
            attempts = counter(api.url, "shop_dependency_attempts_total", "postgres")
            order = httpx.post(
                f"{api.url}/orders", json={"product_id": 1, "quantity": 1, "customer": "bo"}
            )
            assert order.status_code == 503 and "circuit breaker" in order.json()["reason"]
            # refused without touching Postgres (the relay may probe once the cool-down ends)
            assert counter(api.url, "shop_dependency_attempts_total", "postgres") - attempts <= 1

        def closed_again() -> bool:
            httpx.get(f"{api.url}/products", params={"limit": 1}, timeout=10)
            return sample(api.url, "shop_breaker_state", dependency="postgres") == 0

        wait_for("postgres breaker closed after postgres is back", closed_again, timeout=20)
        page = httpx.get(f"{api.url}/products", params={"limit": 1}, timeout=10)
        assert page.status_code == 200
