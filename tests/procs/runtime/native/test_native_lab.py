"""The native lab end to end: real PostgreSQL, Redis, NATS, HAProxy, API and workers."""

from __future__ import annotations

import httpx
import pytest

from lab.errors import LabStateError
from lab.lab import Lab
from lab.runtime.base import InstanceState
from tests.labtools import LabHome, Traffic, lab_processes, sql, wait_until

pytestmark = pytest.mark.procs


def place_order(client: httpx.Client, product_id: int = 7, quantity: int = 2) -> str:
    response = client.post(
        "/orders", json={"product_id": product_id, "quantity": quantity, "customer": "ada"}
    )
    assert response.status_code == 202, response.text
    order_id = response.json()["order_id"]
    assert isinstance(order_id, str)
    return order_id


def order_status(client: httpx.Client, order_id: str) -> str:
    response = client.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    status = response.json()["status"]
    assert isinstance(status, str)
    return status


def test_every_instance_runs(running_lab: Lab) -> None:
    status = running_lab.runtime.status()
    assert status.up
    not_running = [i.name for i in status.instances if i.state is not InstanceState.RUNNING]
    assert not_running == []
    assert status.replicas("api") == 2
    assert status.replicas("worker") == 2
    for service in ("postgres", "redis", "nats", "lb", "prometheus"):
        assert status.replicas(service) == 1, service


def test_order_through_the_lb_is_processed(running_lab: Lab, client: httpx.Client) -> None:
    order_id = place_order(client)
    assert order_status(client, order_id) in ("accepted", "processed")
    assert wait_until(lambda: order_status(client, order_id) == "processed", timeout=15)


def test_every_response_names_its_replica(client: httpx.Client) -> None:
    seen = {client.get("/products/1").headers["x-replica"] for _ in range(20)}
    assert seen <= {"api-1", "api-2"}
    assert len(seen) == 2, "leastconn over two idle replicas should use both"


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("POST", "/orders", b"{not json", 422),
        ("POST", "/orders", {"product_id": 1}, 422),
        ("POST", "/orders", {"product_id": "one", "quantity": 1, "customer": "a"}, 422),
        ("POST", "/orders", {"product_id": 1, "quantity": -3, "customer": "a"}, 422),
        ("POST", "/orders", {"product_id": 1, "quantity": 10**30, "customer": "a"}, 422),
        ("POST", "/orders", {"product_id": 10**9, "quantity": 1, "customer": "a"}, 422),
        ("GET", "/orders/not-a-uuid", None, 422),
        ("GET", "/orders/00000000-0000-0000-0000-000000000000", None, 404),
        ("GET", "/products/0", None, 422),
        ("GET", "/products/999999999", None, 404),
        ("GET", "/products/abc", None, 422),
        ("GET", "/products?limit=-1", None, 422),
        ("GET", "/products?limit=100000", None, 422),
        ("GET", "/products?offset=x", None, 422),
    ],
)
def test_bad_requests_get_a_4xx_with_a_reason(
    client: httpx.Client, method: str, path: str, body: object, expected: int
) -> None:
    if isinstance(body, bytes):
        response = client.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = client.request(method, path, json=body)
    assert response.status_code == expected, response.text
    assert response.json().get("reason"), "a 4xx must say why"


def test_second_up_says_already_up(running_lab: Lab) -> None:
    with pytest.raises(LabStateError, match="already up"):
        running_lab.runtime.up()


def test_scale_api_under_traffic_drops_nothing(lab_home: LabHome) -> None:
    lab = Lab(lab_home.settings(seed_products=200))
    lab.up({"api": 1, "worker": 1})
    with Traffic(lab.runtime.endpoint("lb").url) as traffic:
        assert wait_until(lambda: traffic.ok > 20, timeout=10)
        lab.scale("api", 3)
        traffic.reset()
        assert wait_until(lambda: len(traffic.replicas) == 3, timeout=10), traffic.replicas
        lab.scale("api", 1)
        traffic.reset()
        assert wait_until(lambda: traffic.ok > 50, timeout=10)
    assert set(traffic.replicas) == {"api-1"}
    assert traffic.failures == []
    assert lab.runtime.status().replicas("api") == 1


def test_worker_killed_mid_order_processes_it_exactly_once(lab_home: LabHome) -> None:
    lab = Lab(lab_home.settings(seed_products=50, worker_work_ms=4000, worker_ack_wait_s=2))
    lab.up({"api": 1, "worker": 2})
    with httpx.Client(base_url=lab.runtime.endpoint("lb").url, timeout=10) as client:
        (stock_before,) = sql(lab, "SELECT stock FROM products WHERE id = 3")[0]
        order_id = place_order(client, product_id=3, quantity=5)
        # the order is held by whichever worker got it first: its attempts become 1
        assert wait_until(
            lambda: sql(lab, f"SELECT attempts FROM orders WHERE id = '{order_id}'")[0][0] == "1",
            timeout=10,
        )
        # attempts is counted just before the work starts: wait for the in-flight gauge too
        assert wait_until(lambda: busy_worker(lab) is not None, timeout=10)
        holder = busy_worker(lab)
        assert holder is not None
        lab.kill(holder)
        assert wait_until(lambda: order_status(client, order_id) == "processed", timeout=30)
    status, attempts = sql(lab, f"SELECT status, attempts FROM orders WHERE id = '{order_id}'")[0]
    (stock_after,) = sql(lab, "SELECT stock FROM products WHERE id = 3")[0]
    assert status == "processed"
    assert int(attempts) >= 2, "the order must have been redelivered after the kill"
    assert int(stock_before) - int(stock_after) == 5, "processed exactly once"


def busy_worker(lab: Lab) -> str | None:
    """The worker whose in-flight gauge is 1, if any."""
    for inst in lab.runtime.status().of("worker"):
        assert inst.endpoint is not None
        text = httpx.get(f"{inst.endpoint.url}/metrics", timeout=5).text
        for line in text.splitlines():
            if line.startswith("shop_worker_in_flight ") and float(line.split()[1]) >= 1:
                return inst.name
    return None


def test_down_leaves_no_process_and_frees_ports(lab_home: LabHome) -> None:
    from lab.wait import port_free

    lab = Lab(lab_home.settings(seed_products=50))
    lab.up({"api": 1, "worker": 1})
    assert lab_processes(lab.settings.state_dir)
    lab.down()
    assert lab_processes(lab.settings.state_dir) == []
    assert port_free("127.0.0.1", lab_home.lb_port)
    assert port_free("127.0.0.1", lab_home.prometheus_port)
    assert not lab.runtime.is_up()
    with pytest.raises(LabStateError, match="not up"):
        lab.runtime.scale("api", 2)
