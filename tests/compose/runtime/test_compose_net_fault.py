"""A network fault under Compose: the ``toxiproxy`` service (the official image, or the
stand-in running lab.agents.netproxy) sits between the API and Redis, and the same client
that drives the native proxy adds latency there. Marked ``compose``: with no engine the
fixture raises ``RuntimeUnavailable`` and the test fails (never skips)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import pytest

from lab.faults import net
from lab.lab import Lab
from tests.labtools import compose_settings, make_home

pytestmark = pytest.mark.compose


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    home = make_home()
    lab = Lab(compose_settings(home).with_overrides(net_proxy=True))
    try:
        lab.up({"api": 1, "worker": 1})
        yield lab
    finally:
        lab.runtime.down(volumes=True)
        shutil.rmtree(home.home.parent, ignore_errors=True)


def product_seconds(client: httpx.Client) -> float:
    """The median time of a cached product read (a Redis GET in the API)."""
    times = []
    for _ in range(5):
        began = time.monotonic()
        assert client.get("/products/3").status_code == 200
        times.append(time.monotonic() - began)
    return sorted(times)[2]


def test_latency_on_the_redis_link_slows_the_api_and_ends(lab: Lab) -> None:
    with lab.toxiproxy() as toxiproxy:
        assert sorted(toxiproxy.proxies()) == ["nats", "postgres", "redis"]
    fault = net.parse_fault(kind="latency", to="redis", ms=300)
    with httpx.Client(base_url=lab.runtime.endpoint("lb").url, timeout=10) as client:
        before = product_seconds(client)
        lab.net_fault(fault)
        try:
            assert lab.net_faults() == [
                "redis: lab_latency_downstream latency downstream toxicity=1 latency=300, jitter=0"
            ]
            # each read waits for a Redis reply held 300 ms: none can be quicker
            assert before < 0.3 <= product_seconds(client)
        finally:
            lab.end_net_fault(fault)
        assert lab.net_faults() == []
        assert product_seconds(client) < 0.3
