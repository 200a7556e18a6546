"""The API's Prometheus metrics: one registry per replica process (no multiprocess mode).

Names follow docs/contracts.md exactly; route labels are templates, never raw paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from shop_api.admission import SHED_REASONS

# The text format ``generate_latest`` writes. prometheus_client >= 0.22 names 1.0.0 in its
# CONTENT_TYPE_LATEST, which Prometheus servers before 3.0 do not know; this one they all do.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Latency buckets dense where service times, knees and SLOs sit, at most 12.5 % apart from
# 40 ms to 1 s (every 5 ms to 100 ms, every 10 ms to 250 ms, every 25 ms to 1 s), so that
# histogram_quantile interpolates within a few % rather than inventing a p95 between
# far-apart bounds (25 ms buckets at 100 ms are 25 % wide); coarser below and above. The
# SLO is added so that "share of requests within the SLO" is exact.
BASE_LATENCY_BUCKETS = (
    *(0.001, 0.0025, 0.005, 0.01, 0.02, 0.03),
    *(ms / 1000 for ms in range(40, 100, 5)),
    *(ms / 1000 for ms in range(100, 250, 10)),
    *(ms / 1000 for ms in range(250, 1001, 25)),
    *(1.5, 2.0, 2.5, 5.0, 10.0),
)
# "bypass": the cache is off (TTL 0), the lookup went to Postgres without asking Redis.
CACHE_RESULTS = ("hit", "miss", "bypass")
WORK_MODES = ("io", "cpu")
QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# Waiting for a pool connection: from nothing to the acquire timeout (5 s).
POOL_WAIT_BUCKETS = (
    *(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    *(ms / 1000 for ms in range(150, 1001, 50)),
    *(1.5, 2.0, 3.0, 5.0),
)


class InFlightIntegral(Collector):
    """Requests in flight integrated over time: ``shop_http_in_flight_seconds_total``.

    The sum advances by (requests inside) × (seconds since the last change) at every
    arrival and departure, and up to the instant of each scrape, so ``rate()`` of it over
    any window is the exact time-average number of requests inside (Little's L), whatever
    the scrape interval; a gauge sampled once a second sees only √L-sized snapshots. It
    counts the shop's requests only, not the scrapes and health checks that read it.
    """

    NAME = "shop_http_in_flight_seconds"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._inside = 0
        self._seconds = 0.0
        self._since = clock()

    def _advance(self) -> None:
        now = self._clock()
        self._seconds += self._inside * (now - self._since)
        self._since = now

    def enter(self) -> None:
        self._advance()
        self._inside += 1

    def leave(self) -> None:
        self._advance()
        self._inside -= 1

    def seconds(self) -> float:
        """The integral up to now."""
        self._advance()
        return self._seconds

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            self.NAME,
            "Requests in flight integrated over time (rate() of it: the average in flight)",
            value=self.seconds(),
        )


def latency_buckets(slo_seconds: float) -> tuple[float, ...]:
    """Histogram buckets that include one exactly at ``slo_seconds``."""
    return tuple(sorted({*BASE_LATENCY_BUCKETS, slo_seconds}))


class ApiMetrics:
    """Every metric one API replica exports, registered in its own registry."""

    def __init__(self, slo_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
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
        self.in_flight_seconds = InFlightIntegral(clock)
        r.register(self.in_flight_seconds)
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
        self.cache_single_flight = Gauge(
            "shop_cache_single_flight",
            "1: concurrent misses of one product share one read (LAB_CACHE_SINGLE_FLIGHT)",
            registry=r,
        )
        self.cache_coalesced = Counter(
            "shop_cache_coalesced",
            "Product lookups answered by another request's database read (single-flight)",
            registry=r,
        )
        self.db_product_reads = Counter(
            "shop_db_product_reads",
            "Product reads that went to the database (cache misses and bypasses)",
            registry=r,
        )
        self.db_query_cost_seconds = Gauge(
            "shop_db_query_cost_seconds",
            "Database cost of a product read on a miss (LAB_DB_QUERY_MS)",
            registry=r,
        )
        self.db_work_mode = Gauge(
            "shop_db_work_mode",
            "Active database work mode (LAB_DB_WORK): 1, others 0",
            ["mode"],
            registry=r,
        )
        self.db_pool_max_size = Gauge(
            "shop_db_pool_max_size",
            "Most DB connections this replica opens (LAB_DB_POOL_SIZE, or its default)",
            registry=r,
        )
        self.pg_max_connections = Gauge(
            "shop_pg_max_connections",
            "Postgres' max_connections, as the server reports it (LAB_PG_MAX_CONNECTIONS)",
            registry=r,
        )
        self.db_pool_size = Gauge("shop_db_pool_size", "DB pool connections open", registry=r)
        self.db_pool_in_use = Gauge("shop_db_pool_in_use", "DB pool connections in use", registry=r)
        self.db_pool_waiters = Gauge(
            "shop_db_pool_waiters", "Callers waiting for a DB connection", registry=r
        )
        self.db_pool_wait = Histogram(
            "shop_db_pool_wait_seconds",
            "Time spent waiting for a DB connection from the pool",
            buckets=POOL_WAIT_BUCKETS,
            registry=r,
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
        self._overload_metrics()

    def _overload_metrics(self) -> None:
        """Admission control, goodput, order backpressure, idempotency, faults."""
        r = self.registry
        self.shed = Counter(
            "shop_shed_requests",
            "Requests refused by admission control (503), by reason",
            ["reason"],
            registry=r,
        )
        self.good_requests = Counter(
            "shop_http_requests_good",
            "Requests answered below 500 within the SLO (LAB_SLO_SECONDS): goodput",
            ["route", "method"],
            registry=r,
        )
        self.queue_timeout_seconds = Gauge(
            "shop_admission_queue_timeout_seconds",
            "Longest wait for a work slot before a 503 (LAB_API_QUEUE_TIMEOUT_MS); 0: no bound",
            registry=r,
        )
        self.max_waiters = Gauge(
            "shop_admission_max_waiters",
            "Waiters for a work slot before a 503 (LAB_API_MAX_WAITERS); 0: no bound",
            registry=r,
        )
        self.orders_max_backlog = Gauge(
            "shop_orders_max_backlog",
            "Order backlog above which POST /orders answers 503 (LAB_ORDERS_MAX_BACKLOG); 0: off",
            registry=r,
        )
        self.order_backlog = Gauge(
            "shop_order_backlog",
            "Orders accepted but not yet delivered to a worker (outbox + stream), last seen",
            registry=r,
        )
        self.orders_refused = Counter(
            "shop_orders_backpressure",
            "Orders refused with 503 because the order backlog was over its bound",
            registry=r,
        )
        self.idempotent_replays = Counter(
            "shop_orders_idempotent_replays",
            "POST /orders answered from a stored Idempotency-Key (no second order)",
            registry=r,
        )
        self.faults_active = Gauge(
            "shop_faults_active",
            "Application faults in force on this replica (lab fault app), by kind",
            ["kind"],
            registry=r,
        )
        for reason in SHED_REASONS:
            self.shed.labels(reason=reason)

    def track_pool(self, size: Callable[[], int], idle: Callable[[], int]) -> None:
        """Read the pool's size and idle count at scrape time."""
        self.db_pool_size.set_function(lambda: float(size()))
        self.db_pool_in_use.set_function(lambda: float(size() - idle()))
