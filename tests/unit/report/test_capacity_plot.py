"""The capacity plot is written, with and without a USL peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.capacity.model import Measured, load_user_model
from lab.capacity.plan import plan
from lab.capacity.usl import UslFit
from lab.report.capacity_plot import draw_capacity

PROJECT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kappa", [0.0001, 0.0])
def test_the_plot_file_is_written(tmp_path: Path, kappa: float) -> None:
    model = load_user_model(PROJECT / "scenarios" / "capacity" / "users.yaml")
    fitted = UslFit(sigma=0.02, kappa=kappa, lam=95.0, r_squared=0.99, points=())
    measured = Measured(
        usl=fitted,
        knee_rps_per_replica=94.6,
        api_db_pool=8,
        pg_max_connections=300,
        db_max_queries_per_s=3000.0,
        worker_orders_per_s=50.0,
        cache_ttl_s=30.0,
    )
    path = draw_capacity(plan(model, measured), model, measured, tmp_path / "plots" / "cap.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
