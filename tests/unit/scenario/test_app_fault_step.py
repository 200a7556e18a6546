"""The ``app_fault`` step: validated before anything runs, asked of the lab, and cleared
at the end of the run, on an error and on Ctrl-C (``lab.scenario.restore``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ConfigError, ScenarioError
from lab.run.reader import read_events
from lab.runtime.admin import AppFault
from lab.scenario.loader import load_scenario
from lab.scenario.runner import ScenarioRunner
from tests.unit.scenario.scenario_fakes import START, FakeClock, FakeLab, World

SCENARIO = """
name: app-fault
title: errors on one replica
concept: a fault step
description: one replica fails a share of product reads for a while
slo_seconds: 0.25
topology: {{work: io, work_ms: 40, concurrency: 4, replicas: {{api: 2, worker: 2}}}}
phases:
  - name: faulty
    narrative: api-1 fails a fifth of product reads
    steps:
      - {{kind: load, users: 10}}
      - {step}
      - {{kind: hold, duration: 20}}
"""
ERRORS = (
    "{kind: app_fault, fault: errors, replicas: [api-1], route: '/products/{id}',"
    " percent: 20, for_s: 60}"
)


def write(tmp_path: Path, step: str) -> Path:
    path = tmp_path / "app-fault.yaml"
    path.write_text(SCENARIO.format(step=step))
    return path


def test_the_fault_is_asked_for_and_cleared_at_the_end(tmp_path: Path) -> None:
    world = World(FakeClock())
    lab = FakeLab(tmp_path, world)
    seen: list[dict[str, list[AppFault]]] = []
    lab.events.subscribe(lambda e: seen.append(dict(lab.app_faults)) if e.kind == "fault" else None)
    result = ScenarioRunner(lab, load_scenario(write(tmp_path, ERRORS)), clock=world.clock).run()
    [during] = seen
    assert during == {
        "api-1": [AppFault(kind="errors", for_s=60, route="/products/{id}", percent=20)]
    }
    assert lab.app_faults == {}, "cleared when the run ended"
    restores = [e for e in read_events(result.run_dir / "events.jsonl") if e.kind == "restore"]
    assert restores and "app faults cleared on api-1" in restores[-1].message


def test_ctrl_c_clears_the_fault(tmp_path: Path) -> None:
    clock = FakeClock(interrupt_at=START + 10)
    lab = FakeLab(tmp_path, World(clock))
    runner = ScenarioRunner(lab, load_scenario(write(tmp_path, ERRORS)), clock=clock)
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert lab.app_faults == {}


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ("{kind: app_fault, fault: errors, percent: 20, for_s: 5}", "needs route"),
        ("{kind: app_fault, fault: latency, route: /orders, for_s: 5}", "needs fixed_ms"),
        ("{kind: app_fault, fault: cpu-hog, percent: 150, for_s: 5}", "percent"),
        ("{kind: app_fault, fault: unready, for_s: 7200}", "for_s"),
        ("{kind: app_fault, fault: unready, replicas: [worker-1], for_s: 5}", "replicas"),
        ("{kind: app_fault, fault: unready}", "for_s"),
    ],
)
def test_a_bad_fault_step_fails_before_anything_runs(
    tmp_path: Path, step: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(write(tmp_path, step))
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("fault", "body"),
    [
        (
            AppFault(kind="latency", for_s=30, route="/orders/{order_id}", fixed_ms=200),
            {"kind": "latency", "for_s": 30, "route": "/orders/{order_id}", "fixed_ms": 200},
        ),
        (AppFault(kind="unready", for_s=5), {"kind": "unready", "for_s": 5}),
    ],
)
def test_a_fault_asks_the_replica_for_only_what_it_sets(
    fault: AppFault, body: dict[str, object]
) -> None:
    assert fault.body() == body


def test_a_fault_without_its_fields_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="a cpu-hog fault needs percent"):
        AppFault(kind="cpu-hog", for_s=5)
