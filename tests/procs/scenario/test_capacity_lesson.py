"""`lab capacity --profile quick` end to end on a native lab: knees at seven replica counts,
the USL fitted and checked on the held-out count, a pgbench probe, one worker's rate, and
the plan for 1k → 10M users in the terminal, summary.md, capacity.json and two plots.
Then `lab capacity plan` plans again from the same run for another user model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.labtools import LAB_CLI, LabHome, doubtful_phases, unexplained_failures

USERS = Path(__file__).parents[3] / "scenarios" / "capacity" / "users.yaml"
# the knees reach 75 % of the design only where the machine's two cores had room; the fit
# is only as good as its knees (its logic is tested on a recorded run: tests/unit/capacity)
CAPACITY = frozenset({"knee-*: the knee at least 75 %*", "the USL fits the knees*", "held out*"})


def lab(home: LabHome, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LAB_CLI, *args], env=home.env(), capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(700)
def test_lab_capacity_measures_fits_and_plans(lab_home: LabHome, tmp_path: Path) -> None:
    model = yaml.safe_load(USERS.read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**model, "peak_to_average": 0.5}, sort_keys=False))
    refused = lab(lab_home, "capacity", "--profile", "quick", "--users", str(bad))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "peak_to_average (line" in refused.stderr, refused.stderr  # named, with its line
    assert not list(lab_home.runs.glob("*-capacity-plan"))  # and nothing started

    done = lab(lab_home, "capacity", "--profile", "quick", "--down", timeout=600)
    output = done.stdout[-8000:] + done.stderr[-3000:]
    (folder,) = lab_home.runs.glob("*-capacity-plan")
    verdict = json.loads((folder / "verdict.json").read_text())
    assert done.returncode == (0 if verdict["passed"] else 1), output
    assert not unexplained_failures(verdict, CAPACITY), output

    record = verdict["capacity"]
    counts = [n for n, _ in record["points"]]
    assert counts == [1, 2, 3, 4, 5, 6, 8], record["points"]
    doubtful = doubtful_phases(verdict)
    for n, knee in record["points"]:  # never above the design's N × 25 req/s (+5 %)
        assert knee <= 1.05 * 25 * n, (n, knee)
        if f"knee-{n}" not in doubtful:  # and near it where the machine had room
            assert 0.7 * 25 * n <= knee, (n, knee, verdict["saturation"])
    measured = record["measured"]
    assert 10 <= measured["worker_orders_per_s"] <= 22, measured  # 1 / (50 ms + its costs)
    assert measured["db_max_queries_per_s"] > 500, measured  # pgbench, PK reads
    assert measured["pg_max_connections"] >= 100, measured

    found = json.loads((folder / "capacity.json").read_text())
    assert found["held_out"]["n"] == 8, found["held_out"]
    if not any(phase.startswith("knee-") for phase in doubtful):
        assert found["held_out"]["error"] <= 0.15, found["held_out"]
    rows = found["plan"]["rows"]
    assert [r["users"] for r in rows] == [1_000, 10_000, 100_000, 1_000_000, 10_000_000]
    assert all(r["next_to_break"] for r in rows)
    for name in ("usl.png", "capacity.png"):
        assert (folder / "plots" / name).stat().st_size > 10_000, name
    summary = (folder / "summary.md").read_text()
    assert "## Capacity: knees, the USL, and the plan to millions" in summary
    assert "| 10,000,000 |" in summary and "**Try next**" in summary
    assert "10,000,000" in done.stdout and "breaks at" in done.stdout  # the plan, printed

    # the same measurements, ten times the sessions: more replicas for the same users
    busier = tmp_path / "busier.yaml"
    busier.write_text(yaml.safe_dump({**model, "sessions_per_user_per_day": 20}))
    again = lab(lab_home, "capacity", "plan", folder.name, "--users", str(busier), "--json")
    assert again.returncode == 0, again.stderr
    replanned = {r["users"]: r for r in json.loads(again.stdout)["rows"]}
    before, after = rows[1], replanned[10_000]  # 18 req/s with headroom: one replica's work
    assert after["peak_rps"] == pytest.approx(10 * before["peak_rps"])
    assert after["api_replicas_linear"] > before["api_replicas_linear"]
    assert before["api_replicas"] is not None, before["basis"]
    if after["api_replicas"] is None:  # past the fitted USL's ceiling: the API tier breaks
        api = next(lim for lim in after["limits"] if lim["component"] == "API tier")
        assert api["utilisation"] > 1, (api, after["basis"])
    else:
        assert after["api_replicas"] > before["api_replicas"], after["basis"]
