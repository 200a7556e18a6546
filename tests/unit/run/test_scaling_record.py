"""The autoscaler's record in verdict.json: written and read back unchanged, and the
numbers a report shows computed from it."""

from __future__ import annotations

from lab.run.scaling import Autoscaling, ScaleUp, Scaling


def record() -> Autoscaling:
    return Autoscaling(
        initial={"api": 1},
        scalings=[Scaling(100.0, "api", 1, 4, "scale up"), Scaling(160.0, "api", 4, 1, "down")],
        scale_ups=[ScaleUp("api", 1, 4, 99.0, 100.0, 100.3, 102.9, 103.0)],
        replica_seconds={"api": 209.0},
        over_slo_s=17.0,
    )


def test_the_record_round_trips_through_json() -> None:
    before = record()
    after = Autoscaling.from_json(before.to_json())
    assert after == before
    assert before.to_json()["scale_ups"][0]["breach_to_served_s"] == 4.0


def test_events_count_one_service_within_a_window() -> None:
    r = record()
    assert r.events("api", 0, 200) == 2
    assert r.events("api", 120, 200) == 1
    assert r.events("worker", 0, 200) == 0


def test_a_worker_serves_once_ready_and_the_breakdown_reads_in_order() -> None:
    worker = ScaleUp("worker", 0, 1, 10.0, 10.0, 10.0, 10.9)
    assert worker.serving == 10.9 and worker.breach_to_served == 0.9
    line = record().scale_ups[0].line()
    assert line.index("breach → decision 1.0 s") < line.index("→ first request 0.1 s")
    assert line.endswith("breach → serving 4.0 s")
    unfinished = ScaleUp("api", 1, 2, 5.0, 5.0, error="no capacity")
    assert unfinished.breach_to_served is None and "error: no capacity" in unfinished.line()
