"""Measurement metrics of the API: the in-flight integral (Little's L) and the latency buckets.

Its rate over a window must be the time-average number of requests inside, whatever
the scrape interval, and the scrapes and health checks that read it must not count.
"""

from __future__ import annotations

import asyncio
import itertools

from prometheus_client import generate_latest
from starlette.types import Message, Receive, Scope, Send

from shop_api.app import ObserveRequests
from shop_api.metrics import ApiMetrics, InFlightIntegral, latency_buckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_integral_is_requests_inside_times_seconds_up_to_the_read() -> None:
    clock = Clock()
    integral = InFlightIntegral(clock)
    integral.enter()  # 1 inside for 2 s
    clock.now += 2.0
    integral.enter()  # 2 inside for 3 s
    clock.now += 3.0
    integral.leave()  # 1 inside for 1 s, read while it is still inside
    clock.now += 1.0
    assert integral.seconds() == 1 * 2.0 + 2 * 3.0 + 1 * 1.0
    integral.leave()
    clock.now += 10.0  # nobody inside: nothing accrues
    assert integral.seconds() == 9.0


def test_the_exported_counter_is_current_at_the_scrape() -> None:
    clock = Clock()
    metrics = ApiMetrics(slo_seconds=0.25, clock=clock)
    metrics.in_flight_seconds.enter()
    clock.now += 0.5
    text = generate_latest(metrics.registry).decode()
    assert "shop_http_in_flight_seconds_total 0.5" in text


def test_the_middleware_integrates_shop_requests_and_not_its_own_scrapes() -> None:
    clock = Clock()
    metrics = ApiMetrics(slo_seconds=0.25, clock=clock)
    gates: dict[str, asyncio.Event] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await gates[scope["path"]].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    observe = ObserveRequests(app, metrics, "api-1", slo_s=0.25)

    async def request(path: str) -> None:
        async def receive() -> Message:
            return {"type": "http.request"}

        async def send(message: Message) -> None:
            return None

        scope = {"type": "http", "method": "GET", "path": path, "headers": []}
        await observe(scope, receive, send)

    async def scenario() -> float:
        for path in ("/products/1", "/products/2", "/metrics"):
            gates[path] = asyncio.Event()
        tasks = [asyncio.create_task(request(p)) for p in gates]
        await asyncio.sleep(0)  # all three inside
        clock.now += 4.0
        gates["/products/1"].set()
        await tasks[0]
        clock.now += 2.0
        gates["/products/2"].set()
        gates["/metrics"].set()
        await asyncio.gather(*tasks)
        clock.now += 5.0
        return metrics.in_flight_seconds.seconds()

    # 2 shop requests for 4 s, then 1 for 2 s; the scrape inside all along adds nothing
    assert asyncio.run(scenario()) == 2 * 4.0 + 1 * 2.0


def test_latency_buckets_are_within_an_eighth_of_each_other_from_40_ms_to_1_s() -> None:
    """histogram_quantile interpolates inside a bucket: its error is a share of the
    bucket's width, so a server p95 can be compared with the client's within 10 %."""
    buckets = [b for b in latency_buckets(0.25) if 0.04 <= b <= 1.0]
    assert buckets[0] == 0.04 and buckets[-1] == 1.0
    assert max((b - a) / a for a, b in itertools.pairwise(buckets)) <= 0.125
