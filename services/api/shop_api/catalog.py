"""Product reads: cache-aside on Redis, with a database cost on a miss.

A hit costs one Redis GET and no database. A miss (or a bypass, TTL 0) runs one query
that reads the product *and* costs what ``LAB_DB_QUERY_MS`` says, as real database work:

- ``io`` (``LAB_DB_WORK=io``): ``pg_sleep`` in the same statement, so the read holds a
  pool connection and a Postgres backend for that long (a slow query, a lock wait);
- ``cpu``: a CPU-bound subquery (md5 over ``generate_series``) sized at start-up to take
  about that long on this machine, so Postgres' CPU is what saturates.

With single-flight (``LAB_CACHE_SINGLE_FLIGHT``), concurrent misses of the same product
in one replica share one database read: a stampede on a hot key that expired costs one
query per replica instead of one per request. ``shop_db_product_reads_total`` counts the
reads, ``shop_cache_coalesced_total`` the lookups that rode on another's read.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from shop_api.cache import ProductCache
from shop_api.db import Database
from shop_api.metrics import WORK_MODES, ApiMetrics
from shop_api.models import Product

# The cost runs first (the outer side of the join) and always: a missing product costs
# the same as an existing one, and answers one row whose id is NULL.
READ_PLAIN = "SELECT id, name, price_cents, stock FROM products WHERE id = $1"
READ_IO = (
    "SELECT p.id, p.name, p.price_cents, p.stock"
    " FROM (SELECT pg_sleep($2::float8)) AS cost LEFT JOIN products p ON p.id = $1"
)
# The join condition names the hash count: a subquery column nobody reads is planned
# away (Postgres would generate the series but skip every md5).
READ_CPU = (
    "SELECT p.id, p.name, p.price_cents, p.stock"
    " FROM (SELECT count(md5(i::text)) AS hashed FROM generate_series(1, $2::int) AS i) AS cost"
    " LEFT JOIN products p ON p.id = $1 AND cost.hashed >= 0"
)

CALIBRATION_ROWS = 20_000
CALIBRATION_RUNS = 3


async def cpu_rows_per_ms(db: Database) -> float:
    """How many rows of ``READ_CPU``'s cost this Postgres hashes per millisecond: the same
    statement, timed after one warm-up run (the first pays for preparing it), best of a
    few, so a busy moment at start-up does not make every later query cheaper."""
    best = float("inf")
    async with db.connection() as conn:
        for run in range(CALIBRATION_RUNS + 1):
            start = time.perf_counter()
            await conn.fetchrow(READ_CPU, 0, CALIBRATION_ROWS)
            if run:
                best = min(best, time.perf_counter() - start)
    return CALIBRATION_ROWS / max(best * 1000, 1e-3)


class ProductReader:
    """``read(id)``: the product's JSON bytes, or None when there is no such product."""

    def __init__(
        self,
        db: Database,
        cache: ProductCache,
        metrics: ApiMetrics,
        *,
        work: Literal["io", "cpu"],
        query_ms: float,
        single_flight: bool,
        cpu_rows_per_ms: float = 0.0,
    ) -> None:
        self.db = db
        self.cache = cache
        self.metrics = metrics
        self.single_flight = single_flight
        self._reads: dict[int, asyncio.Task[bytes | None]] = {}
        self.sql = READ_PLAIN
        cost: float | int | None = None
        if query_ms > 0 and work == "io":
            self.sql, cost = READ_IO, query_ms / 1000
        elif query_ms > 0:
            self.sql, cost = READ_CPU, max(1, round(query_ms * cpu_rows_per_ms))
        self.args: tuple[Any, ...] = () if cost is None else (cost,)
        metrics.db_query_cost_seconds.set(query_ms / 1000)
        for known in WORK_MODES:
            metrics.db_work_mode.labels(mode=known).set(1 if known == work else 0)
        metrics.cache_single_flight.set(1 if single_flight else 0)

    async def read(self, product_id: int) -> bytes | None:
        body = await self.cache.get(product_id)
        if body is not None:
            return body
        if not self.single_flight:
            return await self._load(product_id)
        task = self._reads.get(product_id)
        if task is None:
            task = asyncio.ensure_future(self._load(product_id))
            self._reads[product_id] = task
            task.add_done_callback(lambda _: self._reads.pop(product_id, None))
        else:
            self.metrics.cache_coalesced.inc()
        # shield: one waiter giving up (its client went away) does not cancel the others'
        return await asyncio.shield(task)

    async def _load(self, product_id: int) -> bytes | None:
        self.metrics.db_product_reads.inc()
        row = await self.db.fetchrow("product_by_id", self.sql, product_id, *self.args)
        if row is None or row["id"] is None:
            return None
        return await self.cache.put(Product.model_validate(dict(row)))
