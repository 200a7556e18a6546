"""The knee search on its own: the ladder up from below the prediction, the bisection,
the confirmation, and a knee that misses its prediction (fake lab, fake clock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.run.reader import read_verdict
from lab.scenario.knee import bisect_point, generator_late, ladder
from lab.scenario.loader import load_scenario
from lab.scenario.runner import ScenarioRunner
from lab.scenario.step_model import FindKneeStep
from tests.unit.scenario.scenario_fakes import FakeClock, FakeLab, World

PROJECT = Path(__file__).resolve().parents[3]
SCALE_OUT = PROJECT / "scenarios" / "scale-out.yaml"


def knee_step(**fields: object) -> FindKneeStep:
    return FindKneeStep.model_validate({"kind": "find_knee", "hold": 5, **fields})


def test_the_ladder_starts_below_the_prediction_and_stops_at_stop() -> None:
    step = knee_step(start=0.5, step=0.25, stop=1.5)
    assert ladder(step, 100.0, whole=False) == [50.0, 75.0, 100.0, 125.0, 150.0]
    # by users (Little at the SLO: 100 req/s × 0.25 s = 25 users), whole users only
    assert ladder(step, 25.0, whole=True) == [12.0, 18.0, 25.0, 31.0, 37.0]


def test_bisection_halves_until_the_resolution() -> None:
    assert bisect_point(100.0, 125.0, 5.0, whole=False) == 112.5
    assert bisect_point(100.0, 104.0, 5.0, whole=False) is None  # close enough
    assert bisect_point(25.0, 26.0, 0.5, whole=True) is None  # no whole user between
    assert bisect_point(0.0, 50.0, 5.0, whole=False) == 25.0  # the first step was bad


def test_a_bad_step_model_is_refused() -> None:
    with pytest.raises(ValueError, match="stop must be above start"):
        knee_step(start=0.8, stop=0.5)


def run_scale_out(tmp_path: Path, world: World) -> FakeLab:
    lab = FakeLab(tmp_path, world)
    ScenarioRunner(lab, load_scenario(SCALE_OUT, profile="quick"), clock=world.clock).run()
    return lab


def test_a_replica_slower_than_its_knobs_misses_the_prediction(tmp_path: Path) -> None:
    # the knobs say 100 req/s, the replica serves 70: the knee is found from below
    # (50 good, 75 bad, bisected to 68.8) and the prediction check fails
    world = World(FakeClock(), replica_rps=70.0)
    lab = run_scale_out(tmp_path, world)
    saved = read_verdict(lab.reports[0] / "verdict.json")
    knee = saved.knee
    assert knee is not None and knee.found
    assert [(s.kind, s.rate, s.good) for s in knee.steps] == [
        ("step", 50.0, True),
        ("step", 75.0, False),
        ("bisect", 62.5, True),
        ("bisect", 68.8, True),
        ("bisect", 71.9, False),
        ("confirm", 68.8, True),
    ]
    assert knee.rps == pytest.approx(68.8, abs=0.1)
    assert knee.prediction_error == pytest.approx(0.312, abs=0.002)
    checks = {c.name: c.passed for c in saved.checks}
    assert checks["knee throughput within 15% of the prediction"] is False
    assert checks["find-knee: 1 replica: 4 slots / 40 ms = 100 req/s at the knee"] is False
    # the knee's rate drives the next phases: 2 × and 4 × the 68.8 req/s found
    assert [r for r in lab.load.rates if r in (137.6, 275.2)] == [137.6, 275.2]
    assert checks["throughput scales with replicas"] is True


def test_no_knee_when_the_slo_never_breaks(tmp_path: Path) -> None:
    world = World(FakeClock(), replica_rps=1000.0)  # far beyond stop × prediction
    lab = run_scale_out(tmp_path, world)
    saved = read_verdict(lab.reports[0] / "verdict.json")
    assert saved.knee is not None and not saved.knee.found
    assert [s.kind for s in saved.knee.steps] == ["step"] * 5  # up to 150 req/s, no bisection
    checks = {c.name: c.passed for c in saved.checks}
    assert checks["knee found on one replica, from below"] is False
    assert checks["the knee held when confirmed"] is False


def test_a_knee_that_breaks_when_held_is_searched_again_below(tmp_path: Path) -> None:
    # from 97 % of capacity the queue drains too slowly: an 8 s probe looks fine, the
    # 14 s confirmation does not, so the search bisects below it and confirms again
    world = World(FakeClock(), fragile_above=0.97)
    lab = run_scale_out(tmp_path, world)
    knee = read_verdict(lab.reports[0] / "verdict.json").knee
    assert knee is not None and knee.found and knee.confirmed
    confirms = [(s.rate, s.good) for s in knee.steps if s.kind == "confirm"]
    assert confirms[0] == (100.0, False) and confirms[-1][1] is True
    assert knee.rate is not None and 75.0 <= knee.rate <= 97.0


BY_USERS = """\
name: users-knee
title: A knee by users
concept: closed loop
topology: {work: io, work_ms: 40, concurrency: 4, replicas: {api: 1, worker: 1}}
phases:
  - name: find-knee
    narrative: more users
    steps:
      - {kind: find_knee, by: users, start: 0.5, step: 0.25, stop: 1.5, hold: 8, confirm: 12}
checks:
  - {name: knee users, knee: users, op: ">", threshold: 0}
"""


def test_a_knee_by_users_starts_at_littles_law_below_the_slo(tmp_path: Path) -> None:
    # 100 req/s × the 0.25 s SLO = 25 users predicted; the fake's closed loop of 4 req/s
    # per user crosses the SLO past 30 users
    path = tmp_path / "users-knee.yaml"
    path.write_text(BY_USERS, encoding="utf-8")
    world = World(FakeClock())
    lab = FakeLab(tmp_path, world)
    ScenarioRunner(lab, load_scenario(path), clock=world.clock).run()
    knee = read_verdict(lab.reports[0] / "verdict.json").knee
    assert knee is not None and knee.found and knee.confirmed and knee.by == "users"
    assert [(s.kind, s.users, s.good) for s in knee.steps] == [
        ("step", 12, True),
        ("step", 18, True),
        ("step", 25, True),
        ("step", 31, False),
        ("bisect", 28, True),
        ("bisect", 29, True),
        ("bisect", 30, True),
        ("confirm", 30, True),
    ]
    assert all(s.rate is None for s in knee.steps) and lab.load.rates[:4] == [None] * 4


def test_kept_up_allows_the_swing_of_random_arrivals() -> None:
    from lab.scenario.knee import kept_up

    # 85 req/s over 3 s: 255 expected, 3√255 ≈ 48 allowed short (a Poisson swing)
    assert kept_up(85.0, 73.0, 3.0)
    assert not kept_up(85.0, 60.0, 3.0)
    # over a long window the 10 % margin rules: 1,000 expected, 100 allowed
    assert kept_up(100.0, 91.0, 10.0) and not kept_up(100.0, 89.0, 10.0)
    assert not kept_up(50.0, None, 3.0)


def test_generator_late_only_when_the_server_kept_within_the_threshold() -> None:
    # 100 req/s for 10 s = 1000 arrivals; 2 % of them is the limit
    assert generator_late(100.0, 30.0, 10.0, server_p95=0.08, threshold=0.25)
    assert not generator_late(100.0, 10.0, 10.0, server_p95=0.08, threshold=0.25)
    # the server itself was past the threshold: lateness is the system's doing
    assert not generator_late(100.0, 300.0, 10.0, server_p95=0.40, threshold=0.25)
    assert not generator_late(100.0, None, 10.0, server_p95=0.08, threshold=0.25)
    assert not generator_late(100.0, 300.0, 10.0, server_p95=None, threshold=0.25)
