"""The saturated resource: a phase names the first that ran full, in the order of
``checks.RESOURCES`` (what makes a measurement doubtful before what the system runs out
of); the run names its first, and lists every phase's."""

from __future__ import annotations

from lab.run.verdict import PhaseResult
from lab.scenario.checks import ResourcePeaks, saturated, saturation


def peaks(phase: str, **shares: float) -> ResourcePeaks:
    found = ResourcePeaks()
    for resource, value in shares.items():
        found.record(resource.replace("_", " "), value, phase)
    return found


def test_a_phase_names_the_first_full_resource() -> None:
    assert saturated(peaks("a", **{"DB_pool": 0.98, "concurrency_slots": 0.74})) == "DB pool"
    assert saturated(peaks("b", **{"DB_pool": 0.65, "concurrency_slots": 1.0})) == (
        "concurrency slots"
    )
    # a full machine explains a capacity miss: it comes before the pool
    assert saturated(peaks("c", **{"machine_CPU": 0.95, "DB_pool": 1.0})) == "machine CPU"
    assert saturated(peaks("d", **{"DB_pool": 0.89})) is None


def test_the_run_names_its_first_and_lists_every_phase() -> None:
    run = ResourcePeaks()
    run.record("machine CPU", 0.81, "more")
    run.record("DB pool", 0.98, "pool-bound")
    run.record("concurrency slots", 1.0, "more")
    phases = [
        PhaseResult(name="light", narrative="", start=0.0),
        PhaseResult(name="pool-bound", narrative="", start=1.0, saturated="DB pool"),
        PhaseResult(name="more", narrative="", start=2.0, saturated="concurrency slots"),
    ]
    found = saturation(run, phases)
    assert found is not None
    assert (found.resource, found.phase, found.value) == ("DB pool", "pool-bound", 0.98)
    assert "by phase: pool-bound: DB pool, more: concurrency slots" in found.detail


def test_a_phase_whose_load_generator_ran_full_refuses_the_verdict() -> None:
    from lab.run.verdict import PhaseResult
    from lab.scenario.checks import LOADGEN_CHECK, load_generator_refusal

    calm = PhaseResult(name="calm", narrative="", start=0.0, loadgen_cpu=0.4)
    flat_out = PhaseResult(
        name="push", narrative="", start=0.0, loadgen_cpu=0.95, loadgen_busiest="locust-worker-2"
    )
    assert load_generator_refusal([calm], processes=2) is None
    refused = load_generator_refusal([calm, flat_out], processes=2)
    assert refused is not None and not refused.passed
    assert refused.name == LOADGEN_CHECK and refused.value == 0.95
    assert "locust-worker-2 95% in push" in refused.detail
    assert "--load-workers" in refused.detail
