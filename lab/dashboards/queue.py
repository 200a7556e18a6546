"""The ``lab-queue`` dashboard: Lab queue and workers."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from lab import rules
from lab.dashboards import panels
from lab.dashboards.panels import Q

UID = "lab-queue"


def build() -> Dashboard:
    return panels.board(
        UID,
        "Lab queue and workers",
        (
            "NATS JetStream and shop_worker: backlog, throughput, "
            "failures, redeliveries and how long an order waits from "
            "202 to processed."
        ),
        [
            ("Backlog", backlog()),
            ("Throughput and failures", throughput_and_failures()),
            ("Latency", latency()),
        ],
        variables=[panels.instance_variable('shop_worker_in_flight{job="worker"}')],
    )


def backlog() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Queue depth and ack-pending",
            (
                "Pending: stored, not yet delivered. Ack pending: "
                "delivered to a worker, not yet acknowledged (redelivered "
                "after the ack wait if the worker dies)."
            ),
            Q(rules.QUEUE_DEPTH, "pending"),
            Q(rules.QUEUE_IN_FLIGHT, "ack pending"),
        ),
        panels.timeseries(
            "Messages in flight per worker",
            "",
            Q(
                'sum by (instance) (shop_worker_in_flight{job="worker",instance=~"$instance"})',
                "{{instance}}",
            ),
        ),
        panels.timeseries(
            "Outbox backlog (API)",
            "Orders in Postgres whose message has not reached JetStream yet.",
            Q("sum(shop_outbox_backlog)", "committed, not published"),
        ),
        panels.timeseries(
            "Publishes/s by result (API)",
            "",
            Q(("sum by (result) (rate(shop_queue_publish_total[$__rate_interval]))"), "{{result}}"),
            unit="reqps",
        ),
    ]


def throughput_and_failures() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Orders/s: accepted vs processed",
            "",
            Q(rules.ORDERS_ACCEPTED_RATE, "accepted"),
            Q(rules.ORDERS_PROCESSED_RATE, "processed"),
            unit="reqps",
        ),
        panels.timeseries(
            "Processed/s per worker",
            "",
            Q(
                (
                    "sum by (instance) (rate("
                    'shop_worker_orders_processed_total{job="worker",'
                    'instance=~"$instance"}[$__rate_interval]))'
                ),
                "{{instance}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "Failed, redelivered, duplicate per s",
            "Redeliveries follow a killed worker; duplicates show the consumer is idempotent.",
            Q(
                (
                    'sum(rate(shop_worker_orders_failed_total{job="worker",'
                    'instance=~"$instance"}[$__rate_interval]))'
                ),
                "failed (poison)",
            ),
            Q(
                (
                    "sum(rate("
                    'shop_worker_orders_redelivered_total{job="worker",'
                    'instance=~"$instance"}[$__rate_interval]))'
                ),
                "redelivered",
            ),
            Q(
                (
                    'sum(rate(shop_worker_orders_duplicate_total{job="worker",'
                    'instance=~"$instance"}[$__rate_interval]))'
                ),
                "duplicate (acked)",
            ),
            unit="reqps",
            width=24,
        ),
    ]


def latency() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Processing time per message",
            "",
            Q(
                (
                    "histogram_quantile(0.5, sum by (le) (rate("
                    'shop_worker_processing_seconds_bucket{job="worker",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "p50",
            ),
            Q(
                (
                    "histogram_quantile(0.95, sum by (le) (rate("
                    'shop_worker_processing_seconds_bucket{job="worker",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "p95",
            ),
            Q(
                (
                    "histogram_quantile(0.99, sum by (le) (rate("
                    'shop_worker_processing_seconds_bucket{job="worker",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "p99",
            ),
            unit="s",
        ),
        panels.timeseries(
            "Order latency, accepted → processed",
            "End to end through outbox, queue and worker: grows with the backlog.",
            Q(
                (
                    "histogram_quantile(0.5, sum by (le) (rate("
                    'shop_order_latency_seconds_bucket{job="worker",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "p50",
            ),
            Q(
                (
                    "histogram_quantile(0.95, sum by (le) (rate("
                    'shop_order_latency_seconds_bucket{job="worker",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "p95",
            ),
            Q(
                (
                    "histogram_quantile(0.99, sum by (le) (rate("
                    'shop_order_latency_seconds_bucket{job="worker",'
                    'instance=~"$instance"}[$__rate_interval])))'
                ),
                "p99",
            ),
            unit="s",
        ),
    ]
