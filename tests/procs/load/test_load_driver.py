"""The load driver against real Locust processes and a small real HTTP shop.

The target is a stdlib HTTP server speaking the shop API's routes and bodies (a real
server on a free port, not a mock of Locust): it lets these tests count exactly what
Locust sent without booting Postgres, Redis and NATS. The full lab is driven by
``test_observability_live.py`` and the scenario tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
import pytest

from lab import proc
from lab.errors import LoadDriverError
from lab.load.driver import LoadDriver, reap_leftovers, workdir_of
from lab.load.pids import reap_stale
from lab.runtime.home import targets_dir
from lab.runtime.native.runtime import NativeRuntime
from lab.settings import Settings
from lab.wait import port_free, reserved_port
from tests.labtools import wait_until

PRODUCTS = 200


class ShopHandler(BaseHTTPRequestHandler):
    """The shop API's routes, answered from memory."""

    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn behind HAProxy
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server: TinyShop

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if match := re.fullmatch(r"/products/(\d+)", path):
            pid = int(match[1])
            if 1 <= pid <= PRODUCTS:
                self.reply(200, product(pid), "/products/{id}")
            else:
                self.reply(404, {"detail": "no such product"}, "/products/{id}")
        elif path == "/products":
            self.reply(200, {"items": [product(1)], "limit": 20, "offset": 0}, "/products")
        elif match := re.fullmatch(r"/orders/([0-9a-f-]{36})", path):
            known = match[1] in self.server.orders
            body = {
                "order_id": match[1],
                "status": "accepted",
                "created_at": "2025-01-01T00:00:00Z",
            }
            self.reply(200 if known else 404, body, "/orders/{id}")
        else:
            self.reply(404, {"detail": "not found"}, "other")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/orders" or set(body) != {"product_id", "quantity", "customer"}:
            self.reply(422, {"detail": "bad order"}, "/orders")
            return
        order_id = str(uuid.uuid4())
        self.server.orders.add(order_id)
        self.reply(202, {"order_id": order_id}, "/orders")

    def reply(self, status: int, body: object, route: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        with self.server.lock:
            self.server.hits[(self.command, route, status)] += 1

    def log_message(self, format: str, *args: object) -> None:
        pass


class TinyShop(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ShopHandler)
        self.orders: set[str] = set()
        self.hits: Counter[tuple[str, str, int]] = Counter()
        self.lock = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # Locust hung up on a stop
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def total(self) -> int:
        with self.lock:
            return sum(self.hits.values())


def product(pid: int) -> dict[str, object]:
    return {"id": pid, "name": f"product {pid}", "price_cents": 100 * pid, "stock": 10}


@pytest.fixture
def shop() -> Iterator[TinyShop]:
    server = TinyShop()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(
        home=tmp_path / ".lab",
        locust_port=reserved_port(),
        seed_products=PRODUCTS,
        runtime="native",
    )


def metric(text: str, name: str) -> float:
    """Sum of every sample of ``name`` in a Prometheus text exposition."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    return sum(float(value) for value in pattern.findall(text))


def served_rate(shop: TinyShop, seconds: float) -> float:
    before = shop.total()
    time.sleep(seconds)
    return (shop.total() - before) / seconds


@pytest.mark.procs
def test_start_swarm_measure_export_and_close(
    shop: TinyShop, settings: Settings, tmp_path: Path
) -> None:
    workdir, targets = workdir_of(settings), targets_dir(settings.state_dir)
    runtime = NativeRuntime(settings)  # registers the target as a native lab's file_sd
    driver = LoadDriver(settings, host_url=shop.url, targets=runtime, processes=2)
    with driver:
        driver.start()
        pids = driver.pids
        assert len(pids) == 3  # master + 2 workers, all recorded for reap_stale
        recorded = json.loads((workdir / "pids.json").read_text())
        assert sorted(r["pid"] for r in recorded) == sorted(pids)
        marks = {psutil.Process(p).environ().get("PRODLAB_HOME") for p in pids}
        assert marks == {str(settings.state_dir)}  # `lab down` sweeps them too
        assert driver.metrics_url is not None
        address = driver.metrics_url.removeprefix("http://").removesuffix("/metrics")
        assert address.startswith(f"{runtime.scrape_host()}:")
        target_file = json.loads((targets / "locust.json").read_text())
        assert target_file == [
            {"targets": [address], "labels": {"service": "locust", "instance": "locust-master"}}
        ]

        driver.stop_load()  # never swarmed: returns at once
        driver.swarm(10, 10)  # closed loop
        assert wait_until(lambda: driver.stats().users == 10 and driver.stats().rps > 0, 20)
        stats = driver.stats()
        assert stats.p50 is not None and stats.p95 is not None and stats.p99 is not None
        assert 0 < stats.p50 <= stats.p95 <= stats.p99 < 1.0
        assert stats.fail_ratio < 0.05  # only /orders/[id] of a lost order could fail
        cpu = driver.cpu()  # by process: the master and each forked worker
        assert {"locust-master", "locust-worker-1"} <= set(cpu), cpu
        assert sum(cpu.values()) > 0

        text = httpx.get(driver.metrics_url, timeout=5).text
        assert metric(text, "locust_requests_total") > 0
        assert metric(text, "locust_users") == 10
        slo_bucket = (
            'locust_request_duration_seconds_bucket{le="0.25",method="GET",name="/products/[id]"}'
        )
        assert slo_bucket in text
        checked = proc.run(["promtool", "check", "metrics"], input_text=text, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        with shop.lock:
            routes = {route for _, route, status in shop.hits if status < 400}
        assert routes == {"/products/{id}", "/products", "/orders", "/orders/{id}"}

        driver.swarm(10, 10, target_rps=50)  # open-loop-ish: 5 req/s per user
        assert wait_until(lambda: 35 <= served_rate(shop, 2.0) <= 65, 20)
        assert 40 <= served_rate(shop, 4.0) <= 60

        driver.stop_load()
        assert driver.stats().users == 0
        copied = driver.copy_csvs(tmp_path / "run")
        names = sorted(p.name for p in copied)
        assert names == ["locust_failures.csv", "locust_stats.csv", "locust_stats_history.csv"]
        stats_csv = (tmp_path / "run" / "locust_stats.csv").read_text()
        requests_csv = int(stats_csv.splitlines()[-1].split(",")[2])  # Aggregated row
        exported = metric(httpx.get(driver.metrics_url, timeout=5).text, "locust_requests_total")
        assert requests_csv == exported
        assert 0 <= shop.total() - exported <= 10  # a stop drops in-flight requests uncounted
        assert "/products/[id]" in stats_csv and "/orders/[id]" in stats_csv
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)
    assert port_free(settings.bind_host, settings.locust_port)
    assert json.loads((targets / "locust.json").read_text()) == []
    assert not (workdir / "pids.json").exists()
    assert driver.cpu() == {}
    driver.close()  # twice is fine


@pytest.mark.procs
def test_busy_web_port_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((settings.bind_host, settings.locust_port))
        busy.listen()
        driver = LoadDriver(
            settings, host_url="http://127.0.0.1:1", targets=NativeRuntime(settings)
        )
        with pytest.raises(LoadDriverError, match=f"port .*:{settings.locust_port} is in use"):
            driver.start()
    assert driver.pids == []


ORCHESTRATOR = """
    import sys, time
    from pathlib import Path
    from lab.load.driver import LoadDriver
    from lab.runtime.native.runtime import NativeRuntime
    from lab.settings import Settings

    settings = Settings.load(home=Path(sys.argv[1]), locust_port=int(sys.argv[2]))
    driver = LoadDriver(settings, host_url="http://127.0.0.1:1",
                        targets=NativeRuntime(settings), processes=1)
    driver.start()
    print("started", flush=True)
    time.sleep(300)
"""


@pytest.mark.procs
def test_reap_leftovers_ends_locust_after_the_orchestrator_died(settings: Settings) -> None:
    workdir = workdir_of(settings)
    args = [settings.state_dir, settings.locust_port]
    argv = [sys.executable, "-c", textwrap.dedent(ORCHESTRATOR), *map(str, args)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as orchestrator:
        try:
            assert orchestrator.stdout is not None
            assert orchestrator.stdout.readline().strip() == "started"
            records = json.loads((workdir / "pids.json").read_text())
            locust = [psutil.Process(r["pid"]) for r in records]
            assert len(locust) == 2  # master + 1 worker
            os.kill(orchestrator.pid, signal.SIGKILL)  # no finally, no close()
            orchestrator.wait(timeout=10)
            assert all(p.is_running() for p in locust)

            reap_leftovers(settings)  # what `lab down` does first
            _, alive = psutil.wait_procs(locust, timeout=10)
            assert alive == []
            assert not (workdir / "pids.json").exists()
            assert wait_until(lambda: port_free(settings.bind_host, settings.locust_port), 5)
            reap_stale(workdir)  # nothing recorded any more: a no-op
        finally:
            if orchestrator.poll() is None:
                orchestrator.kill()
            reap_stale(workdir)
