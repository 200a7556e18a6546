"""The ``lab-api`` dashboard: Lab API replicas."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from lab.dashboards import defences, panels
from lab.dashboards.panels import Q

UID = "lab-api"


def build() -> Dashboard:
    return panels.board(
        UID,
        "Lab API replicas",
        (
            "Per-replica view of shop_api: which replica serves what, "
            "how fast, and where requests wait."
        ),
        [
            ("Traffic", traffic()),
            ("Latency", latency()),
            ("Concurrency (work slots)", concurrency_work_slots()),
            ("Cache and queue publishing", cache_and_queue_publishing()),
            ("Defences", defences.row()),
        ],
        variables=[panels.instance_variable('shop_http_requests_in_flight{job="api"}')],
    )


def traffic() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Requests/s by instance",
            "Even bars mean the load balancer spreads load evenly.",
            Q(
                (
                    "sum by (instance) (rate("
                    'shop_http_requests_total{job="api",instance=~"$instance",'
                    'route!~"/metrics|/healthz|/readyz"}[$__rate_interval]))'
                ),
                "{{instance}}",
            ),
            unit="reqps",
        ),
        panels.timeseries(
            "Requests/s by route",
            "",
            Q(
                (
                    "sum by (method, route) (rate("
                    'shop_http_requests_total{job="api",instance=~"$instance",'
                    'route!~"/metrics|/healthz|/readyz"}[$__rate_interval]))'
                ),
                "{{method}} {{route}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "Responses/s by status",
            "",
            Q(
                (
                    'sum by (status) (rate(shop_http_requests_total{job="api",'
                    'instance=~"$instance",'
                    'route!~"/metrics|/healthz|/readyz"}[$__rate_interval]))'
                ),
                "{{status}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "5xx responses/s by instance",
            "Zero (a flat line) while healthy.",
            Q(
                (
                    "sum by (instance) (rate("
                    'shop_http_requests_total{job="api",instance=~"$instance",'
                    'route!~"/metrics|/healthz|/readyz",'
                    'status=~"5.."}[$__rate_interval])) or vector(0)'
                ),
                "{{instance}}",
            ),
            unit="reqps",
        ),
    ]


def latency() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "p95 latency by route",
            "",
            Q(
                (
                    "histogram_quantile(0.95, sum by (route, le) (rate("
                    'shop_http_request_duration_seconds_bucket{job="api",'
                    'instance=~"$instance",'
                    'route!~"/metrics|/healthz|/readyz"}[$__rate_interval])))'
                ),
                "{{route}}",
            ),
            unit="s",
            slo=True,
        ),
        panels.timeseries(
            "p95 latency by instance",
            "One slow replica stands out here before it moves the overall p95.",
            Q(
                (
                    "histogram_quantile(0.95, sum by (instance, le) (rate("
                    'shop_http_request_duration_seconds_bucket{job="api",'
                    'instance=~"$instance",'
                    'route!~"/metrics|/healthz|/readyz"}[$__rate_interval])))'
                ),
                "{{instance}}",
            ),
            unit="s",
            slo=True,
        ),
    ]


def concurrency_work_slots() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Waiting for a work slot vs limit",
            (
                "Requests queue inside a replica once all its slots ("
                "LAB_API_CONCURRENCY) are busy: capacity per replica = "
                "slots / work time."
            ),
            Q(
                'sum by (instance) (shop_concurrency_waiting{job="api",instance=~"$instance"})',
                "waiting {{instance}}",
            ),
            Q(
                'sum by (instance) (shop_concurrency_limit{job="api",instance=~"$instance"})',
                "limit {{instance}}",
            ),
        ),
        panels.timeseries(
            "Wait for a work slot p95",
            "",
            Q(
                (
                    "histogram_quantile(0.95, sum by (instance, le) (rate("
                    'shop_concurrency_wait_seconds_bucket{job="api",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "{{instance}}",
            ),
            unit="s",
        ),
        panels.timeseries(
            "Requests in flight",
            "",
            Q(
                (
                    'sum by (instance) (shop_http_requests_in_flight{job="api",'
                    'instance=~"$instance"})'
                ),
                "{{instance}}",
            ),
        ),
        panels.timeseries(
            "DB pool per instance",
            "",
            Q(
                'sum by (instance) (shop_db_pool_in_use{job="api",instance=~"$instance"})',
                "in use {{instance}}",
            ),
            Q(
                'sum by (instance) (shop_db_pool_size{job="api",instance=~"$instance"})',
                "size {{instance}}",
            ),
            Q(
                'sum by (instance) (shop_db_pool_waiters{job="api",instance=~"$instance"})',
                "waiters {{instance}}",
            ),
        ),
        panels.timeseries(
            "DB pool wait per instance (p95)",
            "Time a request waited for a database connection. Above zero: the pool, not "
            "the database, is where requests queue (lesson 4: raise db_pool_size).",
            Q(
                "histogram_quantile(0.95, sum by (instance, le) (rate("
                'shop_db_pool_wait_seconds_bucket{job="api",instance=~"$instance"}'
                "[$__rate_interval])))",
                "{{instance}}",
            ),
            unit="s",
        ),
    ]


def cache_and_queue_publishing() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Cache lookups/s by result",
            "",
            Q(
                (
                    'sum by (result) (rate(shop_cache_requests_total{job="api",'
                    'instance=~"$instance"}[$__rate_interval]))'
                ),
                "{{result}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "DB reads per product request",
            "Database product reads per GET /products/{id}: 1 − hit ratio with cache-aside, "
            "less when single-flight merges concurrent misses (lesson 3).",
            Q(
                'sum(rate(shop_db_product_reads_total{job="api",instance=~"$instance"}'
                '[$__rate_interval])) / sum(rate(shop_http_requests_total{job="api",'
                'instance=~"$instance",route="/products/{product_id}"}[$__rate_interval]))',
                "DB reads / product request",
            ),
            max_value=1,
        ),
        panels.timeseries(
            "Queue publishes/s by result",
            "",
            Q(
                (
                    'sum by (result) (rate(shop_queue_publish_total{job="api",'
                    'instance=~"$instance"}[$__rate_interval]))'
                ),
                "{{result}}",
            ),
            Q('sum(shop_outbox_backlog{job="api",instance=~"$instance"})', "outbox backlog"),
        ),
    ]
