"""The ``set`` step on a fake lab: knobs change through the lab (journalled), the phase is
measured from after the change, and the old values come back at the end and on Ctrl-C."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.run.reader import read_events
from lab.scenario.loader import load_scenario
from lab.scenario.runner import ScenarioRunner
from lab.settings import Settings
from tests.unit.scenario.scenario_fakes import START, FakeClock, FakeLab, World

TWO_TTLS = """\
name: two-ttls
title: Two TTLs
concept: a knob changed mid-run
topology: {cache_ttl_s: 60}
phases:
  - name: long
    narrative: the long TTL
    steps:
      - {kind: load, users: 5}
      - {kind: hold, duration: 20}
  - name: short
    narrative: the short TTL, single-flight on
    steps:
      - {kind: set, knobs: {cache_ttl_s: 2, cache_single_flight: true}}
      - {kind: hold, duration: 20}
  - name: shorter
    narrative: shorter still
    steps:
      - {kind: set, knobs: {cache_ttl_s: 1}}
      - {kind: hold, duration: 20}
"""


def runner_for(tmp_path: Path, clock: FakeClock) -> tuple[ScenarioRunner, FakeLab]:
    path = tmp_path / "two-ttls.yaml"
    path.write_text(textwrap.dedent(TWO_TTLS), encoding="utf-8")
    settings = Settings(home=tmp_path / ".lab", runs_dir=tmp_path / "runs", cache_ttl_s=60)
    lab = FakeLab(tmp_path, World(clock), settings=settings)
    return ScenarioRunner(lab, load_scenario(path), clock=clock), lab


def test_set_changes_the_knobs_then_puts_the_first_values_back(tmp_path: Path) -> None:
    runner, lab = runner_for(tmp_path, FakeClock())
    result = runner.run()
    sets = [e.data for e in read_events(result.run_dir / "events.jsonl") if e.kind == "set"]
    assert [s["knobs"] for s in sets] == [
        {"cache_ttl_s": 2.0, "cache_single_flight": True},
        {"cache_ttl_s": 1.0},
        {"cache_ttl_s": 60.0, "cache_single_flight": False},  # the restore, in one roll
    ]
    assert lab.settings.cache_ttl_s == 60 and lab.settings.cache_single_flight is False
    short = next(p for p in result.verdict.phases if p.name == "short")
    assert short.window is not None and short.window[0] >= short.start + 10  # after settle


def test_a_run_that_takes_its_lab_down_does_not_roll_the_knobs_back_first(
    tmp_path: Path,
) -> None:
    runner, lab = runner_for(tmp_path, FakeClock())
    lab.running, runner.down_after = False, True  # `lab scenario run --down` boots it
    result = runner.run()
    events = read_events(result.run_dir / "events.jsonl")
    sets = [e.data["knobs"] for e in events if e.kind == "set"]
    assert sets == [{"cache_ttl_s": 2.0, "cache_single_flight": True}, {"cache_ttl_s": 1.0}]
    (kept,) = [e.message for e in events if e.kind == "restore"]
    assert "not rolled back, the lab goes down" in kept and "cache_ttl_s=60" in kept, kept
    assert not lab.running  # and it went down


def test_ctrl_c_during_the_changed_phase_puts_the_knobs_back(tmp_path: Path) -> None:
    runner, lab = runner_for(tmp_path, FakeClock(interrupt_at=START + 30))
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert lab.settings.cache_ttl_s == 60 and lab.settings.cache_single_flight is False
    kinds = [e.kind for e in read_events(lab.events.path)]
    assert kinds.count("set") == 2 and "restore" in kinds


def test_a_knob_already_at_its_value_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, cache_ttl_s=5)
    assert settings.knobs_changed({"cache_ttl_s": "5"}) == {}
    assert settings.knobs_changed({"cache_ttl_s": 7, "db_pool_size": 0}) == {"cache_ttl_s": 7.0}


def test_settings_refuse_a_knob_that_needs_a_new_lab(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pg_max_connections: not a knob a running lab"):
        Settings(home=tmp_path).with_knobs({"pg_max_connections": 50})
    with pytest.raises(ConfigError, match="db_pool_size"):
        Settings(home=tmp_path).with_knobs({"db_pool_size": -3})
