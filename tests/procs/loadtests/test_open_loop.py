"""The open loop against a real Locust process and a real (slow) HTTP server.

The server answers every request after a fixed delay, so its capacity with U users is
exactly U / delay. Asking for more than that must show up as late and dropped arrivals
and as latency measured from the intended send time; asking for less must not.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from lab.wait import free_port
from tests.labtools import serve_http, wait_until

PROJECT = Path(__file__).resolve().parents[3]
DELAY_S = 0.1

pytestmark = pytest.mark.procs


class SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(DELAY_S)
        body = b'{"id": 1, "name": "p", "price_cents": 100, "stock": 5}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # Locust may stop mid-request

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    with serve_http(SlowHandler) as url:
        yield url


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    head = f"{name}{{{wanted}}}" if labels else name
    values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(head + " ")]
    assert values, f"{head} not exported"
    return values[0]


def run_locust(
    host: str, users: int, rate_per_user: float, log: Path
) -> tuple[str, dict[str, object]]:
    """Run Locust headless for a few seconds; scrape its metrics and its /hdr near the end."""
    port = free_port()
    env = {
        **os.environ,
        "LAB_LOCUST_METRICS_PORT": str(port),
        "SHOP_TARGET_RPS_PER_USER": str(rate_per_user),
        "SHOP_WEIGHT_BROWSE": "1",
        "SHOP_WEIGHT_LIST": "0",
        "SHOP_WEIGHT_ORDER": "0",
        "SHOP_WEIGHT_CHECK": "0",
        "SHOP_DROP_AFTER": "0.5",
    }
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(PROJECT / "loadtests" / "shop.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        "12s",
        "--host",
        host,
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    started = time.time()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _answers(url), timeout=20), log.read_text()
        time.sleep(max(0.0, started + 9 - time.time()))
        text = httpx.get(f"{url}/metrics", timeout=5).text
        hdr = httpx.get(
            f"{url}/hdr", params={"start": int(started) + 3, "end": int(time.time())}, timeout=5
        ).json()
        return text, hdr
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/metrics", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_too_few_users_show_as_late_and_dropped_arrivals(slow_server: str, tmp_path: Path) -> None:
    # 2 users at 100 ms per request can send 20 req/s; the schedule asks for 60 req/s
    text, hdr = run_locust(slow_server, users=2, rate_per_user=30, log=tmp_path / "locust.log")
    late = metric(text, "locust_arrivals_total", outcome="late")
    dropped = metric(text, "locust_arrivals_total", outcome="dropped")
    on_time = metric(text, "locust_arrivals_total", outcome="on_time")
    assert dropped > 50, (late, dropped, on_time)
    assert late > on_time, (late, dropped, on_time)
    # latency counts the wait for a free user: far above the server's 100 ms
    p50 = hdr["quantiles"]["0.5"]  # type: ignore[index]
    assert p50 > 3 * DELAY_S, hdr


def test_enough_users_keep_arrivals_on_time(slow_server: str, tmp_path: Path) -> None:
    # 20 users can send 200 req/s; the schedule asks for 40 req/s
    text, hdr = run_locust(slow_server, users=20, rate_per_user=2, log=tmp_path / "locust.log")
    late = metric(text, "locust_arrivals_total", outcome="late")
    dropped = metric(text, "locust_arrivals_total", outcome="dropped")
    on_time = metric(text, "locust_arrivals_total", outcome="on_time")
    assert dropped == 0
    assert late <= 0.05 * on_time, (late, on_time)
    assert on_time > 200  # about 40 req/s for the seconds so far
    p95 = hdr["quantiles"]["0.95"]  # type: ignore[index]
    assert DELAY_S <= p95 < 2 * DELAY_S, hdr
    assert metric(text, "locust_latency_hdr_seconds", quantile="0.95") >= DELAY_S
