"""The scenario engine on a fake lab, load and metrics (a fake clock): whole scenario
files in milliseconds, pinning phases, knee, checks, verdict, restore on Ctrl-C, the
measured phase table and the knob check."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from lab.defaults import AUDIT_DRAIN_S
from lab.errors import LabStateError
from lab.run.reader import read_events, read_verdict
from lab.scenario.loader import LoadedScenario, load_scenario
from lab.scenario.runner import AUDIT_CHECK, RunResult, ScenarioRunner
from lab.scenario.step_model import STEP_KINDS
from lab.scenario.steps import HANDLERS
from lab.settings import Settings
from tests.unit.scenario.scenario_fakes import START, FakeClock, FakeLab, World

PROJECT = Path(__file__).resolve().parents[3]
SCALE_OUT = PROJECT / "scenarios" / "scale-out.yaml"
WORKER_FAILURE = PROJECT / "scenarios" / "worker-failure.yaml"
# worker-failure's PromQL checks, as a run that went to plan reads them
WORKER_GAUGES = {
    "max(lab:queue_depth)": 3.0,
    "deriv(lab:queue_depth[10s])": 9.0,
    "sum(shop_worker_orders_redelivered_total)": 1.0,
}
MATCHING_KNOBS = {
    "max(shop_concurrency_limit)": 4.0,
    "max(shop_work_seconds)": 0.040,
    'max(shop_work_mode{mode="io"})': 1.0,
    'max(shop_work_mode{mode="cpu"})': 0.0,
    "max(shop_cache_ttl_seconds)": 30.0,
    "max(shop_worker_work_seconds)": 0.020,
}


def quick(path: Path) -> LoadedScenario:
    return load_scenario(path, profile="quick")


def run(lab: FakeLab, loaded: LoadedScenario) -> RunResult:
    return ScenarioRunner(lab, loaded, clock=lab.world.clock).run()


def phase(result: RunResult, name: str) -> dict[str, object]:
    raw = json.loads((result.run_dir / "verdict.json").read_text())
    return next(p for p in raw["phases"] if p["name"] == name)


def test_every_step_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(STEP_KINDS)


def test_scale_out_runs_in_under_a_second_and_passes(tmp_path: Path) -> None:
    loaded = quick(SCALE_OUT)
    world = World(FakeClock())
    lab = FakeLab(tmp_path, world)
    started = time.perf_counter()
    result = run(lab, loaded)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{elapsed:.2f} s"

    verdict = result.verdict
    assert [p.name for p in verdict.phases] == loaded.scenario.phase_names()
    events = read_events(result.run_dir / "events.jsonl")
    assert [e.data["name"] for e in events if e.kind == "phase"] == loaded.scenario.phase_names()
    assert events[0].t >= START and all(a.t <= b.t for a, b in itertools.pairwise(events))

    # the knee from below, by rate: 50 %, 75 %, 100 % of the predicted 100 req/s are
    # within the SLO, 125 % is not (the fake's answers fall short of the arrivals), then
    # bisected down to 5 req/s (a drain at 25 req/s after each bad probe) and confirmed
    knee = verdict.knee
    assert knee is not None and knee.found and knee.by == "rate"
    assert (knee.rate, knee.rps, knee.confirmed) == (100.0, 100.0, True)
    assert (knee.predicted_rps, knee.prediction) == (
        100.0,
        "1 replica: 4 slots / 40 ms = 100 req/s",
    )
    assert [(s.kind, s.rate, s.good) for s in knee.steps] == [
        ("step", 50.0, True),
        ("step", 75.0, True),
        ("step", 100.0, True),
        ("step", 125.0, False),
        ("bisect", 112.5, False),
        ("bisect", 106.2, False),
        ("bisect", 103.1, False),
        ("confirm", 100.0, True),
    ]
    probes_and_drains = [50.0, 75.0, 100.0, 125.0, 25.0, 112.5, 25.0, 106.2, 25.0, 103.1, 25.0]
    # warm-up 20 req/s, the search, then the knee's rate × 2, × 4 and × 1, and the stop
    assert lab.load.rates == [20.0, *probes_and_drains, 100.0, 200.0, 400.0, 100.0, None]
    assert lab.load.swarms[-1] == 0
    prediction = verdict.phase("find-knee").predictions[0]  # type: ignore[union-attr]
    assert (prediction.predicted, prediction.measured, prediction.passed) == (100.0, 100.0, True)

    assert [(c.name, c.passed) for c in verdict.checks] == [
        ("find-knee: 1 replica: 4 slots / 40 ms = 100 req/s at the knee", True),
        (
            "find-knee: server p95 (API histogram) = client p95 (HDR, intended send time)"
            " within 10 %",
            True,
        ),
        ("scale-2: 2 replicas carry 2 × the knee's rate", True),
        ("scale-4: 4 replicas carry 4 × the knee's rate", True),
        ("p95 back under the SLO", True),
        (
            "recover: at a quarter of the capacity p95 is about the 40 ms of work, under the SLO",
            True,
        ),
        ("every accepted order processed", True),
        ("knee found on one replica, from below", True),
        ("knee throughput within 15% of the prediction", True),
        ("the knee held when confirmed", True),
        ("throughput scales with replicas", True),
        ("error ratio under 1%", True),
        (AUDIT_CHECK, True),
    ]
    assert verdict.passed and verdict.aborted is None
    assert verdict.audit is not None and verdict.audit.redelivered == 1
    assert lab.audits == [(verdict.started, AUDIT_DRAIN_S)]  # after the load, with a drain
    assert verdict.saturation is not None and verdict.saturation.resource is None
    assert result.report == result.run_dir / "report.html" and lab.reports == [result.run_dir]
    assert read_verdict(result.run_dir / "verdict.json") == verdict
    header = (result.run_dir / "timeseries.csv").read_text().splitlines()[0]
    assert header.startswith("t,api_requests_rate10s")
    assert lab.load.started and lab.load.closed


def test_scale_out_fails_when_something_shared_saturates(tmp_path: Path) -> None:
    world = World(FakeClock(), shared_cap_rps=250.0, load_cpu_per_user=0.006)
    result = run(FakeLab(tmp_path, world), quick(SCALE_OUT))
    verdict = result.verdict
    failed = [c for c in verdict.checks if not c.passed]
    assert [c.name for c in failed] == [
        "scale-4: 4 replicas carry 4 × the knee's rate",
        "throughput scales with replicas",
        "the load generator kept up",  # and the verdict says whose limit that was
    ]
    assert failed[0].value == pytest.approx(250, rel=0.01)  # of 400 asked
    assert failed[1].value == pytest.approx(2.5, rel=0.01)
    assert "scale-4" in failed[2].detail and "bottleneck" in failed[2].detail
    assert not verdict.passed and verdict.aborted is None
    # a pool of 200 users (400 req/s) at 0.006 cores each: the load generator ran full
    assert verdict.saturation is not None
    assert (verdict.saturation.resource, verdict.saturation.phase) == (
        "load generator CPU",
        "scale-4",
    )
    saved = json.loads((result.run_dir / "verdict.json").read_text())
    assert saved["passed"] is False and saved["saturation"]["resource"] == "load generator CPU"


def test_phase_table_reports_measured_users_and_replicas(tmp_path: Path) -> None:
    world = World(FakeClock())
    result = run(FakeLab(tmp_path, world, gauges=WORKER_GAUGES), quick(WORKER_FAILURE))
    # no load step in these phases: Locust still ran the steady pool; workers went down
    steady, one, crash = (phase(result, n) for n in ("steady", "one-worker", "worker-crash"))
    assert one["users"] == steady["users"] and one["replicas"] == {
        "api": 2,
        "worker": 1,
        "lb": 1,
        "postgres": 1,
    }
    assert crash["users"] == steady["users"]
    assert phase(result, "drain")["users"] == 0


def test_phase_users_are_what_the_load_generator_ran(tmp_path: Path) -> None:
    world = World(FakeClock(), max_users=120)
    lab = FakeLab(tmp_path, world)
    result = run(lab, quick(SCALE_OUT))
    assert 200 in lab.load.swarms  # the pool for four times the knee's rate
    assert phase(result, "scale-4")["users"] == 120


def test_ctrl_c_mid_phase_restores_the_lab_and_writes_the_run_folder(tmp_path: Path) -> None:
    # worker-failure quick: steady 10 s, then worker-2 is stopped for 20 s
    clock = FakeClock(interrupt_at=START + 25)
    world = World(clock)
    lab = FakeLab(tmp_path, world)
    runner = ScenarioRunner(lab, quick(WORKER_FAILURE), clock=clock)
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert runner.run_dir is not None
    verdict = read_verdict(runner.run_dir / "verdict.json")
    assert verdict.aborted == "interrupted (Ctrl-C)" and not verdict.passed
    assert verdict.phases[-1].name == "one-worker"
    assert world.state_at(clock.time()).up["worker"] == 2  # worker-2 started again
    kinds = [e.kind for e in read_events(runner.run_dir / "events.jsonl")]
    assert kinds[kinds.index("stop") :].count("start") == 1 and "restore" in kinds
    assert (runner.run_dir / "timeseries.csv").is_file() and lab.load.closed
    assert lab.audits == [(verdict.started, 0.0)]  # audited, without waiting for a drain
    assert verdict.audit is not None and verdict.audit.passed


def test_a_start_step_on_an_instance_that_runs_again_goes_on(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path, World(FakeClock()), gauges=WORKER_GAUGES)
    lab.healed.add("worker-2")  # as if a restart policy had brought it back
    result = run(lab, quick(WORKER_FAILURE))
    assert result.verdict.aborted is None and result.verdict.passed
    messages = [e.message for e in read_events(result.run_dir / "events.jsonl")]
    assert "worker-2 already running (restarted by its policy)" in messages


def test_a_failed_audit_fails_the_run(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path, World(FakeClock()), gauges=WORKER_GAUGES)
    lab.audit_passes = False
    verdict = run(lab, quick(WORKER_FAILURE)).verdict
    assert [c.name for c in verdict.checks if not c.passed] == [AUDIT_CHECK]
    assert not verdict.passed


def test_ctrl_c_puts_replicas_back(tmp_path: Path) -> None:
    clock = FakeClock(interrupt_at=START + 110)  # during scale-2 or scale-4
    world = World(clock)
    lab = FakeLab(tmp_path, world, running=True, gauges=MATCHING_KNOBS)
    with pytest.raises(KeyboardInterrupt):
        ScenarioRunner(lab, quick(SCALE_OUT), clock=clock).run()
    scaled = [e.data for e in read_events(lab.events.path) if e.kind == "scale"]
    assert scaled and scaled[-1]["service"] == "api"
    assert lab.replicas()["api"] == 1  # as the running lab had it


@pytest.mark.parametrize(
    ("gauge", "value", "phrase"),
    [
        ("max(shop_cache_ttl_seconds)", 5.0, "5 s of cache TTL (needs 30)"),
        ("max(shop_worker_work_seconds)", 0.1, "100 ms of work per order (needs 20)"),
        ("max(shop_work_seconds)", 0.02, "20 ms of work per API request (needs 40)"),
        ("max(shop_concurrency_limit)", 8.0, "an API concurrency of 8 (needs 4)"),
        ('max(shop_work_mode{mode="cpu"})', 1.0, "API work mode cpu (needs io)"),
    ],
)
def test_a_running_lab_with_other_knobs_is_refused(
    tmp_path: Path, gauge: str, value: float, phrase: str
) -> None:
    gauges = dict(MATCHING_KNOBS, **{gauge: value})
    if "cpu" in gauge:
        gauges['max(shop_work_mode{mode="io"})'] = 0.0
    lab = FakeLab(tmp_path, World(FakeClock()), running=True, gauges=gauges)
    with pytest.raises(LabStateError) as refused:
        run(lab, quick(SCALE_OUT))
    assert phrase in refused.value.message
    assert not (tmp_path / "runs").exists() and lab.load.swarms == []


def test_a_running_lab_with_the_scenarios_knobs_is_used(tmp_path: Path) -> None:
    lab = FakeLab(tmp_path, World(FakeClock()), running=True, gauges=MATCHING_KNOBS)
    result = run(lab, quick(SCALE_OUT))
    assert result.verdict.passed
    assert not [e for e in read_events(lab.events.path) if e.kind == "up"]


def test_the_knobs_are_checked_against_the_scenario_not_the_labs_settings(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path / ".lab", runs_dir=tmp_path / "runs", api_concurrency=8)
    gauges = dict(MATCHING_KNOBS, **{"max(shop_concurrency_limit)": 8.0})
    lab = FakeLab(tmp_path, World(FakeClock()), running=True, gauges=gauges, settings=settings)
    with pytest.raises(LabStateError, match="an API concurrency of 8 \\(needs 4\\)"):
        run(lab, quick(SCALE_OUT))


def test_the_load_generator_is_full_only_when_each_of_its_processes_is(tmp_path: Path) -> None:
    # the same 1.2 cores as above, over two Locust processes: 60 % of each
    world = World(FakeClock(), shared_cap_rps=250.0, load_cpu_per_user=0.006, load_processes=2)
    verdict = run(FakeLab(tmp_path, world), quick(SCALE_OUT)).verdict
    assert verdict.saturation is not None and verdict.saturation.resource is None
    assert "load generator CPU 60%" in verdict.saturation.detail


def test_the_busiest_locust_process_is_the_phase_s_load_generator_figure(tmp_path: Path) -> None:
    # one worker flat out while the other idles: the mean (55 %) would pass, the busiest not
    from lab.scenario.checks import LOADGEN_CHECK

    world = World(FakeClock(), load_cpu_per_user=0.0)
    lab = FakeLab(tmp_path, world)
    lab.load.cpu = lambda: {"locust-master": 0.05, "locust-worker-1": 0.97, "locust-worker-2": 0.1}  # type: ignore[method-assign]
    result = run(lab, quick(SCALE_OUT))
    phase = next(p for p in result.verdict.phases if p.name == "scale-4")
    assert (phase.loadgen_busiest, phase.loadgen_cpu) == ("locust-worker-1", 0.97)
    refusal = next(c for c in result.verdict.checks if c.name == LOADGEN_CHECK)
    assert not refusal.passed and "locust-worker-1 97% in scale-4" in refusal.detail
