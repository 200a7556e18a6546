"""The ``lab-overview`` dashboard: Lab overview."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from lab import defaults, rules
from lab.dashboards import panels
from lab.dashboards.panels import Q

UID = "lab-overview"


def build() -> Dashboard:
    return panels.board(
        UID,
        "Lab overview",
        (
            "Is the lab healthy and fast enough? Load, latency vs SLO, "
            "errors, replicas, queue, cache, database and resources, "
            "all from the lab: recording rules."
        ),
        [
            ("Load", load()),
            ("Latency", latency()),
            ("Errors", errors()),
            ("Replicas", replicas()),
            ("Queue and in-flight work", queue_and_in_flight_work()),
            ("Cache", cache()),
            ("Database connections", database_connections()),
            ("Resources", resources()),
            ("Load generator (client view)", load_generator_client_view()),
        ],
    )


def load() -> list[panels.Panel]:
    return [
        panels.stat(
            "API req/s",
            Q(rules.API_RPS, "req/s"),
            unit="reqps",
        ),
        panels.stat(
            "API p95",
            Q(rules.API_P95, "p95"),
            unit="s",
            steps=panels.SLO,
        ),
        panels.stat(
            "Error ratio",
            Q(rules.API_ERROR_RATIO, "errors"),
            unit="percentunit",
            steps=panels.above(0.01),
        ),
        panels.stat(
            "API replicas",
            Q(rules.API_REPLICAS, "api"),
            steps=panels.UP,
        ),
        panels.stat(
            "Worker replicas",
            Q(rules.WORKER_REPLICAS, "worker"),
            steps=panels.UP,
        ),
        panels.stat(
            "Queue depth",
            Q(rules.QUEUE_DEPTH, "pending"),
            steps=panels.above(1000),
        ),
        panels.timeseries(
            "Requests/s: API, load balancer, load generator",
            (
                "Server-side and client-side throughput. A gap between "
                "client and server means requests queue or fail before "
                "they reach a replica."
            ),
            Q(rules.API_RPS, "API (server)"),
            Q(rules.LB_RPS, "HAProxy frontend"),
            Q(rules.LOCUST_RPS, "Locust (client)"),
            unit="reqps",
        ),
        panels.timeseries(
            "Simulated users",
            "Locust users: the offered load.",
            Q(rules.LOCUST_USERS, "users"),
        ),
    ]


def latency() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "API latency p50 / p95 / p99 vs SLO",
            (
                "Server-side latency percentiles. The red line is the SLO "
                f"({defaults.SLO_SECONDS:g} s by default, LAB_SLO_SECONDS); p95 above it "
                "fails the latency check."
            ),
            Q(rules.API_P50, "p50"),
            Q(rules.API_P95, "p95"),
            Q(rules.API_P99, "p99"),
            unit="s",
            slo=True,
            width=24,
        ),
    ]


def errors() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Error ratio (5xx share)",
            "Share of API responses with status >= 500.",
            Q(rules.API_ERROR_RATIO, "5xx / all"),
            unit="percentunit",
        ),
        panels.timeseries(
            "Responses/s by status",
            "",
            Q(
                (
                    'sum by (status) (rate(shop_http_requests_total{job="api",'
                    'route!~"/metrics|/healthz|/readyz"}[$__rate_interval]))'
                ),
                "{{status}}",
            ),
            unit="reqps",
            stack=True,
        ),
    ]


def replicas() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Healthy replicas per service",
            "Scrape targets that answer, by Prometheus job. Scaling shows as steps.",
            Q(rules.SERVICE_REPLICAS, "{{job}}"),
        ),
        panels.timeseries(
            "API replicas and workers",
            "",
            Q(rules.API_REPLICAS, "api"),
            Q(rules.WORKER_REPLICAS, "worker"),
        ),
    ]


def queue_and_in_flight_work() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Queue depth and in-flight",
            "A growing backlog means workers cannot keep up with accepted orders.",
            Q(rules.QUEUE_DEPTH, "pending (not yet delivered)"),
            Q(rules.QUEUE_IN_FLIGHT, "delivered, not yet acked"),
            Q("sum(shop_http_requests_in_flight)", "API requests in flight"),
        ),
        panels.timeseries(
            "Orders/s: accepted vs processed",
            "",
            Q(rules.ORDERS_ACCEPTED_RATE, "accepted (API)"),
            Q(rules.ORDERS_PROCESSED_RATE, "processed (workers)"),
            unit="reqps",
        ),
    ]


def cache() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Cache hit ratio",
            "Catalog reads served from Redis (cache-aside).",
            Q(rules.CACHE_HIT_RATIO, "hits / lookups"),
            unit="percentunit",
            max_value=1,
        ),
        panels.timeseries(
            "Cache lookups/s",
            "",
            Q(
                "sum by (result) (rate(shop_cache_requests_total[$__rate_interval]))",
                "{{result}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "Database product reads/s",
            "Product reads Postgres answered: the misses (with single-flight, one per shared"
            " read). The whole read rate when Redis is down; a burst when it comes back empty.",
            Q(rules.DB_PRODUCT_READS_RATE, "reads/s"),
            unit="reqps",
        ),
    ]


def database_connections() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "API connection pools",
            "All replicas' asyncpg pools together. Waiters > 0: the pool is the bottleneck.",
            Q("sum(shop_db_pool_in_use)", "in use"),
            Q("sum(shop_db_pool_size)", "open (pool size)"),
            Q("sum(shop_db_pool_waiters)", "callers waiting"),
        ),
        panels.timeseries(
            "PostgreSQL connections",
            "From postgres_exporter: what the database itself sees.",
            Q('sum(pg_stat_database_numbackends{datname="shop"})', "backends on shop"),
            Q('sum by (state) (pg_stat_activity_count{datname="shop"})', "{{state}}"),
        ),
    ]


def resources() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "CPU per service (cores)",
            "1.0 = one core busy. The machine has few cores.",
            Q(rules.PROCESS_CPU, "{{service}}"),
            stack=True,
        ),
        panels.timeseries(
            "Memory per service",
            "",
            Q(rules.PROCESS_MEMORY, "{{service}}"),
            unit="bytes",
            stack=True,
        ),
        panels.timeseries(
            "CPU per instance (cores)",
            "",
            Q(
                "sum by (instance) (rate(lab_process_cpu_seconds_total[$__rate_interval]))",
                "{{instance}}",
            ),
        ),
        panels.timeseries(
            "Memory per instance",
            "",
            Q("sum by (instance) (lab_process_resident_memory_bytes)", "{{instance}}"),
            unit="bytes",
        ),
    ]


def load_generator_client_view() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Locust users",
            "",
            Q(rules.LOCUST_USERS, "users"),
            width=6,
        ),
        panels.timeseries(
            "Locust req/s",
            "",
            Q(rules.LOCUST_RPS, "req/s"),
            unit="reqps",
            width=6,
        ),
        panels.timeseries(
            "Locust failure ratio",
            "",
            Q(rules.LOCUST_FAILURE_RATIO, "failures / requests"),
            unit="percentunit",
            width=6,
        ),
        panels.timeseries(
            "Locust p95 vs SLO",
            "What users feel, network and LB included.",
            Q(rules.LOCUST_P95, "p95 (client)"),
            unit="s",
            slo=True,
            width=6,
        ),
    ]
