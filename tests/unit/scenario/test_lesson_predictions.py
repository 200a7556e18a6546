"""Predictions from the knobs and their comparison with a phase's measures; the rate
steps a scenario sends to the load generator; the lesson as the report shows it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lab.report import render_run
from lab.run.reader import read_events, read_verdict
from lab.run.verdict import ClientView, PhaseResult
from lab.scenario import predict
from lab.scenario.lesson import Prediction
from lab.scenario.loader import load_scenario
from lab.scenario.model import Topology
from lab.scenario.runner import ScenarioRunner
from tests.unit.scenario.scenario_fakes import FakeClock, FakeLab, World

PROJECT = Path(__file__).resolve().parents[3]
LATENCY_VS_LOAD = PROJECT / "scenarios" / "latency-vs-load.yaml"


def test_capacity_is_slots_over_work_time() -> None:
    one = predict.capacity(Topology(work="io", work_ms=40, concurrency=4), 1)
    assert (one.rps, one.text) == (100.0, "1 replica: 4 slots / 40 ms = 100 req/s")
    four = predict.capacity(Topology(work="io", work_ms=40, concurrency=4), 4)
    assert four.rps == 400.0 and four.text.endswith("= 400 req/s")
    cpu = predict.capacity(Topology(work="cpu", work_ms=5, concurrency=4), 2)
    assert cpu.rps == 400.0 and "1 core / 5 ms" in cpu.text  # one process, one core


def test_expressions_are_arithmetic_over_known_names_only() -> None:
    names = {"capacity": 100.0, "work_s": 0.04, "rps": None}
    assert predict.evaluate_expr("0.8 * capacity", names) == pytest.approx(80.0)
    assert predict.evaluate_expr("max(2 * work_s, 0.1)", names) == 0.1
    assert predict.evaluate_expr("capacity / rps", names) is None  # no data, no number
    with pytest.raises(ValueError, match="only arithmetic"):
        predict.evaluate_expr("capacity if rps else 0", names)
    with pytest.raises(ValueError, match="unknown name 'cores'"):
        predict.evaluate_expr("cores * 2", names)
    with pytest.raises(ValueError, match=r"only min\(\) and max\(\) may be called"):
        predict.evaluate_expr("open('x')", names)


def phase(**fields: object) -> PhaseResult:
    return PhaseResult(name="p", narrative="", start=0.0, **fields)  # type: ignore[arg-type]


def test_a_prediction_passes_within_its_tolerance_and_fails_outside() -> None:
    within = Prediction(text="100 req/s", measure="rps", expr="capacity", tolerance=0.15)
    names = {"capacity": 100.0}
    assert predict.evaluate(within, names, phase(rps=88.0)).passed
    missed = predict.evaluate(within, names, phase(rps=80.0))
    assert not missed.passed and missed.detail == "off by 20% (within 15% wanted)"
    bound = Prediction(text="under the SLO", measure="client_p95", value=0.25, op="<")
    assert predict.evaluate(bound, {}, phase(client=ClientView(hdr_p95=0.2))).passed
    assert not predict.evaluate(bound, {}, phase(client=ClientView(hdr_p95=0.3))).passed
    nothing = predict.evaluate(bound, {}, phase())
    assert not nothing.passed and nothing.detail == "no data for client_p95"


def test_littles_law_reads_the_phase_measures() -> None:
    little = Prediction(text="L = λW", measure="in_flight", expr="client_rps * mean_latency")
    measured = phase(
        in_flight=3.3, mean_latency=0.042, client=ClientView(hdr_count=800, hdr_seconds=10.0)
    )
    names = predict.names_for(Topology(), 0.25, measured, None)
    result = predict.evaluate(little, names, measured)
    assert result.predicted == pytest.approx(3.36) and result.passed


def test_a_growing_queue_is_judged_by_its_slope_not_where_it_started() -> None:
    """Over a 9 s window the thirds' ends lie 6 s apart: a p95 from 4 s to 7 s climbs
    0.5 s per second. The same climb from a queue left over (7 s to 10 s) is the same
    slope, where a ratio would read 1.43 instead of 1.75; a flat p95 is no climb."""
    climb = Prediction(
        text="p95 climbs", measure="client_p95_slope", expr="0.5 * (1 - rps / rate)", op=">="
    )
    for early, late, passed in ((4.0, 7.0, True), (7.0, 10.0, True), (7.0, 7.2, False)):
        measured = phase(
            rps=50.0, client=ClientView(hdr_p95_early=early, hdr_p95_late=late, hdr_seconds=9.0)
        )
        result = predict.evaluate(climb, {"rate": 100.0, "rps": 50.0}, measured)
        assert result.predicted == pytest.approx(0.25)
        assert result.passed is passed, (early, late, result)
    assert measured.measure("client_p95_slope") == pytest.approx(0.2 / 6)


SCENARIO = """\
name: rates
title: Rate steps
concept: open and closed loops
topology: {work: io, work_ms: 40, concurrency: 4, replicas: {api: 1, worker: 1}}
settle: 2
phases:
  - name: open
    narrative: an open loop
    steps:
      - {kind: load, rate: 60, mix: {browse: 50, list: 50, order: 0, check: 0}, skew: 0.5,
         ramp: 5, arrivals: poisson}
      - {kind: hold, duration: 10}
  - name: closed
    narrative: a closed loop that keeps the mix and skew
    steps:
      - {kind: load, users: 3, think_time: 0.5}
      - {kind: hold, duration: 10}
  - name: pool
    narrative: an open loop with its own pool
    steps:
      - {kind: load, rate: 90, users: 400}
      - {kind: hold, duration: 10}
  - name: too-few
    narrative: an open loop whose pool cannot send the rate
    steps:
      - {kind: load, rate: 80, users: 2}
      - {kind: hold, duration: 10}
"""


def test_rate_steps_reach_the_load_generator_with_their_traffic(tmp_path: Path) -> None:
    path = tmp_path / "rates.yaml"
    path.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    world = World(FakeClock())
    lab = FakeLab(tmp_path, world)
    ScenarioRunner(lab, load_scenario(path), clock=world.clock).run()
    load = lab.load
    # 60 req/s: a pool of rate × max(40 ms, SLO 250 ms) × 2 = 30 users; closed: 3 users
    assert load.swarms[:3] == [30, 3, 400] and load.rates[:3] == [60.0, None, 90.0]
    opened, closed, pooled = (t for t in load.traffic[:3] if t is not None)
    assert dict(opened.mix) == {"browse": 50, "list": 50, "order": 0, "check": 0}
    assert (opened.skew, opened.ramp_s, opened.arrivals, opened.think_time) == (
        0.5,
        5.0,
        "poisson",
        0.0,
    )
    # mix, skew and arrivals carry over to later steps; think time and ramp do not
    assert (dict(closed.mix), closed.skew, closed.think_time, closed.ramp_s) == (
        dict(opened.mix),
        0.5,
        0.5,
        0.0,
    )
    assert pooled.arrivals == "poisson" and pooled.think_time == 0.0
    # arrivals a pool too small could not send on time are counted and named, never hidden
    result = read_verdict(sorted((tmp_path / "runs").glob("*-rates"))[0] / "verdict.json")
    short = result.phase("too-few")
    assert short is not None and (short.late or 0) > 0 and (short.dropped or 0) > 0
    pooled_phase = result.phase("pool")
    assert pooled_phase is not None and (pooled_phase.late, pooled_phase.dropped) == (0, 0)
    run_dir = sorted((tmp_path / "runs").glob("*-rates"))[0]
    render_run(run_dir)
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert f"(too-few: {short.late:,} late, {short.dropped:,} dropped)" in summary
    assert f"| {short.late:,} / {short.dropped:,} |" in summary
    form = opened.form()
    assert form["weight_list"] == "50" and form["zipf_exponent"] == "0.5"
    assert form["rate_ramp_seconds"] == "5.0" and form["arrival_spacing"] == "poisson"


def test_latency_vs_load_narrates_every_phase_and_fails_what_the_fake_cannot_show(
    tmp_path: Path,
) -> None:
    """The fake world has no stall and no growing queue in a closed loop: the predictions
    that need them fail, the rest pass, and the report shows both, phase by phase."""
    world = World(FakeClock())
    lab = FakeLab(tmp_path, world)
    result = ScenarioRunner(lab, load_scenario(LATENCY_VS_LOAD, "quick"), clock=world.clock).run()
    verdict = result.verdict
    assert world.state_at(world.clock.time()).up["api"] == 1  # api-2 resumed, scaled back
    kinds = [e.kind for e in read_events(result.run_dir / "events.jsonl")]
    assert kinds.count("pause") == 2 and kinds.count("resume") == 2
    outcome = {(p.phase, p.measure): p.passed for ph in verdict.phases for p in ph.predictions}
    assert outcome[("open-10", "client_p95")] and outcome[("find-knee", "client_rps")]
    assert outcome[("closed-2", "in_flight")]  # L = λW holds in the fake by construction
    assert not outcome[("freeze-open", "client_p99")]  # the fake never stalls
    assert not outcome[("overload", "client_p95_slope")]  # nor lets an open queue grow
    assert not verdict.passed

    render_run(result.run_dir)
    summary = (result.run_dir / "summary.md").read_text(encoding="utf-8")
    assert "## Predicted vs measured" in summary
    assert (
        "| open-10 | ρ = 0.1: p95 about the 40 ms of work (under 2 × 40 ms) | client_p95" in summary
    )
    assert "| freeze-open | the 5 s stall shows in the open loop's p99 (above 1 s) |" in summary
    assert "### closed-1" in summary and "**Watch**: `lab:locust_requests:rate10s`" in summary
    assert "**A miss would mean**:" in summary
    assert "is at 100 req/s offered" in summary and "Predicted from the knobs: 1 replica" in summary
    assert (result.run_dir / "plots" / "latency-vs-load.png").is_file()  # p95 vs offered
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "Predicted vs measured" in html and html.count('<tr class="fail">') >= 3
