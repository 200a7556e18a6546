"""Network faults against a real native lab whose API and workers reach Postgres, Redis
and NATS through the lab's Toxiproxy (``net_proxy``): the proxy is driven through its
HTTP API by the same client ``lab fault`` uses, and each fault's effect is measured on
the real dependency protocol (Redis PING, Postgres SELECT 1) through the proxied port."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis

from lab.errors import ConfigError
from lab.faults import net
from lab.faults.toxiproxy import ToxiproxyClient
from lab.lab import Lab
from lab.runtime.native.context import link_key
from lab.runtime.native.state import StateStore
from tests.labtools import LabHome, private_home, wait_until
from tests.shoptools import shop_process

pytestmark = pytest.mark.procs


@pytest.fixture(scope="module")
def proxied_lab() -> Iterator[tuple[Lab, LabHome]]:
    with private_home() as home:
        lab = Lab(home.settings(seed_products=200, net_proxy=True))
        lab.up({"api": 1, "worker": 1})
        try:
            yield lab, home
        finally:
            lab.close()


@pytest.fixture
def lab(proxied_lab: tuple[Lab, LabHome]) -> Iterator[Lab]:
    yield proxied_lab[0]
    proxied_lab[0].clear_net_faults()  # every test starts from a clean proxy


def link_port(lab: Lab, service: str) -> int:
    state = StateStore(lab.settings.state_dir).load()
    assert state is not None
    return state.ports[link_key(service)]


def secret(lab: Lab, name: str) -> str:
    return (lab.settings.state_dir / "secrets" / name).read_text().strip()


def redis_via_proxy(lab: Lab, timeout: float = 5.0) -> redis.Redis:
    return redis.Redis(
        host=lab.settings.bind_host,
        port=link_port(lab, "redis"),
        password=secret(lab, "redis_password"),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )


def ping_seconds(lab: Lab) -> float:
    """One PING on a fresh connection through the proxy (connect + AUTH + PING)."""
    client = redis_via_proxy(lab)
    try:
        began = time.monotonic()
        assert client.ping()
        return time.monotonic() - began
    finally:
        client.close()


def select_one_seconds(lab: Lab, port: int, n: int = 5) -> float:
    """Median of ``n`` SELECT 1 on one Postgres connection to ``port``."""

    async def measure() -> float:
        conn = await asyncpg.connect(
            host=lab.settings.bind_host,
            port=port,
            user="lab",
            database="shop",
            password=secret(lab, "pg_password"),
        )
        try:
            times = []
            for _ in range(n):
                began = time.monotonic()
                assert await conn.fetchval("SELECT 1") == 1
                times.append(time.monotonic() - began)
            return statistics.median(times)
        finally:
            await conn.close()

    return asyncio.run(measure())


def test_the_api_and_workers_connect_through_the_proxy(lab: Lab) -> None:
    with lab.toxiproxy() as client:
        proxies = client.proxies()
    assert sorted(proxies) == ["nats", "postgres", "redis"]
    for name, proxy in proxies.items():
        assert proxy["listen"].endswith(f":{link_port(lab, name)}")
    # the API's Postgres reads go through the proxy: with that link down, a product not in
    # the cache cannot be read; once it is back, the API's pool reconnects
    lb = lab.runtime.endpoint("lb").url
    fault = net.parse_fault(kind="down", to="postgres")
    lab.net_fault(fault)
    assert httpx.get(f"{lb}/products/123", timeout=10).status_code >= 500
    lab.end_net_fault(fault)
    assert wait_until(
        lambda: httpx.get(f"{lb}/products/123", timeout=10).status_code == 200, timeout=10
    )


def test_the_api_speaks_toxiproxys_json(lab: Lab) -> None:
    url = lab.runtime.endpoint("toxiproxy").url
    assert set(httpx.get(f"{url}/version").json()) == {"version"}
    proxy = httpx.get(f"{url}/proxies/redis").json()
    assert set(proxy) == {"name", "listen", "upstream", "enabled", "toxics"}
    body = {"type": "latency", "attributes": {"latency": 5}}
    created = httpx.post(f"{url}/proxies/redis/toxics", json=body)
    assert created.status_code == 200
    assert created.json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 5, "jitter": 0},
    }
    again = httpx.post(f"{url}/proxies/redis/toxics", json=body)
    assert (again.status_code, again.json()["status"]) == (409, 409)
    missing = httpx.get(f"{url}/proxies/nope")
    assert missing.status_code == 404 and set(missing.json()) == {"error", "status"}
    bad = httpx.post(f"{url}/proxies/redis/toxics", json={"type": "latency", "toxicity": 2})
    assert bad.status_code == 400 and bad.json()["error"].startswith("toxicity:")
    updated = httpx.post(
        f"{url}/proxies/redis/toxics/latency_downstream", json={"attributes": {"latency": 9}}
    )
    assert updated.json()["attributes"]["latency"] == 9
    assert httpx.delete(f"{url}/proxies/redis/toxics/latency_downstream").status_code == 204
    assert httpx.get(f"{url}/proxies/redis/toxics").json() == []
    assert httpx.post(f"{url}/reset").status_code == 204


def test_latency_raises_postgres_latency_by_at_least_the_amount(lab: Lab) -> None:
    port = link_port(lab, "postgres")
    before = select_one_seconds(lab, port)
    lab.net_fault(net.parse_fault(kind="latency", to="postgres", ms=200, jitter=20))
    during = select_one_seconds(lab, port)
    assert during - before >= 0.180  # 200 ms − the most the jitter takes off
    lab.end_net_fault(net.parse_fault(kind="latency", to="postgres", ms=200, jitter=20))
    assert select_one_seconds(lab, port) < 0.180


def test_down_refuses_connections_until_it_is_undone(lab: Lab) -> None:
    fault = net.parse_fault(kind="down", to="redis")
    lab.net_fault(fault)
    with pytest.raises(redis.ConnectionError):
        ping_seconds(lab)
    lab.end_net_fault(fault)
    assert ping_seconds(lab) < 1.0


def test_timeout_is_a_black_hole(lab: Lab) -> None:
    lab.net_fault(net.parse_fault(kind="timeout", to="redis"))
    client = redis_via_proxy(lab, timeout=1.0)
    began = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    assert time.monotonic() - began >= 1.0  # it waited for a reply that never came
    client.close()


def test_reset_resets_connections(lab: Lab) -> None:
    lab.net_fault(net.parse_fault(kind="reset", to="redis"))
    with pytest.raises(redis.ConnectionError):
        ping_seconds(lab)


def test_toxicity_half_hits_about_half_the_connections(lab: Lab) -> None:
    lab.net_fault(net.parse_fault(kind="latency", to="redis", ms=300, toxicity=0.5))
    slow = sum(ping_seconds(lab) >= 0.3 for _ in range(40))
    assert 10 <= slow <= 30  # binomial(40, 0.5): outside this 1 time in 1,800


def test_list_shows_the_faults_and_clear_removes_them(lab: Lab) -> None:
    lab.net_fault(net.parse_fault(kind="bandwidth", to="nats", rate=50))
    lab.net_fault(net.parse_fault(kind="down", to="postgres"))
    assert lab.net_faults() == [
        "nats: lab_bandwidth_downstream bandwidth downstream toxicity=1 rate=50",
        "postgres: down (proxy disabled)",
    ]
    lab.clear_net_faults()
    assert lab.net_faults() == []
    events = (lab.settings.state_dir / "events.jsonl").read_text()
    assert '"kind": "net_fault"' in events and "net_faults_cleared" in events


def test_the_client_names_a_refusal(lab: Lab) -> None:
    url = lab.runtime.endpoint("toxiproxy").url
    with ToxiproxyClient(url) as client, pytest.raises(ConfigError, match="proxy not found"):
        client.toxics("mysql")


def get_seconds(lab: Lab, key: str) -> float:
    """One GET of ``key`` on a fresh connection through the proxy."""
    client = redis_via_proxy(lab, timeout=30.0)
    try:
        client.ping()  # connect and AUTH before the clock starts
        began = time.monotonic()
        assert client.get(key) is not None
        return time.monotonic() - began
    finally:
        client.close()


def test_bandwidth_caps_the_rate_a_reply_arrives_at(lab: Lab) -> None:
    value = b"x" * 100_000  # 100 KB: at 50 KB/s two seconds, at loopback speed milliseconds
    direct = redis_via_proxy(lab)
    direct.set("lab-test:bandwidth", value, ex=60)
    direct.close()
    assert get_seconds(lab, "lab-test:bandwidth") < 0.5
    lab.net_fault(net.parse_fault(kind="bandwidth", to="redis", rate=50))
    assert get_seconds(lab, "lab-test:bandwidth") >= 1.6  # 100 KB / 50 KB/s, less a chunk
    lab.clear_net_faults()
    assert get_seconds(lab, "lab-test:bandwidth") < 0.5


def test_limit_data_closes_the_link_after_its_bytes(lab: Lab) -> None:
    direct = redis_via_proxy(lab)
    direct.set("lab-test:limit", b"y" * 20_000, ex=60)
    direct.close()
    lab.net_fault(net.parse_fault(kind="limit_data", to="redis", bytes=5_000))
    client = redis_via_proxy(lab)
    try:
        assert client.ping()  # a few bytes: under the limit
        with pytest.raises(redis.ConnectionError):
            client.get("lab-test:limit")  # 20 KB: the link closes after 5 KB
    finally:
        client.close()


def test_slow_close_passes_the_close_on_late(lab: Lab) -> None:
    def quit_seconds() -> float:
        """QUIT on a raw connection: Redis answers +OK and closes; the time to the EOF."""
        address = (lab.settings.bind_host, link_port(lab, "redis"))
        with socket.create_connection(address, timeout=10) as sock:
            began = time.monotonic()
            sock.sendall(b"QUIT\r\n")
            while sock.recv(4096):
                pass
            return time.monotonic() - began

    assert quit_seconds() < 0.3
    lab.net_fault(net.parse_fault(kind="slow_close", to="redis", ms=800))
    assert quit_seconds() >= 0.75


def test_a_deadline_answers_on_time_when_postgres_is_slow(lab: Lab, tmp_path: Path) -> None:
    """A read cut by the 250 ms deadline is answered then, not after asyncpg has cancelled
    the query and reset the connection (two more round trips on the slow link: the
    slow-database lesson's p99 once measured 653 ms with this deadline)."""
    knobs = {"LAB_API_DEADLINE_MS": "250", "LAB_CACHE_TTL_S": "0", "LAB_DB_POOL_SIZE": "2"}
    with shop_process(lab, tmp_path, "api", **knobs) as api:
        slow = net.parse_fault(kind="latency", to="postgres", ms=200)
        lab.net_fault(slow)
        try:
            took = []
            for product in range(20, 28):
                began = time.monotonic()
                answer = httpx.get(f"{api.url}/products/{product}", timeout=10)
                took.append(time.monotonic() - began)
                assert answer.status_code == 504, answer.text
        finally:
            lab.end_net_fault(slow)
        print("504s after", ", ".join(f"{t * 1000:.0f} ms" for t in took))
        assert max(took) < 0.4, took  # 250 ms and the request's own costs, not 650 ms
        # the connections cut mid-query went back to the pool clean
        assert wait_until(
            lambda: httpx.get(f"{api.url}/products/20", timeout=10).status_code == 200,
            timeout=10,
        )
