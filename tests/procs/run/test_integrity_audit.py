"""The integrity audit against a real lab: real orders through the LB, real workers,
then the database is tampered with and the audit must name what is wrong."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from lab.lab import Lab
from tests.labtools import private_home

pytestmark = pytest.mark.procs
ORDERS = 30


@pytest.fixture(scope="module")
def shop() -> Iterator[Lab]:
    with private_home() as home:
        lab = Lab(home.settings(seed_products=200, api_replicas=1, worker_replicas=1))
        lab.up()
        yield lab
        lab.close()


def place_orders(lab: Lab, products: range) -> dict[str, tuple[int, int]]:
    """order id -> (product, quantity): one order per product, quantities 1..3."""
    placed = {}
    with httpx.Client(base_url=lab.runtime.endpoint("lb").url, timeout=10) as client:
        for product in products:
            quantity = 1 + product % 3
            answer = client.post(
                "/orders", json={"product_id": product, "quantity": quantity, "customer": "audit"}
            )
            assert answer.status_code == 202, answer.text
            placed[answer.json()["order_id"]] = (product, quantity)
    return placed


def execute(lab: Lab, query: str, *args: Any) -> None:
    """One parameterised statement on the lab's database."""
    pg = lab.runtime.endpoint("postgres")
    password = lab.runtime.read_secret("pg_password")

    async def run() -> None:
        conn = await asyncpg.connect(
            host=pg.host, port=pg.port, user="lab", password=password, database="shop"
        )
        try:
            await conn.execute(query, *args)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_clean_run_passes_with_its_counts(shop: Lab) -> None:
    since = time.time() - 1
    place_orders(shop, range(1, ORDERS + 1))
    audit = shop.audit(since, drain_s=30)
    assert audit.passed, audit.detail
    assert (audit.orders, audit.processed, audit.stuck, audit.outbox_left) == (ORDERS, ORDERS, 0, 0)
    assert (audit.num_pending, audit.num_ack_pending) == (0, 0)
    assert audit.deliveries >= ORDERS and audit.stock_mismatched == 0


def test_an_order_no_worker_processes_is_stuck(shop: Lab) -> None:
    shop.stop("worker-1")
    try:
        (stuck,) = place_orders(shop, range(101, 102))
        audit = shop.audit(time.time() - 5, drain_s=1)
        assert not audit.passed
        assert audit.stuck == 1 and stuck in audit.detail
        assert audit.num_pending == 1, audit.detail  # published, waiting for a worker
    finally:
        shop.start("worker-1")
    assert shop.audit(time.time() - 5, drain_s=30).passed  # drained once a worker is back


def test_stock_taken_twice_for_one_order_fails_the_audit_naming_it(shop: Lab) -> None:
    placed = place_orders(shop, range(150, 160))
    assert shop.audit(time.time() - 5, drain_s=30).passed
    victim, (product, quantity) = next(iter(placed.items()))
    # the order's stock movement, applied a second time (a duplicate the worker let through)
    execute(shop, "UPDATE products SET stock = stock - $2 WHERE id = $1", product, quantity)
    audit = shop.audit(time.time() - 5, drain_s=30)
    assert not audit.passed
    assert audit.stock_mismatched == 1
    assert victim in audit.detail and f"product {product}:" in audit.detail
    assert f"stock moved {2 * quantity}" in audit.detail
