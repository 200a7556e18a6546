"""The capacity plot is written, with and without a USL peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.capacity.model import load_user_model
from lab.capacity.plan import plan
from lab.capacity.usl import UslFit
from lab.report.capacity_plot import draw_capacity
from tests.capacitytools import measured

PROJECT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("kappa", [0.0001, 0.0])
def test_the_plot_file_is_written(tmp_path: Path, kappa: float) -> None:
    model = load_user_model(PROJECT / "scenarios" / "capacity" / "users.yaml")
    fitted = UslFit(sigma=0.02, kappa=kappa, lam=95.0, r_squared=0.99, points=())
    found = measured(fitted)
    path = draw_capacity(plan(model, found), model, found, tmp_path / "plots" / "cap.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000
