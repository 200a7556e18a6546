"""What a scenario's load step sends reaches real Locust processes: the request mix and
the open-loop rate through `/swarm`'s form, and the exact (HDR) percentiles come back."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from lab.load.driver import LoadDriver
from lab.load.traffic import Traffic
from lab.runtime.native.runtime import NativeRuntime
from lab.settings import Settings
from tests.labtools import LabHome, serve_http, wait_until

pytestmark = pytest.mark.procs


class Shop(BaseHTTPRequestHandler):
    """Answers every shop route after 20 ms; counts requests by path shape."""

    hits: Counter[str] = Counter()
    lock = threading.Lock()

    def do_GET(self) -> None:
        time.sleep(0.02)
        shape = "/products/{id}" if self.path.startswith("/products/") else self.path.split("?")[0]
        with self.lock:
            self.hits[shape] += 1
        body = b'{"id": 1, "name": "x", "price_cents": 100, "stock": 5}'
        if shape == "/products":
            body = b'{"items": [], "total": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def shop_url() -> Iterator[str]:
    with serve_http(Shop) as url:
        yield url


def test_mix_and_rate_reach_locust_and_hdr_answers(lab_home: LabHome, shop_url: str) -> None:
    settings: Settings = lab_home.settings()
    driver = LoadDriver(settings, host_url=shop_url, targets=NativeRuntime(settings), processes=1)
    with driver:
        driver.start()
        browse_only = Traffic(mix={"browse": 1, "list": 0, "order": 0, "check": 0}, skew=0.0)
        driver.swarm(10, 50, target_rps=40, traffic=browse_only)
        assert wait_until(lambda: sum(Shop.hits.values()) >= 120, 20)
        started = time.time()
        time.sleep(4.0)
        ended = time.time()
        with Shop.lock:
            before = dict(Shop.hits)
        assert set(before) == {"/products/{id}"}, before  # the mix reached every user
        time.sleep(2.5)  # the workers report the last seconds to the master
        found = driver.hdr(float(int(started) + 1), float(int(ended)), (0.5, 0.95, 0.99))
        assert found is not None
        seconds = int(ended) - int(started) - 1
        assert 30 * seconds <= found.count <= 50 * seconds  # 40 req/s, exactly counted
        assert 0.02 <= found.quantiles[0.5] <= found.quantiles[0.95] <= found.quantiles[0.99] < 1

        lists = Traffic(mix={"browse": 0, "list": 1, "order": 0, "check": 0})
        driver.swarm(10, 50, target_rps=40, traffic=lists)
        mark = Shop.hits["/products"]
        assert wait_until(lambda: Shop.hits["/products"] >= mark + 40, 20)
        driver.stop_load()
