"""The report draws the DB pool plot for a run whose pool ran full, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.report import read_run
from lab.report.plots import render_plots
from lab.run.timeseries import COLUMNS, write_timeseries
from lab.run.verdict import PhaseResult, Verdict

STARTED = 1_764_000_000.0


def run_folder(run_dir: Path, *, in_use: float) -> Path:
    """Two phases of 30 s; the pool (4) holds ``in_use`` connections in the second."""
    run_dir.mkdir(parents=True)
    phases = [
        PhaseResult(name="light", narrative="", start=STARTED, end=STARTED + 30, rps=30.0),
        PhaseResult(name="heavy", narrative="", start=STARTED + 30, end=STARTED + 60, rps=136.0),
    ]
    Verdict(
        scenario="db-pool",
        title="pool",
        concept="",
        profile="quick",
        runtime="native",
        started=STARTED,
        ended=STARTED + 60,
        slo_seconds=0.25,
        phases=phases,
    ).write(run_dir / "verdict.json")
    grid = [STARTED + s for s in range(61)]
    heavy = [s >= 30 for s in range(61)]
    columns: dict[str, list[float | None]] = {c.name: [None] * len(grid) for c in COLUMNS}
    columns["api_requests_rate10s"] = [136.0 if h else 30.0 for h in heavy]
    columns["db_pool_max_size"] = [4.0] * len(grid)
    columns["db_pool_in_use"] = [in_use if h else 1.0 for h in heavy]
    columns["db_pool_waiters"] = [6.0 if h and in_use >= 4 else 0.0 for h in heavy]
    columns["api_slot_waiters"] = [0.0] * len(grid)
    write_timeseries(run_dir / "timeseries.csv", grid, columns)
    return run_dir


@pytest.mark.parametrize(("in_use", "drawn"), [(4.0, True), (3.0, False)])
def test_pool_plot_only_when_the_pool_ran_full(tmp_path: Path, in_use: float, drawn: bool) -> None:
    run = read_run(run_folder(tmp_path / "20251124-160000-db-pool", in_use=in_use))
    plots = {p.name: p for p in render_plots(run, tmp_path / "plots")}
    assert ("db-pool" in plots) is drawn
    if drawn:
        assert plots["db-pool"].has_data and plots["db-pool"].path.stat().st_size > 10_000
