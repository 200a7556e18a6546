"""One row of the plan recomputed by hand from a recorded `lab capacity --profile quick` run.

``tests/data/capacity/record.json`` is ``verdict.json``'s ``capacity`` of a real run
(20261128-065042-capacity-plan, native, these machines): the knees at 1-8 replicas, the
pgbench probe, one worker's rate, the knobs, the user model. ``planned.json`` is what
that run's report wrote (the fit, the held-out check, the rows). The row for 1,000,000
users is rebuilt here with plain arithmetic, so a change to the plan's code that moves a
number shows up against numbers a reader can redo on paper.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lab.capacity.model import parse_user_model
from lab.capacity.record import from_record
from lab.run.capacity import CapacityRecord

DATA = Path(__file__).parents[2] / "data" / "capacity"
RECORD = json.loads((DATA / "record.json").read_text())
PLANNED = json.loads((DATA / "planned.json").read_text())


def test_the_1m_users_row_follows_from_the_runs_measurements_by_hand() -> None:
    m, users = RECORD["measured"], RECORD["user_model"]
    planned = from_record(CapacityRecord.from_json(RECORD))
    row = next(r for r in planned.plan.rows if r.users == 1_000_000)

    # demand: a day's requests over 86,400 s, times the peak factor
    peak = 1_000_000 * users["sessions_per_user_per_day"] * users["requests_per_session"]
    peak = peak / 86_400 * users["peak_to_average"]
    assert peak == pytest.approx(1388.89, abs=0.01)  # 1M × 2 × 20 / 86,400 × 3
    assert row.peak_rps == pytest.approx(peak)
    orders = peak * users["mix"]["order"]
    assert row.orders_per_s == pytest.approx(orders)

    # API replicas: the fewest N whose USL throughput reaches the peak with headroom
    target = peak * (1 + users["headroom"])
    s, k, lam = planned.fit.sigma, planned.fit.kappa, planned.fit.lam
    n = 1
    while lam * n / (1 + s * (n - 1) + k * n * (n - 1)) < target:
        n += 1
    assert row.api_replicas == n
    assert row.api_replicas_linear == math.ceil(target / m["knee_rps_per_replica"])  # 76

    # workers, then connections: pool × replicas + 2 per worker, against max_connections
    workers = math.ceil(orders * (1 + users["headroom"]) / m["worker_orders_per_s"])
    assert row.workers == workers
    connections = m["api_db_pool"] * n + 2 * workers
    assert row.db_connections == connections
    limit = m["pg_max_connections"] - 3  # superuser_reserved_connections
    assert row.connection_limit == limit
    assert connections > limit and row.next_to_break == "Postgres connections"
    assert row.breaks and "PgBouncer" in row.fix

    # and the run's own report said the same
    recorded = next(r for r in PLANNED["rows"] if r["users"] == 1_000_000)
    assert (recorded["api_replicas"], recorded["db_connections"], recorded["workers"]) == (
        n,
        connections,
        workers,
    )


def test_the_recorded_fit_is_rebuilt_and_its_held_out_point_predicted() -> None:
    planned = from_record(CapacityRecord.from_json(RECORD))
    fit = PLANNED["fit"]
    assert planned.fit.lam == pytest.approx(fit["lambda"], rel=1e-3)
    assert planned.fit.sigma == pytest.approx(fit["sigma"], abs=1e-4)
    assert planned.validation is not None and planned.validation.held_out_n == 8
    assert planned.validation.error == pytest.approx(PLANNED["held_out"]["error"], abs=1e-3)
    assert planned.held_out_within  # 190.5 req/s measured at N = 8
    # λ is one replica's knee; the knees are linear within the noise, and the fit says so
    assert planned.fit.lam == pytest.approx(RECORD["measured"]["knee_rps_per_replica"], rel=0.05)
    assert planned.fit.sigma_within_noise
    assert any("cannot tell it from 0" in a for a in planned.plan.assumptions)


def test_another_user_model_plans_from_the_same_measurements() -> None:
    record = CapacityRecord.from_json(RECORD)
    busier = {**record.user_model, "sessions_per_user_per_day": 20}
    planned = from_record(record, parse_user_model(busier))
    base = from_record(record)
    assert planned.plan.rows[1].peak_rps == pytest.approx(10 * base.plan.rows[1].peak_rps)
    assert planned.measured == base.measured  # nothing re-measured
