"""The plan: one row recomputed by hand from a stated Measured input, and the connection
ceiling at the user count where pools outgrow max_connections."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lab.capacity.model import Measured, UserModel, parse_user_model
from lab.capacity.plan import CONNECTIONS, FIX_CACHE, FIX_CONNECTIONS, QUERIES, plan, plan_row
from lab.capacity.usl import UslFit

AMDAHL = UslFit(sigma=0.1, kappa=0.0, lam=100.0, r_squared=1.0, points=())
LINEAR = UslFit(sigma=0.0, kappa=0.0, lam=100.0, r_squared=1.0, points=())


def model(**changes: Any) -> UserModel:
    data: dict[str, Any] = {
        "users": [100_000],
        "sessions_per_user_per_day": 4,
        "requests_per_session": 27,
        "mix": {"browse": 0.6, "list": 0.2, "order": 0.1, "check": 0.1},
        "peak_to_average": 2,
        "think_time_s": 10,
        "catalogue_products": 1000,
        "zipf_exponent": 1.0,
        "headroom": 0.2,
    }
    return parse_user_model({**data, **changes})


def measured(**changes: Any) -> Measured:
    data: dict[str, Any] = {
        "usl": AMDAHL,
        "knee_rps_per_replica": 100.0,
        "api_db_pool": 10,
        "pg_max_connections": 100,
        "db_max_queries_per_s": 300.0,
        "worker_orders_per_s": 10.0,
        "cache_ttl_s": 0.0,  # no cache: every product view is a query
        "response_s": 0.05,
    }
    return Measured(**{**data, **changes})


def test_one_row_recomputed_by_hand() -> None:
    row = plan_row(model(), measured(), 100_000)
    # 100,000 users × 4 sessions × 27 requests / 86,400 s = 125 req/s; × 2 at the peak
    assert row.peak_rps == pytest.approx(250.0)
    assert row.orders_per_s == pytest.approx(25.0)  # 10 % orders
    assert row.concurrent_users == pytest.approx(250 * 10.05)  # Little: X·(R + Z)
    # 250 × 1.2 = 300 req/s; X(N) = 100N / (1 + 0.1(N − 1)): X(3) = 250, X(4) = 307.7
    assert row.api_target_rps == pytest.approx(300.0)
    assert row.api_replicas == 4
    assert row.api_replicas_linear == 3  # 300 / 100
    assert row.workers == 3  # 25 × 1.2 / 10
    assert row.db_connections == 10 * 4 + 2 * 3  # 46 of 100 − 3 reserved
    assert row.connection_limit == 97
    # queries: 150 product views (no cache) + 50 list + 25 checks + 25 orders × 3 = 300
    assert row.hit_ratio_ttl == 0.0
    assert row.db_queries_per_s == pytest.approx(300.0)
    # under 300 / 1.2 = 250 q/s: 150 × (1 − h) + 150 ≤ 250, h ≥ 1/3
    assert row.hit_ratio_needed == pytest.approx(1 / 3)
    limits = {lim.component: lim.utilisation for lim in row.limits}
    assert limits[QUERIES] == pytest.approx(300 * 1.2 / 300)  # 1.2: breaks
    assert limits[CONNECTIONS] == pytest.approx(46 / 97)
    assert (row.next_to_break, row.breaks, row.fix) == (QUERIES, True, FIX_CACHE)
    assert row.basis[0].startswith("peak req/s: 100,000 users × 4 sessions × 27 requests")


def test_a_cache_lowers_the_queries() -> None:
    row = plan_row(model(), measured(cache_ttl_s=30.0), 100_000)
    assert 0.8 < row.hit_ratio_ttl < 1.0  # 150 views/s over 1,000 products, TTL 30 s
    assert row.db_queries_per_s == pytest.approx(150 * (1 - row.hit_ratio_ttl) + 150)


def test_the_connection_ceiling_appears_where_the_pools_outgrow_max_connections() -> None:
    # linear scaling at 100 req/s a replica, 10 connections each, 100 allowed, no workers'
    # pools: 10 replicas fit, the 11th does not. Target = users × 108 / 86,400 × 2 × 1.2
    # = 0.003 req/s a user: 11 replicas from 1,000 / 0.003 = 333,334 users.
    m = measured(usl=LINEAR, worker_db_pool=0, pg_max_connections=103, db_max_queries_per_s=1e9)
    p = plan(model(users=[100_000, 333_000, 334_000, 1_000_000]), m)
    over = [row.users for row in p.rows if row.next_to_break == CONNECTIONS and row.breaks]
    assert over == [334_000, 1_000_000]
    assert p.rows[1].db_connections == 100
    assert p.rows[2].fix == FIX_CONNECTIONS
    ceiling = {c.component: c.users for c in p.ceilings}
    assert ceiling[CONNECTIONS] is not None
    assert 333_334 <= ceiling[CONNECTIONS] <= math.ceil(333_334 * 1.002)


def test_past_the_usl_peak_no_replica_count_is_enough() -> None:
    peaked = UslFit(sigma=0.0, kappa=0.01, lam=100.0, r_squared=1.0, points=())  # N* = 10
    row = plan_row(model(), measured(usl=peaked, db_max_queries_per_s=1e9), 1_000_000)
    assert row.api_replicas is None
    assert row.db_connections is None
    assert row.next_to_break == "API tier" and row.breaks
    assert "past the USL ceiling" in row.fix
