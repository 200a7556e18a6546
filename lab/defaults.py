"""Every default of the lab, declared once.

``Settings`` (lab/settings.py), the scenario model, the runtimes and the CLI read these;
the services (services/, which never import ``lab``) and ``compose.yaml`` repeat some of
them, and tests/unit/test_defaults.py fails when any copy disagrees with this module.
"""

from __future__ import annotations

from typing import Final

# -- the service level objective ------------------------------------------------------------
SLO_SECONDS: Final = 0.25
"""p95 latency the API is expected to meet; the knee is where it breaks."""

# -- topology --------------------------------------------------------------------------------
MAX_REPLICAS: Final = 32
"""Most instances of one scalable service (HAProxy's native config declares this many slots)."""
API_REPLICAS: Final = 2
WORKER_REPLICAS: Final = 2

# -- the cost model (knobs) ------------------------------------------------------------------
API_WORK: Final = "io"
API_WORK_MS: Final = 40.0
"""Work per request; with ``API_CONCURRENCY`` slots one replica serves at most
``API_CONCURRENCY / (API_WORK_MS / 1000)`` = 100 req/s."""
API_CONCURRENCY: Final = 4
CACHE_TTL_S: Final = 30.0
"""Product cache time to live; 0 disables the cache."""
CACHE_SINGLE_FLIGHT: Final = False
"""Concurrent misses of one product in one replica share one database read."""
DB_WORK: Final = "io"
"""What a product read on a cache miss costs the database: ``io`` holds a connection and a
backend (pg_sleep), ``cpu`` burns Postgres CPU."""
DB_QUERY_MS: Final = 2.0
"""Small, so that with the default popularity skew (most reads hit the cache) one replica's
capacity stays about ``API_CONCURRENCY / API_WORK_MS``."""
DB_POOL_SIZE: Final = 0
"""Database connections per API replica; 0: ``API_CONCURRENCY + 4``, at most 40."""
PG_MAX_CONNECTIONS: Final = 300
"""Postgres' ``max_connections`` (the native launcher and the compose command)."""
WORKER_WORK_MS: Final = 20.0
WORKER_ACK_WAIT_S: Final = 10.0
SEED_PRODUCTS: Final = 10_000

# -- user-facing ports (127.0.0.1 unless the user asks otherwise) ---------------------------
BIND_HOST: Final = "127.0.0.1"
LB_PORT: Final = 8080
PROMETHEUS_PORT: Final = 9090
LOCUST_PORT: Final = 8089
GRAFANA_PORT: Final = 3000

# -- network faults (the lab's Toxiproxy) ----------------------------------------------------
TOXIPROXY_PORT: Final = 8474
"""Toxiproxy's API port (its own default); natively the lab picks a free one."""
NET_LINKS: Final = ("postgres", "redis", "nats")
"""The links from the API and the workers that the proxy carries, one proxy each, named
for the dependency (as Toxiproxy users name them)."""
NET_PROXY: Final = False
"""Route the API's and workers' dependency traffic through the proxy. Off by default: the
extra hop costs the scale-out lesson (see README, "Network faults"); fault scenarios turn it on."""

# -- measuring -------------------------------------------------------------------------------
SCRAPE_INTERVAL_S: Final = 1.0
RULE_WINDOW_S: Final = 10.0
"""The window of the ``lab:*:*10s`` recording rules (services/prometheus/rules.yml)."""
READY_TIMEOUT_S: Final = 30.0

# -- the load (loadtests/shop.py repeats these as its option defaults) ------------------------
LOAD_MIX: Final = {"browse": 70, "list": 10, "order": 10, "check": 10}
"""Relative weights of the shop's requests: product read, page list, order, order check."""
LOAD_SKEW: Final = 1.1
"""Zipf exponent of product popularity (0 = uniform)."""
OPEN_LOOP_HEADROOM: Final = 2.0
"""An open loop's pool of users, when not given: rate × max(latency, SLO) × this."""
