"""One set of measurements for the capacity tests that do not check the numbers
themselves (rendering, plots): a 94.6 req/s knee per replica, 8 connections each
against 300, 3,000 queries/s, 50 orders/s per worker, a 30 s TTL."""

from __future__ import annotations

from lab.capacity.model import Measured
from lab.capacity.usl import UslFit


def measured(usl: UslFit, source: str = "a test") -> Measured:
    return Measured(
        usl=usl,
        knee_rps_per_replica=94.6,
        api_db_pool=8,
        pg_max_connections=300,
        db_max_queries_per_s=3000.0,
        worker_orders_per_s=50.0,
        cache_ttl_s=30.0,
        source=source,
    )
