"""The shop API and worker as real processes, against the session's native lab.

The lab (``running_lab``: PostgreSQL, Redis, NATS JetStream, HAProxy, 2 API replicas,
2 workers) serves most tests. Tests that need other knobs (a 1 s cache TTL, 2 work
slots) or that signal a process start their own ``python -m shop_api`` / ``shop_worker``
against the lab's infrastructure, with the environment the native runtime gives its own
replicas. tests/procs/runtime/native/test_native_lab.py covers the lab as a whole (an
order end to end, scaling, a worker SIGKILLed mid-order); this file covers the services'
own behaviour.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lab import proc
from lab.lab import Lab
from lab.runtime.native.context import find_binary
from lab.wait import free_port, http_ok, wait_for
from tests.labtools import sql
from tests.shoptools import (
    lab_context,
    replica_urls,
    sample,
    shop_process,
)

pytestmark = pytest.mark.procs

INITIAL_STOCK = 1_000_000  # shop_api.schema.INITIAL_STOCK


def place(url: str, product_id: int, quantity: int) -> str:
    body = {"product_id": product_id, "quantity": quantity, "customer": "ada"}
    response = httpx.post(f"{url}/orders", json=body, timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["order_id"])


def stock(lab: Lab, product_id: int) -> int:
    return int(sql(lab, f"SELECT stock FROM products WHERE id = {product_id}")[0][0])


# --- bad input: always a 4xx that says why --------------------------------------------

BIG = "9" * 30


def order(
    product_id: str = "1", quantity: str = "1", customer: str = '"a"', more: str = ""
) -> bytes:
    """A raw ``POST /orders`` body from JSON fragments (so it can be wrong in any way)."""
    fields = f'"product_id": {product_id}, "quantity": {quantity}, "customer": {customer}'
    return ("{" + fields + more + "}").encode()


BAD_REQUESTS = [
    ("POST", "/orders", b'{"product_id": 1, "quantity": 2', 422, "malformed JSON"),
    ("POST", "/orders", b"{}", 422, "body.product_id: Field required"),
    ("POST", "/orders", b"[]", 422, "valid dictionary"),
    ("POST", "/orders", b"null", 422, "valid dictionary"),
    ("POST", "/orders", b"[" * 50_000 + b"]" * 50_000, 400, "error parsing the body"),
    ("POST", "/orders", order(product_id='"1"'), 422, "body.product_id"),
    ("POST", "/orders", order(product_id="true"), 422, "body.product_id"),
    ("POST", "/orders", order(product_id=BIG), 422, "body.product_id"),
    ("POST", "/orders", order(product_id=str(2**63)), 422, "body.product_id"),
    ("POST", "/orders", order(product_id="99999"), 422, "product_id 99999 does not exist"),
    ("POST", "/orders", order(quantity="1.5"), 422, "body.quantity"),
    ("POST", "/orders", order(quantity="-1"), 422, "body.quantity"),
    ("POST", "/orders", order(quantity="0"), 422, "body.quantity"),
    ("POST", "/orders", order(quantity=BIG), 422, "body.quantity"),
    ("POST", "/orders", order(customer='"   "'), 422, "body.customer"),
    ("POST", "/orders", order(customer='"' + "x" * 200 + '"'), 422, "body.customer"),
    ("POST", "/orders", order(customer='"a\\u0000b"'), 422, "NUL"),
    ("POST", "/orders", order(customer="7"), 422, "body.customer"),
    ("POST", "/orders", order(more=', "coupon": 1'), 422, "body.coupon"),
    ("GET", "/orders/not-a-uuid", None, 422, "path.order_id"),
    ("GET", "/orders/00000000-0000-0000-0000-000000000000", None, 404, "does not exist"),
    ("GET", "/products/abc", None, 422, "path.product_id"),
    ("GET", "/products/1.5", None, 422, "path.product_id"),
    ("GET", "/products/0", None, 422, "path.product_id"),
    ("GET", f"/products/{BIG}", None, 422, "path.product_id"),
    ("GET", "/products/99999", None, 404, "product 99999 does not exist"),
    ("GET", "/products?limit=0", None, 422, "query.limit"),
    ("GET", "/products?limit=100000", None, 422, "query.limit"),
    ("GET", "/products?limit=abc", None, 422, "query.limit"),
    ("GET", "/products?offset=-1", None, 422, "query.offset"),
    ("GET", f"/products?offset={BIG}", None, 422, "query.offset"),
    ("GET", "/nowhere", None, 404, "Not Found"),
    ("DELETE", "/orders", None, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "reason"), BAD_REQUESTS)
def test_bad_requests_get_a_4xx_that_names_the_reason(
    client: httpx.Client, method: str, path: str, body: bytes | None, status: int, reason: str
) -> None:
    headers = {"content-type": "application/json"} if body is not None else {}
    response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert reason in response.json()["reason"]
    assert response.headers["x-replica"] in ("api-1", "api-2")


def test_a_body_that_is_not_json_is_refused_with_415(client: httpx.Client) -> None:
    response = client.post("/orders", data={"product_id": "1"})
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["reason"]


def test_every_kind_of_response_names_its_replica(running_lab: Lab) -> None:
    for index, url in enumerate(replica_urls(running_lab, "api"), start=1):
        for path in ("/products/3", "/products/abc", "/nowhere", "/healthz", "/metrics"):
            response = httpx.get(url + path, timeout=5)
            assert response.headers["x-replica"] == f"api-{index}", path


# --- catalog: cache-aside -------------------------------------------------------------


def test_second_read_of_a_product_is_a_cache_hit(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]
    hits, misses = (
        sample(url, "shop_cache_requests_total", result="hit"),
        sample(url, "shop_cache_requests_total", result="miss"),
    )
    first = httpx.get(f"{url}/products/917", timeout=5)  # no other test reads 917
    second = httpx.get(f"{url}/products/917", timeout=5)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert first.json()["id"] == 917 and first.json()["name"] == "Product 917"
    assert sample(url, "shop_cache_requests_total", result="miss") == misses + 1
    assert sample(url, "shop_cache_requests_total", result="hit") == hits + 1


def test_cached_product_is_stale_until_the_ttl_then_fresh(running_lab: Lab, tmp_path: Path) -> None:
    ttl = 3.0
    with shop_process(running_lab, tmp_path, "api", LAB_CACHE_TTL_S=str(ttl)) as api:
        before = httpx.get(f"{api.url}/products/918", timeout=5).json()["stock"]
        cached_at = time.monotonic()
        sql(running_lab, "UPDATE products SET stock = stock - 7 WHERE id = 918")
        stale = httpx.get(f"{api.url}/products/918", timeout=5).json()["stock"]
        assert time.monotonic() - cached_at < ttl, "too slow to observe the cached value"
        assert stale == before, "within the TTL the cached product is served"
        wait_for(
            "the cached product to expire",
            lambda: httpx.get(f"{api.url}/products/918", timeout=5).json()["stock"] == before - 7,
            timeout=ttl + 5,
            interval=0.1,
        )
        assert time.monotonic() - cached_at >= ttl


def test_a_cache_ttl_of_0_leaves_redis_alone_and_serves_fresh_products(
    running_lab: Lab, tmp_path: Path
) -> None:
    import redis

    ctx = lab_context(running_lab)
    store = redis.Redis(
        host="127.0.0.1", port=ctx.port("redis"), password=ctx.secret("redis_password") or None
    )

    def calls() -> tuple[int, ...]:
        """Redis' own count of key lookups and of GET and SET commands."""
        stats, commands = store.info("stats"), store.info("commandstats")
        return (
            int(stats["keyspace_hits"]) + int(stats["keyspace_misses"]),
            *(int(commands.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("get", "set")),
        )

    try:
        with shop_process(running_lab, tmp_path, "api", LAB_CACHE_TTL_S="0") as api:
            assert sample(api.url, "shop_cache_ttl_seconds") == 0
            bypassed = sample(api.url, "shop_cache_requests_total", result="bypass")
            before = calls()
            first = httpx.get(f"{api.url}/products/921", timeout=5).json()["stock"]
            sql(running_lab, "UPDATE products SET stock = stock - 3 WHERE id = 921")
            second = httpx.get(f"{api.url}/products/921", timeout=5).json()["stock"]
            assert second == first - 3, "no cache: the second read sees the update at once"
            assert calls() == before, "no Redis GET or SET for a product"
            assert store.exists("product:921") == 0
            assert sample(api.url, "shop_cache_requests_total", result="bypass") == bypassed + 2
            assert sample(api.url, "shop_cache_requests_total", result="hit") == 0
            assert sample(api.url, "shop_cache_requests_total", result="miss") == 0
    finally:
        store.close()


def test_products_are_paged_in_id_order(client: httpx.Client) -> None:
    page = client.get("/products", params={"limit": 5, "offset": 10}).json()
    assert [item["id"] for item in page["items"]] == [11, 12, 13, 14, 15]
    assert (page["limit"], page["offset"]) == (5, 10)
    assert len(client.get("/products").json()["items"]) == 20
    assert client.get("/products", params={"offset": 5000}).json()["items"] == []


# --- orders: the outbox keeps them through a NATS outage ------------------------------


def test_orders_accepted_while_nats_is_down_are_processed_once(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]  # direct: HAProxy may drop unready replicas
    before = stock(running_lab, 919)
    running_lab.stop("nats-1")
    try:
        orders = [place(url, product_id=919, quantity=2) for _ in range(5)]
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and list(ready.json()["failed"]) == ["nats"]
        ids = ", ".join(f"'{o}'" for o in orders)
        in_outbox = sql(running_lab, f"SELECT count(*) FROM outbox WHERE order_id IN ({ids})")
        assert in_outbox == [["5"]], "committed orders wait in the outbox"
        wait_for(
            "the backlog to show",
            lambda: sample(url, "shop_outbox_backlog") >= 5,
            timeout=10,
        )
    finally:
        running_lab.start("nats-1")
    processed = f"SELECT count(*) FROM orders WHERE id IN ({ids}) AND status = 'processed'"
    wait_for("every order processed", lambda: sql(running_lab, processed) == [["5"]], timeout=30)
    assert stock(running_lab, 919) == before - 10, "each order took its stock exactly once"
    wait_for(
        "the outbox to drain",
        lambda: (
            sql(running_lab, f"SELECT count(*) FROM outbox WHERE order_id IN ({ids})") == [["0"]]
        ),
        timeout=10,
    )


def test_poison_messages_are_terminated_not_retried(running_lab: Lab) -> None:
    import nats

    ctx = lab_context(running_lab)
    workers = replica_urls(running_lab, "worker")
    failed = sum(sample(w, "shop_worker_orders_failed_total") for w in workers)

    async def publish() -> None:
        nc = await nats.connect(
            f"nats://127.0.0.1:{ctx.port('nats')}",
            user="lab",
            password=ctx.secret("nats_password"),
        )
        try:
            js = nc.jetstream()
            await js.publish("orders.created", b"not json", stream="ORDERS")
            unknown = {"order_id": "00000000-0000-0000-0000-00000000abcd"}
            await js.publish("orders.created", json.dumps(unknown).encode(), stream="ORDERS")
        finally:
            await nc.close()

    asyncio.run(publish())
    wait_for(
        "two poison messages terminated",
        lambda: sum(sample(w, "shop_worker_orders_failed_total") for w in workers) == failed + 2,
        timeout=10,
    )


# --- the per-replica concurrency limit ------------------------------------------------


def test_requests_over_the_concurrency_limit_wait_for_a_slot(
    running_lab: Lab, tmp_path: Path
) -> None:
    slots, work_s, requests = 2, 0.3, 8
    with shop_process(
        running_lab,
        tmp_path,
        "api",
        LAB_API_WORK="io",
        LAB_API_WORK_MS=str(work_s * 1000),
        LAB_API_CONCURRENCY=str(slots),
    ) as api:
        assert sample(api.url, "shop_concurrency_limit") == slots
        waited_before = sample(api.url, "shop_concurrency_wait_seconds_count")

        def timed_get(_: int) -> float:
            start = time.monotonic()
            response = httpx.get(f"{api.url}/products/5", timeout=30)
            assert response.status_code == 200
            return time.monotonic() - start

        waiting_seen: list[float] = []
        with ThreadPoolExecutor(requests) as pool:
            futures = [pool.submit(timed_get, i) for i in range(requests)]
            while not all(f.done() for f in futures):
                waiting_seen.append(sample(api.url, "shop_concurrency_waiting"))
                time.sleep(0.05)
            latencies = sorted(f.result() for f in futures)
        # Two at a time: the k-th answer (from 0) cannot come before (k // 2 + 1) rounds.
        for k, latency in enumerate(latencies):
            assert latency >= (k // slots + 1) * work_s * 0.9, (k, latencies)
        assert max(waiting_seen) >= 1, "requests over the limit show as waiting"
        assert max(waiting_seen) <= requests - slots
        assert sample(api.url, "shop_concurrency_waiting") == 0
        assert sample(api.url, "shop_concurrency_wait_seconds_count") == waited_before + requests
        assert sample(api.url, "shop_concurrency_wait_seconds_sum") >= work_s * (requests / 2)


# --- metrics --------------------------------------------------------------------------

API_METRICS = [
    "shop_http_requests_total",
    "shop_http_request_duration_seconds_bucket",
    "shop_http_requests_in_flight",
    "shop_http_in_flight_seconds_total",
    "shop_concurrency_limit",
    "shop_work_seconds",
    'shop_work_mode{mode="io"} 1.0',
    'shop_work_mode{mode="cpu"} 0.0',
    "shop_cache_ttl_seconds",
    "shop_concurrency_waiting",
    "shop_concurrency_wait_seconds_bucket",
    "shop_cache_requests_total",
    "shop_db_pool_size",
    "shop_db_pool_in_use",
    "shop_db_pool_waiters",
    "shop_db_query_duration_seconds_bucket",
    "shop_queue_publish_total",
    "shop_outbox_backlog",
    "shop_orders_accepted_total",
]
WORKER_METRICS = [
    "shop_worker_orders_processed_total",
    "shop_worker_orders_failed_total",
    "shop_worker_orders_redelivered_total",
    "shop_worker_orders_duplicate_total",
    "shop_worker_in_flight",
    "shop_worker_work_seconds",
    "shop_worker_processing_seconds_bucket",
    "shop_order_latency_seconds_bucket",
    'shop_queue_pending_messages{consumer="workers",stream="ORDERS"}',
    'shop_queue_ack_pending_messages{consumer="workers",stream="ORDERS"}',
]


def promtool_check(text: str) -> None:
    promtool = find_binary("promtool")
    assert promtool, "promtool not found: apt-get install -y prometheus"
    done = proc.run([promtool, "check", "metrics"], input_text=text, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_api_metrics_pass_promtool_with_templated_routes(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]
    order_id = place(url, product_id=4, quantity=1)
    for path in ("/products/4", f"/orders/{order_id}", "/products/abc", "/no/such/path"):
        httpx.get(url + path, timeout=5)
    text = httpx.get(f"{url}/metrics", timeout=5).text
    promtool_check(text)
    missing = [name for name in API_METRICS if f"\n{name}" not in text]
    assert not missing, f"API /metrics lacks {missing}"
    routes = {
        s.labels["route"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "shop_http_requests_total"
    }
    assert {"/products/{product_id}", "/orders/{order_id}", "/orders", "other"} <= routes
    assert not [r for r in routes if r != "other" and not r.startswith("/")], routes
    assert not [r for r in routes if "/products/4" in r or order_id in r], "raw paths leak"
    slo = running_lab.settings.slo_seconds
    assert f'le="{slo}"' in text, "a latency bucket sits exactly on the SLO"


def test_worker_metrics_pass_promtool_and_show_queue_depth(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "worker")[0]
    text = httpx.get(f"{url}/metrics", timeout=5).text
    promtool_check(text)
    missing = [name for name in WORKER_METRICS if f"\n{name}" not in text]
    assert not missing, f"worker /metrics lacks {missing}"
    assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200


# --- graceful shutdown ----------------------------------------------------------------


def test_api_drains_in_flight_requests_and_exits_0_on_sigterm(
    running_lab: Lab, tmp_path: Path
) -> None:
    with shop_process(running_lab, tmp_path, "api", LAB_API_WORK_MS="1500") as api:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(httpx.get, f"{api.url}/products/6", timeout=10)
            wait_for(
                "the slow request in flight",
                lambda: sample(api.url, "shop_http_requests_in_flight") >= 2,  # + /metrics
                timeout=5,
            )
            took = api.terminate(timeout=10)
            assert slow.result().status_code == 200, "the in-flight request was finished"
        assert api.process.returncode == 0, api.log_text()[-1500:]
        assert took < 10
        assert "Traceback" not in api.log_text()


def test_worker_exits_0_on_sigterm(running_lab: Lab, tmp_path: Path) -> None:
    with shop_process(running_lab, tmp_path, "worker") as worker:
        took = worker.terminate(timeout=10)
        assert worker.process.returncode == 0, worker.log_text()[-1500:]
        assert took < 5
        assert "stopped" in worker.log_text() and "Traceback" not in worker.log_text()


@pytest.mark.parametrize("service", ["api", "worker"])
def test_sigterm_during_start_up_exits_0_at_once(
    running_lab: Lab, tmp_path: Path, service: str
) -> None:
    """Postgres unreachable: the process is retrying its start-up when the signal comes."""
    closed_port = str(free_port())
    with shop_process(
        running_lab, tmp_path, service, wait_ready=False, LAB_PG_PORT=closed_port
    ) as shop:
        wait_for(
            f"{shop.name} waiting for postgres",
            lambda: "waiting for postgres" in shop.log_text(),
            timeout=15,
            alive=shop.why_dead,
        )
        took = shop.terminate(timeout=10)
        assert shop.process.returncode == 0, shop.log_text()[-1500:]
        assert took < 5


# --- dependency outages: a 503 with a reason, or a degraded answer; never a 500 -------


def test_redis_outage_bypasses_the_cache_and_fails_readiness(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]
    running_lab.stop("redis-1")
    try:
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert list(ready.json()["failed"]) == ["redis"]
        assert "redis unreachable" in ready.json()["reason"]
        misses = sample(url, "shop_cache_requests_total", result="miss")
        product = httpx.get(f"{url}/products/42", timeout=5)
        assert product.status_code == 200 and product.json()["id"] == 42
        assert sample(url, "shop_cache_requests_total", result="miss") == misses + 1
    finally:
        running_lab.start("redis-1")
    wait_for("readyz back to 200", lambda: http_ok(f"{url}/readyz"), timeout=15)


def test_postgres_outage_is_a_503_that_says_so(running_lab: Lab) -> None:
    url = replica_urls(running_lab, "api")[0]
    running_lab.stop("postgres-1")
    try:
        for response in (
            httpx.get(f"{url}/products/977", timeout=10),  # never read before: not cached
            httpx.get(f"{url}/products", params={"limit": 3}, timeout=10),
            httpx.post(
                f"{url}/orders", json={"product_id": 1, "quantity": 1, "customer": "bo"}, timeout=10
            ),
        ):
            assert response.status_code == 503, response.text
            assert "postgres unavailable" in response.json()["reason"]
            assert response.headers["retry-after"] == "1"
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and list(ready.json()["failed"]) == ["postgres"]
    finally:
        running_lab.start("postgres-1")
    wait_for("readyz back to 200", lambda: http_ok(f"{url}/readyz"), timeout=20)
    assert httpx.get(f"{url}/products/977", timeout=5).status_code == 200
    # the workers' pools recover too: a new order is processed
    order_id = place(url, product_id=977, quantity=1)
    wait_for(
        "an order after the outage processed",
        lambda: httpx.get(f"{url}/orders/{order_id}", timeout=5).json()["status"] == "processed",
        timeout=20,
    )
