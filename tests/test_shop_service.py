"""The shop API and worker as real processes against real Postgres, Redis and NATS.

The module starts its own throwaway PostgreSQL, Redis and NATS (JetStream) on free ports
in a temp dir, one API replica for the module, and workers per test. Everything started
here is stopped in the fixtures' ``finally``, pass or fail.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from lab import proc
from lab.runtime.native.context import find_binary, pg_binary
from lab.wait import free_port, http_ok, tcp_open, wait_for

pytestmark = pytest.mark.procs

PROJECT = Path(__file__).resolve().parent.parent
PG_USER = "postgres"  # PostgreSQL refuses to run as root
INITIAL_STOCK = 1_000_000
SEED_PRODUCTS = 200


def _binary(name: str) -> str:
    found = pg_binary(name) if name in ("initdb", "postgres", "pg_isready", "psql") else None
    found = found or find_binary(name)
    assert found, f"{name} not found: apt-get install -y postgresql redis-server nats-server"
    return found


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group ``spawn`` created; SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _alive(process: subprocess.Popen[bytes], log: Path) -> str | None:
    if process.poll() is None:
        return None
    return f"exited {process.returncode}: {log.read_text(errors='replace')[-800:]}"


@dataclass
class Backends:
    """Throwaway PostgreSQL, Redis and NATS, and the processes started against them."""

    root: Path
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    nats_port: int = field(default_factory=free_port)
    nats_http_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def secret(self, name: str) -> Path:
        return self.root / "secrets" / name

    def init_postgres(self) -> None:
        data, sockets = self.root / "pg", self.root / "pgsock"
        for path in (data, sockets):
            path.mkdir(mode=0o700)
        pwfile = self.root / "pg_initpw"
        shutil.copy(self.secret("pg_password"), pwfile)
        proc.run(["chown", "-R", f"{PG_USER}:", str(data), str(sockets), str(pwfile)])
        proc.run(
            [
                "runuser",
                "-u",
                PG_USER,
                "--",
                _binary("initdb"),
                "-D",
                str(data),
                "-U",
                "lab",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            timeout=120,
        )
        self.start_postgres()
        self.psql("postgres", "CREATE DATABASE shop")

    def start_postgres(self) -> None:
        data, sockets = self.root / "pg", self.root / "pgsock"
        self.procs["postgres"] = proc.spawn(
            [
                _binary("postgres"),
                "-D",
                str(data),
                "-p",
                str(self.pg_port),
                "-k",
                str(sockets),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            log_path=self.root / "postgres.log",
            user=PG_USER,
        )
        wait_for(
            "postgres accepting connections",
            lambda: (
                proc.run(
                    [_binary("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.pg_port)],
                    check=False,
                ).returncode
                == 0
            ),
            timeout=30,
            interval=0.1,
            alive=lambda: _alive(self.procs["postgres"], self.root / "postgres.log"),
        )

    def psql(self, db: str, query: str) -> list[list[str]]:
        done = proc.run(
            [
                "runuser",
                "-u",
                PG_USER,
                "--",
                _binary("psql"),
                "-h",
                str(self.root / "pgsock"),
                "-p",
                str(self.pg_port),
                "-U",
                "lab",
                "-d",
                db,
                "-tA",
                "-F",
                "\t",
                "-c",
                query,
            ],
        )
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def sql(self, query: str) -> list[list[str]]:
        return self.psql("shop", query)

    def start_redis(self) -> None:
        password = self.secret("redis_password").read_text()
        self.procs["redis"] = proc.spawn(
            [
                _binary("redis-server"),
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ],
            log_path=self.root / "redis.log",
        )
        wait_for(
            "redis listening",
            lambda: tcp_open("127.0.0.1", self.redis_port),
            timeout=10,
            alive=lambda: _alive(self.procs["redis"], self.root / "redis.log"),
        )

    def start_nats(self) -> None:
        password = self.secret("nats_password").read_text()
        self.procs["nats"] = proc.spawn(
            [
                _binary("nats-server"),
                "-js",
                "-sd",
                str(self.root / "nats"),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.nats_port),
                "-m",
                str(self.nats_http_port),
                "--user",
                "lab",
                "--pass",
                password,
            ],
            log_path=self.root / "nats.log",
        )
        wait_for(
            "nats with JetStream",
            lambda: http_ok(f"http://127.0.0.1:{self.nats_http_port}/healthz?js-enabled-only=true"),
            timeout=10,
            alive=lambda: _alive(self.procs["nats"], self.root / "nats.log"),
        )

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        _stop(self.procs.pop(name), sig)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PYTHONPATH": os.pathsep.join(
                [str(PROJECT / "services" / "api"), str(PROJECT / "services" / "worker")]
            ),
            "LAB_PG_HOST": "127.0.0.1",
            "LAB_PG_PORT": str(self.pg_port),
            "LAB_PG_USER": "lab",
            "LAB_PG_DB": "shop",
            "LAB_PG_PASSWORD_FILE": str(self.secret("pg_password")),
            "LAB_REDIS_HOST": "127.0.0.1",
            "LAB_REDIS_PORT": str(self.redis_port),
            "LAB_REDIS_PASSWORD_FILE": str(self.secret("redis_password")),
            "LAB_NATS_HOST": "127.0.0.1",
            "LAB_NATS_PORT": str(self.nats_port),
            "LAB_NATS_USER": "lab",
            "LAB_NATS_PASSWORD_FILE": str(self.secret("nats_password")),
            "LAB_SEED_PRODUCTS": str(SEED_PRODUCTS),
            **extra,
        }

    def start_api(self, name: str) -> str:
        port = free_port()
        log = self.root / f"{name}.log"
        env = self.env(
            LAB_REPLICA=name,
            LAB_API_HOST="127.0.0.1",
            LAB_API_PORT=str(port),
            LAB_API_WORK="io",
            LAB_API_WORK_MS="2",
            LAB_API_CONCURRENCY="16",
        )
        self.procs[name] = proc.spawn([sys.executable, "-m", "shop_api"], log_path=log, env=env)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            f"{name} ready",
            lambda: http_ok(f"{url}/readyz"),
            timeout=30,
            interval=0.1,
            alive=lambda: _alive(self.procs[name], log),
        )
        return url

    def start_worker(self, name: str, *, work_ms: int = 10, ack_wait_s: float = 5) -> str:
        port = free_port()
        log = self.root / f"{name}.log"
        env = self.env(
            LAB_REPLICA=name,
            LAB_WORKER_HOST="127.0.0.1",
            LAB_WORKER_METRICS_PORT=str(port),
            LAB_WORKER_WORK_MS=str(work_ms),
            LAB_WORKER_ACK_WAIT_S=str(ack_wait_s),
        )
        self.procs[name] = proc.spawn([sys.executable, "-m", "shop_worker"], log_path=log, env=env)
        url = f"http://127.0.0.1:{port}"
        wait_for(
            f"{name} healthy",
            lambda: http_ok(f"{url}/healthz"),
            timeout=30,
            interval=0.1,
            alive=lambda: _alive(self.procs[name], log),
        )
        return url

    def stop_all(self) -> None:
        for name in [n for n in self.procs if n not in ("postgres", "redis", "nats")]:
            self.stop(name)
        for name in ("nats", "redis", "postgres"):
            if name in self.procs:
                self.stop(name, signal.SIGINT if name == "postgres" else signal.SIGTERM)


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    # Under /tmp and world-traversable: the postgres user must reach its data dir.
    root = Path(tempfile.mkdtemp(prefix="prodlab-shop-", dir="/tmp"))
    root.chmod(0o755)
    env = Backends(root)
    try:
        (root / "secrets").mkdir(mode=0o700)
        for name in ("pg_password", "redis_password", "nats_password"):
            env.secret(name).write_text(secrets.token_urlsafe(18))
        env.init_postgres()
        env.start_redis()
        env.start_nats()
        yield env
    finally:
        env.stop_all()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def api(backends: Backends) -> Iterator[httpx.Client]:
    url = backends.start_api("api-1")
    with httpx.Client(base_url=url, timeout=10) as client:
        yield client


@pytest.fixture
def workers(backends: Backends) -> Iterator[Backends]:
    """Workers a test starts are stopped when it ends (their settings differ per test)."""
    before = set(backends.procs)
    try:
        yield backends
    finally:
        for name in set(backends.procs) - before:
            backends.stop(name)


def _order(backends: Backends, order_id: str) -> tuple[str, int]:
    query = f"SELECT status, attempts FROM orders WHERE id = '{order_id}'"
    [[status, attempts]] = backends.sql(query)
    return status, int(attempts)


def _stock(backends: Backends, product_id: int) -> int:
    return int(backends.sql(f"SELECT stock FROM products WHERE id = {product_id}")[0][0])


def _place(api: httpx.Client, product_id: int, quantity: int) -> str:
    response = api.post(
        "/orders", json={"product_id": product_id, "quantity": quantity, "customer": "ada"}
    )
    assert response.status_code == 202, response.text
    assert response.headers["x-replica"] == "api-1"
    return str(response.json()["order_id"])


def _wait_processed(api: httpx.Client, order_id: str, timeout: float) -> None:
    wait_for(
        f"order {order_id} processed",
        lambda: api.get(f"/orders/{order_id}").json()["status"] == "processed",
        timeout=timeout,
        interval=0.1,
    )


def _metric(url: str, name: str) -> float:
    """The sum of every sample of ``name`` on a /metrics page."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{"))
    )


def test_order_is_processed_once_and_stock_drops_once(api: httpx.Client, workers: Backends) -> None:
    url = workers.start_worker("worker-a")
    order_id = _place(api, product_id=7, quantity=3)
    _wait_processed(api, order_id, timeout=15)
    body = api.get(f"/orders/{order_id}").json()
    assert body["order_id"] == order_id and body["processed_at"] is not None
    assert _order(workers, order_id) == ("processed", 1)
    assert _stock(workers, 7) == INITIAL_STOCK - 3
    assert workers.sql("SELECT count(*) FROM outbox") == [["0"]]
    assert _metric(url, "shop_worker_orders_processed_total") == 1


def test_catalog_reads_hit_the_cache(api: httpx.Client) -> None:
    first = api.get("/products/11")
    second = api.get("/products/11")
    assert first.status_code == second.status_code == 200
    assert (
        first.json()
        == second.json()
        == {
            "id": 11,
            "name": "Product 11",
            "price_cents": first.json()["price_cents"],
            "stock": INITIAL_STOCK,
        }
    )
    assert _metric(str(api.base_url), 'shop_cache_requests_total{result="hit"}') >= 1
    page = api.get("/products", params={"limit": 5, "offset": 10}).json()
    assert [item["id"] for item in page["items"]] == [11, 12, 13, 14, 15]


BAD_REQUESTS = [
    ("POST", "/orders", b'{"product_id": 1, "quantity": 2', 422, "malformed JSON"),
    ("POST", "/orders", b"{}", 422, "body.product_id: Field required"),
    ("POST", "/orders", b"[]", 422, "body"),
    ("POST", "/orders", b'{"product_id": "1", "quantity": 1, "customer": "a"}', 422, "product_id"),
    ("POST", "/orders", b'{"product_id": 1, "quantity": 1.5, "customer": "a"}', 422, "quantity"),
    ("POST", "/orders", b'{"product_id": 1, "quantity": -1, "customer": "a"}', 422, "quantity"),
    ("POST", "/orders", b'{"product_id": 1, "quantity": 0, "customer": "a"}', 422, "quantity"),
    (
        "POST",
        "/orders",
        b'{"product_id": 1, "quantity": 1' + b"0" * 40 + b', "customer": "a"}',
        422,
        "quantity",
    ),
    (
        "POST",
        "/orders",
        b'{"product_id": 9' + b"9" * 30 + b', "quantity": 1, "customer": "a"}',
        422,
        "product_id",
    ),
    (
        "POST",
        "/orders",
        b'{"product_id": 99999, "quantity": 1, "customer": "a"}',
        422,
        "product_id 99999 does not exist",
    ),
    ("POST", "/orders", b'{"product_id": 1, "quantity": 1, "customer": "   "}', 422, "customer"),
    (
        "POST",
        "/orders",
        b'{"product_id": 1, "quantity": 1, "customer": "' + b"x" * 200 + b'"}',
        422,
        "customer",
    ),
    ("POST", "/orders", b'{"product_id": 1, "quantity": 1, "customer": "a", "x": 1}', 422, "x"),
    ("GET", "/orders/not-a-uuid", None, 422, "order_id"),
    ("GET", "/orders/00000000-0000-0000-0000-000000000000", None, 404, "does not exist"),
    ("GET", "/products/abc", None, 422, "product_id"),
    ("GET", "/products/0", None, 422, "product_id"),
    ("GET", "/products/" + "9" * 30, None, 422, "product_id"),
    ("GET", "/products/99999", None, 404, "product 99999 does not exist"),
    ("GET", "/products?limit=0", None, 422, "limit"),
    ("GET", "/products?limit=100000", None, 422, "limit"),
    ("GET", "/products?limit=abc", None, 422, "limit"),
    ("GET", "/products?offset=-1", None, 422, "offset"),
    ("GET", "/nowhere", None, 404, "Not Found"),
    ("DELETE", "/orders", None, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "reason"), BAD_REQUESTS)
def test_bad_requests_get_4xx_with_a_reason(
    api: httpx.Client, method: str, path: str, body: bytes | None, status: int, reason: str
) -> None:
    headers = {"content-type": "application/json"} if body is not None else {}
    response = api.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert reason in response.json()["reason"]
    assert response.headers["x-replica"] == "api-1"


def test_a_body_that_is_not_json_is_refused(api: httpx.Client) -> None:
    response = api.post("/orders", data={"product_id": "1"})
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["reason"]


def test_order_survives_a_publish_failure_via_the_outbox(
    api: httpx.Client, workers: Backends
) -> None:
    workers.stop("nats")
    try:
        order_id = _place(api, product_id=21, quantity=2)  # committed; the publish fails
        ready = api.get("/readyz")
        assert ready.status_code == 503 and "nats" in ready.json()["failed"]
        assert workers.sql(f"SELECT count(*) FROM outbox WHERE order_id = '{order_id}'") == [["1"]]
        # Keep NATS down until the immediate publish has given up: from here on only the
        # outbox relay can deliver the order.
        wait_for(
            "the immediate publish to fail",
            lambda: _metric(str(api.base_url), 'shop_queue_publish_total{result="error"}') >= 1,
            timeout=10,
        )
    finally:
        workers.start_nats()
    workers.start_worker("worker-b")
    _wait_processed(api, order_id, timeout=20)  # the relay published it after NATS came back
    assert _order(workers, order_id) == ("processed", 1)
    assert _stock(workers, 21) == INITIAL_STOCK - 2
    wait_for(
        "outbox drained", lambda: workers.sql("SELECT count(*) FROM outbox") == [["0"]], timeout=10
    )


def test_order_held_by_a_killed_worker_is_processed_exactly_once(
    api: httpx.Client, workers: Backends
) -> None:
    workers.start_worker("worker-c", work_ms=3000, ack_wait_s=1)
    order_id = _place(api, product_id=33, quantity=4)
    wait_for(
        "worker-c holds the order",
        lambda: _order(workers, order_id) == ("accepted", 1),
        timeout=10,
        interval=0.05,
    )
    workers.stop("worker-c", signal.SIGKILL)
    url = workers.start_worker("worker-d", work_ms=3000, ack_wait_s=1)
    _wait_processed(api, order_id, timeout=20)
    status, attempts = _order(workers, order_id)
    assert status == "processed" and attempts >= 2
    assert _stock(workers, 33) == INITIAL_STOCK - 4
    assert _metric(url, "shop_worker_orders_redelivered_total") >= 1


def test_poison_message_is_terminated_not_retried(workers: Backends) -> None:
    import asyncio

    import nats

    async def publish() -> None:
        password = workers.secret("nats_password").read_text()
        nc = await nats.connect(f"nats://lab:{password}@127.0.0.1:{workers.nats_port}")
        try:
            await nc.jetstream().publish("orders.created", b"not json", stream="ORDERS")
            unknown = json.dumps({"order_id": "00000000-0000-0000-0000-00000000abcd"}).encode()
            await nc.jetstream().publish("orders.created", unknown, stream="ORDERS")
        finally:
            await nc.close()

    url = workers.start_worker("worker-e")
    asyncio.run(publish())
    wait_for(
        "two poison messages terminated",
        lambda: _metric(url, "shop_worker_orders_failed_total") == 2,
        timeout=10,
    )
    assert workers.procs["worker-e"].poll() is None


def test_readyz_names_redis_when_it_is_down(api: httpx.Client, workers: Backends) -> None:
    workers.stop("redis")
    try:
        ready = api.get("/readyz")
        assert ready.status_code == 503
        assert list(ready.json()["failed"]) == ["redis"]
        assert "redis unreachable" in ready.json()["reason"]
        assert api.get("/products/42").status_code == 200  # the cache is bypassed, not fatal
    finally:
        workers.start_redis()
    wait_for("readyz back to 200", lambda: api.get("/readyz").status_code == 200, timeout=10)


def test_postgres_outage_is_a_503_with_a_reason(api: httpx.Client, workers: Backends) -> None:
    workers.stop("postgres", signal.SIGINT)
    try:
        for response in (
            api.get("/products/77"),  # not cached: needs Postgres
            api.get("/products", params={"limit": 3}),
            api.post("/orders", json={"product_id": 1, "quantity": 1, "customer": "bo"}),
        ):
            assert response.status_code == 503, response.text
            assert "postgres unavailable" in response.json()["reason"]
        ready = api.get("/readyz")
        assert ready.status_code == 503 and list(ready.json()["failed"]) == ["postgres"]
    finally:
        workers.start_postgres()
    wait_for("readyz back to 200", lambda: api.get("/readyz").status_code == 200, timeout=15)
    assert api.get("/products/77").status_code == 200


API_METRICS = [
    "shop_http_requests_total",
    "shop_http_request_duration_seconds_bucket",
    "shop_http_requests_in_flight",
    "shop_concurrency_limit",
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
    "shop_worker_processing_seconds_bucket",
    "shop_order_latency_seconds_bucket",
    "shop_queue_pending_messages",
    "shop_queue_ack_pending_messages",
]


def test_metrics_carry_the_contract_names(api: httpx.Client, workers: Backends) -> None:
    url = workers.start_worker("worker-f")
    _wait_processed(api, _place(api, product_id=50, quantity=1), timeout=15)
    api_text = api.get("/metrics").text
    missing = [name for name in API_METRICS if f"\n{name}" not in api_text]
    assert not missing, f"API /metrics lacks {missing}"
    assert 'route="/orders/{order_id}"' in api_text and 'le="0.25"' in api_text
    worker_text = httpx.get(f"{url}/metrics", timeout=5).text
    missing = [name for name in WORKER_METRICS if f"\n{name}" not in worker_text]
    assert not missing, f"worker /metrics lacks {missing}"
    assert 'shop_queue_pending_messages{consumer="workers",stream="ORDERS"}' in worker_text
