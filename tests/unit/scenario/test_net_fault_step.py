"""The ``net_fault`` step on the fake lab: validated at load time, undone at the end of
its step (``duration``), at the end of the run, and on Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.run.reader import read_events
from lab.scenario.loader import load_scenario
from lab.scenario.runner import ScenarioRunner, scenario_settings
from lab.settings import Settings
from tests.unit.scenario.scenario_fakes import START, FakeClock, FakeLab, World

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "net-faults.yaml"


def test_a_fault_with_a_duration_ends_with_its_step_the_others_with_the_run(
    tmp_path: Path,
) -> None:
    world = World(FakeClock())
    lab = FakeLab(tmp_path, world)
    result = ScenarioRunner(lab, load_scenario(SCENARIO, "quick"), clock=world.clock).run()
    events = read_events(result.run_dir / "events.jsonl")
    faults = [(e.kind, e.message) for e in events if e.kind.startswith("net_fault")]
    assert faults == [
        ("net_fault", "fault postgres latency: +200±20 ms (downstream)"),
        ("net_fault_end", "fault over: postgres latency: +200±20 ms (downstream)"),
        ("net_fault", "fault redis timeout: black hole (downstream, toxicity 0.5)"),
        ("net_fault_end", "fault over: redis timeout: black hole (downstream, toxicity 0.5)"),
    ]
    started, ended = (
        e.t for e in events if e.kind.startswith("net_fault") and "postgres" in e.message
    )
    assert ended - started == pytest.approx(6, abs=0.5)
    assert lab.net_faults == []


def test_the_scenario_boots_the_lab_with_its_links_through_the_proxy(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / ".lab")
    assert not settings.net_proxy
    assert scenario_settings(settings, load_scenario(SCENARIO, "quick").scenario).net_proxy


def test_ctrl_c_takes_the_faults_away(tmp_path: Path) -> None:
    clock = FakeClock(interrupt_at=START + 8)  # during the slow-database step
    world = World(clock)
    lab = FakeLab(tmp_path, world)
    runner = ScenarioRunner(lab, load_scenario(SCENARIO, "quick"), clock=clock)
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert lab.net_faults == []
    assert runner.run_dir is not None
    kinds = [e.kind for e in read_events(runner.run_dir / "events.jsonl")]
    assert kinds.count("net_fault") == 1 and kinds.count("net_fault_end") == 1
    assert "restore" in kinds


def test_a_net_fault_step_needs_the_proxy_and_a_valid_fault(tmp_path: Path) -> None:
    text = SCENARIO.read_text()
    off = tmp_path / "off.yaml"
    off.write_text(text.replace("net_proxy: true", "net_proxy: false"))
    with pytest.raises(ScenarioError, match="net_proxy: true"):
        load_scenario(off, "quick")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("ms: 200, jitter: 20", "ms: 0"))
    with pytest.raises(ScenarioError, match="ms > 0"):
        load_scenario(bad, "quick")
