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
# -- defences around the API's dependency calls (off: the lessons measure the bare system) --
API_DEADLINE_MS: Final = 0.0
"""Per-request budget for every dependency call (pool acquire + query); 0: no deadline."""
API_RETRY: Final = "off"
"""``off``, ``naive`` (retry at once) or ``budgeted`` (backoff, full jitter, retry budget)."""
API_RETRIES: Final = 3
"""Retries of an idempotent call after its first attempt."""
API_RETRY_BUDGET: Final = 0.1
"""``budgeted``: retries stay under this share of calls (plus a small burst)."""
API_BREAKER: Final = False
"""A circuit breaker around Postgres and Redis."""
API_BREAKER_COOLDOWN_S: Final = 5.0
"""How long an open breaker refuses calls before it lets one probe through."""

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

# -- the integrity audit at the end of a run (lab/run/audit.py) -----------------------------
AUDIT_DRAIN_S: Final = 30.0
"""How long the audit waits for the queue to drain before it judges what is left."""
SEED_STOCK: Final = 1_000_000
"""Every seeded product's starting stock (shop_api.schema.INITIAL_STOCK)."""
ORDERS_STREAM: Final = "ORDERS"
ORDERS_CONSUMER: Final = "workers"
"""The JetStream stream and durable consumer of orders (shop_api.queue STREAM, CONSUMER)."""
# -- overload defences (appended: other knobs are added above by other features) -------------
API_QUEUE_TIMEOUT_MS: Final = 0.0
"""Admission control: the longest a request waits for a work slot before a 503; 0 (the
default) waits as long as it takes, so the lessons before ``overload`` see the bare queue."""
API_MAX_WAITERS: Final = 0
"""Admission control: requests that may wait for a slot per replica; 0: no bound."""
ORDERS_MAX_BACKLOG: Final = 0
"""Backpressure: ``POST /orders`` answers 503 while this many orders wait (outbox + stream);
0: off."""
