"""A capacity run's report: rebuilt from ``verdict.capacity`` alone (a recorded run's),
with the knees, the fit, the held-out check, the plan table, capacity.json, the two
plots and the opening every report has (predictions, try next, next lesson)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from lab.report import read_run, render_run
from lab.run.capacity import CapacityRecord
from lab.run.verdict import Knee, Verdict
from tests.unit.report.test_report import write_run_folder

RECORD = Path(__file__).parents[2] / "data" / "capacity" / "record.json"


def capacity_run(run_dir: Path) -> Verdict:
    base = write_run_folder(run_dir)
    record = CapacityRecord.from_json(json.loads(RECORD.read_text()))
    knees = [
        Knee(True, 0, x, 0.166, replicas=n, phase=f"knee-{n}", by="rate", rate=x)
        for n, x in record.points
    ]
    verdict = dataclasses.replace(
        base,
        scenario="capacity-plan",
        knee=knees[0],
        knees=knees,
        capacity=record,
        try_next="Plan for other users: `lab capacity plan RUN --users FILE`.",
        next_lesson=None,
    )
    verdict.write(run_dir / "verdict.json")
    return verdict


def test_a_capacity_run_reports_the_fit_and_the_plan(tmp_path: Path) -> None:
    run_dir = tmp_path / "20261128-065042-capacity-plan"
    verdict = capacity_run(run_dir)
    assert Verdict.from_json(json.loads((run_dir / "verdict.json").read_text())) == verdict
    render_run(run_dir)

    summary = (run_dir / "summary.md").read_text()
    assert "## Capacity: knees, the USL, and the plan to millions" in summary
    assert "| 8 (held out) | 190.5 | 200 |" in summary  # measured, the design's N × 25
    assert "held out N = 8: measured 190.5 req/s" in summary
    assert "| 1,000,000 | 1,388.9 |" in summary and "Postgres connections **breaks**" in summary
    assert "**Try next**: Plan for other users" in summary
    assert "the last one on the path" in summary  # capacity-plan ends the path

    found = json.loads((run_dir / "capacity.json").read_text())
    assert [r["users"] for r in found["plan"]["rows"]][-1] == 10_000_000
    assert found["held_out"]["n"] == 8 and found["held_out"]["error"] < 0.15
    for name in ("usl.png", "capacity.png"):
        assert (run_dir / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    html = (run_dir / "report.html").read_text()
    assert "Capacity: knees, the USL, and the plan to millions" in html
    assert html.count("data:image/png;base64,") >= 2
    assert "<code>lab capacity plan RUN --users FILE</code>" in html
    assert read_run(run_dir).verdict.knees[-1].replicas == 8
