"""The ``lab-lb`` dashboard: Lab load balancer."""

from __future__ import annotations

from grafana_foundation_sdk.models.dashboard import Dashboard

from lab import rules
from lab.dashboards import panels
from lab.dashboards.panels import Q

UID = "lab-lb"


def build() -> Dashboard:
    return panels.board(
        UID,
        "Lab load balancer",
        (
            "HAProxy's built-in Prometheus exporter: what the front "
            "door sees, how it queues, and which replica gets what."
        ),
        [
            ("Frontend", frontend()),
            ("Servers (API replicas)", servers_api_replicas()),
        ],
    )


def frontend() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Requests/s",
            "",
            Q(rules.LB_RPS, "frontend (rule)"),
            Q(
                (
                    "sum(rate("
                    'haproxy_backend_http_requests_total{proxy="be_api"}[$__rate_interval]))'
                ),
                "backend be_api",
            ),
            unit="reqps",
        ),
        panels.timeseries(
            "Responses/s by code",
            "",
            Q(
                (
                    "sum by (code) (rate("
                    'haproxy_frontend_http_responses_total{proxy="fe_api"}[$__rate_interval]))'
                ),
                "{{code}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "Sessions",
            "",
            Q('sum(haproxy_frontend_current_sessions{proxy="fe_api"})', "frontend current"),
            Q('sum(haproxy_backend_current_sessions{proxy="be_api"})', "backend current"),
            Q(
                'sum(rate(haproxy_frontend_sessions_total{proxy="fe_api"}[$__rate_interval]))',
                "new sessions / s",
            ),
        ),
        panels.timeseries(
            "Backend queue",
            "Requests HAProxy holds because every server is at its maxconn.",
            Q('sum(haproxy_backend_current_queue{proxy="be_api"})', "queued requests"),
            Q(
                'max(haproxy_backend_queue_time_average_seconds{proxy="be_api"})',
                "avg queue time (s)",
            ),
        ),
    ]


def servers_api_replicas() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Sessions/s per server",
            "Only servers in state UP; the empty slots of the server template are hidden.",
            Q(
                (
                    "sum by (server) (rate("
                    'haproxy_server_sessions_total{proxy="be_api"}[$__rate_interval]) '
                    "and on (proxy, server) ("
                    'haproxy_server_status{proxy="be_api",state="UP"} == 1))'
                ),
                "{{server}}",
            ),
            unit="reqps",
            stack=True,
        ),
        panels.timeseries(
            "Response time per server (avg of last 1024)",
            "",
            Q(
                (
                    "max by (server) ("
                    'haproxy_server_response_time_average_seconds{proxy="be_api"} '
                    "and on (proxy, server) ("
                    'haproxy_server_status{proxy="be_api",state="UP"} == 1))'
                ),
                "{{server}}",
            ),
            unit="s",
            slo=True,
        ),
        panels.table(
            "Server state",
            "Servers not in maintenance and their state (UP, DOWN, DRAIN...).",
            Q(
                (
                    "max by (server, state) ("
                    'haproxy_server_status{proxy="be_api",state!="MAINT"} == 1)'
                ),
                "{{server}} {{state}}",
            ),
        ),
        panels.timeseries(
            "Servers UP",
            "",
            Q('sum(haproxy_server_status{proxy="be_api",state="UP"})', "UP"),
            Q('max(haproxy_backend_active_servers{proxy="be_api"})', "active (backend)"),
        ),
        panels.timeseries(
            "Errors, retries, redispatches per s",
            "Retries and redispatches rise when a replica is killed mid-request.",
            Q(
                (
                    "sum(rate("
                    'haproxy_backend_connection_errors_total{proxy="be_api"}[$__rate_interval]))'
                ),
                "connection errors",
            ),
            Q(
                (
                    "sum(rate("
                    'haproxy_backend_response_errors_total{proxy="be_api"}[$__rate_interval]))'
                ),
                "response errors",
            ),
            Q(
                (
                    "sum(rate("
                    'haproxy_backend_retry_warnings_total{proxy="be_api"}[$__rate_interval]))'
                ),
                "retries",
            ),
            Q(
                (
                    "sum(rate("
                    'haproxy_backend_redispatch_warnings_total{proxy="be_api"}[$__rate_interval]))'
                ),
                "redispatches",
            ),
            width=24,
        ),
    ]
