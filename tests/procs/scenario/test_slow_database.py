"""The slow-database lesson end to end: both variants (`--profile quick-undefended`, then
`--profile quick`) on a native lab, and `lab compare` of the two runs.

The same phases and checks run in both; only the defences differ (deadline, breaker,
bounded wait for a slot). The test proves the contrast both ways:

- undefended, +200 ms on the Postgres link collapses the whole shop: exactly the
  fault's three checks fail, with goodput near 0 and p99 in seconds (the cascade
  really happened, so those checks can fail), while every other check passes;
- defended, the same fault leaves the cache hits within the SLO: every check passes;
- `lab compare` lines the two runs up check by check and phase by phase.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.report.compare import compare_runs
from lab.scenario.loader import load_scenario
from lab.scenario.step_model import CheckStep
from tests.labtools import LAB_CLI, PROJECT, LabHome, run_scenario

SCENARIO = "slow-database"
FAULT_PHASE = "slow-db"


def fault_checks() -> set[str]:
    """The names of the checks measured under the fault, read from the file."""
    scenario = load_scenario(PROJECT / "scenarios" / f"{SCENARIO}.yaml").scenario
    (phase,) = [p for p in scenario.phases if p.name == FAULT_PHASE]
    return {s.name for s in phase.steps if isinstance(s, CheckStep)}


@pytest.mark.procs
@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_defences_bound_a_slow_database(lab_home: LabHome) -> None:
    under_fault = fault_checks()
    assert len(under_fault) == 3

    undefended = run_scenario(lab_home, SCENARIO, "quick-undefended", timeout=240)
    bare, bare_out, bare_dir = undefended.verdict, undefended.output, undefended.folder
    bare_checks = undefended.checks()
    failed = {name for name, c in bare_checks.items() if not c["passed"]}
    assert failed == under_fault, bare_out  # the cascade, and nothing else, failed
    fault = next(p for p in bare["phases"] if p["name"] == FAULT_PHASE)
    goodput = next(c for n, c in bare_checks.items() if n in under_fault and "goodput" in n)
    p99 = next(c for n, c in bare_checks.items() if n in under_fault and "p99" in n)
    assert goodput["value"] is not None and goodput["value"] < 10, goodput  # collapse
    assert p99["value"] is not None and p99["value"] >= 2.0, p99  # waits in seconds
    assert fault["rps"] is not None and fault["rps"] < 50, fault  # every route slowed

    defended = run_scenario(lab_home, SCENARIO, timeout=240)
    guarded_dir = defended.folder
    assert defended.verdict["passed"], defended.output
    assert set(defended.checks()) == set(bare_checks)  # one file, same checks

    compared = subprocess.run(
        [*LAB_CLI, "compare", str(bare_dir), str(guarded_dir)],
        env=lab_home.env(COLUMNS="250"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert compared.returncode == 0, compared.stdout + compared.stderr
    page = Path(compared.stdout.strip().splitlines()[-1])
    assert page.is_file() and page.parent == lab_home.runs, compared.stdout
    comparison = compare_runs(bare_dir, guarded_dir)
    flipped = {d.name for d in comparison.checks if d.a and d.b and not d.a.passed and d.b.passed}
    assert flipped == under_fault, comparison.check_rows()
    assert [d.name for d in comparison.phases] == ["steady", FAULT_PHASE, "recovery", "drain"]
