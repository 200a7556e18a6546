"""The catalogue of recording-rule names: every reader of a ``lab:`` series names it here.

The rules themselves live in services/prometheus/rules.yml (tested with promtool);
tests/unit/test_rules_catalogue.py fails when this catalogue and that file disagree.
Dashboards, scenario checks, reports and ``lab watch`` import these constants rather
than spelling a rule name again.
"""

from __future__ import annotations

from typing import Final

# -- the API, as its replicas see it (health checks and /metrics excluded) -------------------
API_RPS: Final = "lab:api_requests:rate10s"
API_ERROR_RATIO: Final = "lab:api_errors:ratio10s"
API_P50: Final = "lab:api_latency_seconds:p50_10s"
API_P95: Final = "lab:api_latency_seconds:p95_10s"
API_P99: Final = "lab:api_latency_seconds:p99_10s"
CACHE_HIT_RATIO: Final = "lab:cache_hit:ratio10s"
DB_PRODUCT_READS_RATE: Final = "lab:db_product_reads:rate10s"  # misses the database answered
ORDERS_ACCEPTED_RATE: Final = "lab:orders_accepted:rate10s"

# -- replicas up, as Prometheus sees them ----------------------------------------------------
SERVICE_REPLICAS: Final = "lab:service_replicas:up"  # by (job)
API_REPLICAS: Final = "lab:api_replicas:up"
WORKER_REPLICAS: Final = "lab:worker_replicas:up"

# -- the queue and its workers ---------------------------------------------------------------
QUEUE_DEPTH: Final = "lab:queue_depth"
QUEUE_IN_FLIGHT: Final = "lab:queue_in_flight"
ORDERS_PROCESSED_RATE: Final = "lab:orders_processed:rate10s"

# -- resources per service -------------------------------------------------------------------
PROCESS_CPU: Final = "lab:process_cpu:rate10s"  # by (service), cores
PROCESS_MEMORY: Final = "lab:process_memory_bytes"  # by (service)

# -- the API's database pool and work slots, over all replicas (gauges) -----------------------
DB_POOL_IN_USE: Final = "lab:db_pool_in_use"  # connections
DB_POOL_MAX_SIZE: Final = "lab:db_pool_max_size"
DB_POOL_WAITERS: Final = "lab:db_pool_waiters"  # callers waiting for a connection
API_SLOT_WAITERS: Final = "lab:api_slot_waiters"  # requests waiting for a work slot

# -- the load balancer -----------------------------------------------------------------------
LB_RPS: Final = "lab:lb_requests:rate10s"
LB_RETRIES_RATE: Final = "lab:lb_retries:rate10s"  # retried on the same server
LB_REDISPATCHES_RATE: Final = "lab:lb_redispatches:rate10s"  # retried on another server

# -- the load generator, as the clients see it -----------------------------------------------
LOCUST_USERS: Final = "lab:locust_users"
LOCUST_RPS: Final = "lab:locust_requests:rate10s"
LOCUST_FAILURE_RATIO: Final = "lab:locust_failures:ratio10s"
LOCUST_P95: Final = "lab:locust_latency_seconds:p95_10s"
LOCUST_HDR_P95: Final = "lab:locust_latency_hdr_seconds:p95_10s"  # exact (HDR)
LOCUST_LATE_RATE: Final = "lab:locust_arrivals_late:rate10s"  # open loop
LOCUST_DROPPED_RATE: Final = "lab:locust_arrivals_dropped:rate10s"  # open loop

# -- the API's defences around its dependency calls, by (dependency) -------------------------
DEPENDENCY_AMPLIFICATION: Final = "lab:dependency_amplification:ratio10s"  # attempts / calls
DEPENDENCY_RETRIES_RATE: Final = "lab:dependency_retries:rate10s"
RETRY_BUDGET_EXHAUSTED_RATE: Final = "lab:retry_budget_exhausted:rate10s"
DEADLINE_EXCEEDED_RATE: Final = "lab:deadline_exceeded:rate10s"
BREAKER_STATE: Final = "lab:breaker_state:max"  # 0 closed, 1 half-open, 2 open
BREAKER_REJECTED_RATE: Final = "lab:breaker_rejected:rate10s"
# -- overload defences and application faults -------------------------------------------------
API_GOODPUT: Final = "lab:api_goodput:rate10s"  # answers < 500 within the SLO, per second
API_SHED_RATE: Final = "lab:api_shed:rate10s"  # refused by admission control
ORDERS_BACKPRESSURE_RATE: Final = "lab:orders_backpressure:rate10s"
APP_FAULTS: Final = "lab:app_faults:active"  # by (kind)

ALL: Final = (
    API_RPS,
    API_ERROR_RATIO,
    API_P50,
    API_P95,
    API_P99,
    CACHE_HIT_RATIO,
    DB_PRODUCT_READS_RATE,
    ORDERS_ACCEPTED_RATE,
    SERVICE_REPLICAS,
    API_REPLICAS,
    WORKER_REPLICAS,
    QUEUE_DEPTH,
    QUEUE_IN_FLIGHT,
    ORDERS_PROCESSED_RATE,
    PROCESS_CPU,
    PROCESS_MEMORY,
    LB_RPS,
    LB_RETRIES_RATE,
    LB_REDISPATCHES_RATE,
    DB_POOL_IN_USE,
    DB_POOL_MAX_SIZE,
    DB_POOL_WAITERS,
    API_SLOT_WAITERS,
    LOCUST_USERS,
    LOCUST_RPS,
    LOCUST_FAILURE_RATIO,
    LOCUST_P95,
    LOCUST_HDR_P95,
    LOCUST_LATE_RATE,
    LOCUST_DROPPED_RATE,
    DEPENDENCY_AMPLIFICATION,
    DEPENDENCY_RETRIES_RATE,
    RETRY_BUDGET_EXHAUSTED_RATE,
    DEADLINE_EXCEEDED_RATE,
    BREAKER_STATE,
    BREAKER_REJECTED_RATE,
    API_GOODPUT,
    API_SHED_RATE,
    ORDERS_BACKPRESSURE_RATE,
    APP_FAULTS,
)
"""Every rule, in the order of rules.yml."""
