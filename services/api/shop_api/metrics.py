"""The API's Prometheus metrics: one registry per replica process (no multiprocess mode).

Names follow docs/contracts.md exactly; route labels are templates, never raw paths.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# The text format ``generate_latest`` writes. prometheus_client >= 0.22 names 1.0.0 in its
# CONTENT_TYPE_LATEST, which Prometheus servers before 3.0 do not know; this one they all do.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Latency buckets around typical web latencies; the SLO is added so that
# "share of requests within the SLO" is exact rather than interpolated.
BASE_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
# "bypass": the cache is off (TTL 0), the lookup went to Postgres without asking Redis.
CACHE_RESULTS = ("hit", "miss", "bypass")
WORK_MODES = ("io", "cpu")
QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def latency_buckets(slo_seconds: float) -> tuple[float, ...]:
    """Histogram buckets that include one exactly at ``slo_seconds``."""
    return tuple(sorted({*BASE_LATENCY_BUCKETS, slo_seconds}))


class ApiMetrics:
    """Every metric one API replica exports, registered in its own registry."""

    def __init__(self, slo_seconds: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        buckets = latency_buckets(slo_seconds)
        self.requests = Counter(
            "shop_http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_duration = Histogram(
            "shop_http_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            buckets=buckets,
            registry=r,
        )
        self.in_flight = Gauge(
            "shop_http_requests_in_flight", "HTTP requests being served", registry=r
        )
        self.concurrency_limit = Gauge(
            "shop_concurrency_limit", "Per-replica concurrency limit (work slots)", registry=r
        )
        self.work_seconds = Gauge(
            "shop_work_seconds", "Simulated work per request (LAB_API_WORK_MS)", registry=r
        )
        self.work_mode = Gauge(
            "shop_work_mode", "Active work mode (LAB_API_WORK): 1, others 0", ["mode"], registry=r
        )
        self.cache_ttl_seconds = Gauge(
            "shop_cache_ttl_seconds", "Product cache TTL (LAB_CACHE_TTL_S); 0: no cache", registry=r
        )
        self.concurrency_waiting = Gauge(
            "shop_concurrency_waiting", "Requests waiting for a work slot", registry=r
        )
        self.concurrency_wait = Histogram(
            "shop_concurrency_wait_seconds",
            "Time spent waiting for a work slot",
            buckets=buckets,
            registry=r,
        )
        self.cache_requests = Counter(
            "shop_cache_requests", "Product cache lookups", ["result"], registry=r
        )
        self.db_pool_size = Gauge("shop_db_pool_size", "DB pool connections open", registry=r)
        self.db_pool_in_use = Gauge("shop_db_pool_in_use", "DB pool connections in use", registry=r)
        self.db_pool_waiters = Gauge(
            "shop_db_pool_waiters", "Callers waiting for a DB connection", registry=r
        )
        self.db_query_duration = Histogram(
            "shop_db_query_duration_seconds",
            "DB query latency",
            ["query"],
            buckets=QUERY_BUCKETS,
            registry=r,
        )
        self.queue_publish = Counter(
            "shop_queue_publish", "Order publishes to JetStream", ["result"], registry=r
        )
        self.outbox_backlog = Gauge(
            "shop_outbox_backlog", "Orders committed but not yet published", registry=r
        )
        self.orders_accepted = Counter(
            "shop_orders_accepted", "Orders stored and answered 202", registry=r
        )
        # Series that exist from the first scrape, so rates and ratios are never "no data".
        for result in CACHE_RESULTS:
            self.cache_requests.labels(result=result)
        for result in ("ok", "error"):
            self.queue_publish.labels(result=result)

    def track_pool(self, size: Callable[[], int], idle: Callable[[], int]) -> None:
        """Read the pool's size and idle count at scrape time."""
        self.db_pool_size.set_function(lambda: float(size()))
        self.db_pool_in_use.set_function(lambda: float(size() - idle()))
