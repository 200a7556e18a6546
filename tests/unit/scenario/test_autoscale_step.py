"""The ``autoscale`` step and the ``autoscaler`` checks on a fake lab: the step starts an
autoscaler with its policy, checks read what it did per phase, and the run switches it
off before it scales anything back (at the end and on Ctrl-C)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.run.reader import read_events
from lab.scenario.loader import load_scenario
from lab.scenario.runner import ScenarioRunner
from tests.unit.scenario.scenario_fakes import START, FakeClock, FakeLab, World

SPIKE = """\
name: spike
title: Spike
concept: an autoscaler
topology: {replicas: {api: 1}}
phases:
  - name: calm
    narrative: nothing scales yet
    steps:
      - {kind: load, users: 5}
      - {kind: hold, duration: 20}
      - {kind: check, name: "one replica", autoscaler: api_max_replicas, op: "==", threshold: 1}
  - name: busy
    narrative: the autoscaler asks for 3
    steps:
      - kind: autoscale
        policy: {api: {max_replicas: "${most}", sync_s: 1}}
      - {kind: hold, duration: 20}
      - {kind: check, name: "three", autoscaler: api_max_replicas, op: "==", threshold: 3}
      - {kind: check, name: "one event", autoscaler: api_scale_events, op: "==", threshold: 1}
vars: {most: 3}
checks:
  - {name: "one event in the run", autoscaler: api_scale_events, op: "==", threshold: 1}
"""


def runner_for(
    tmp_path: Path, clock: FakeClock, text: str = SPIKE
) -> tuple[ScenarioRunner, FakeLab]:
    path = tmp_path / "spike.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    lab = FakeLab(tmp_path, World(clock))
    return ScenarioRunner(lab, load_scenario(path), clock=clock), lab


def test_checks_read_what_the_autoscaler_did_and_it_stops_before_the_restore(
    tmp_path: Path,
) -> None:
    runner, lab = runner_for(tmp_path, FakeClock())
    result = runner.run()
    checks = {c.name: c for c in result.verdict.checks}
    # "one replica" ran before any autoscaler: no record, so it fails, saying why
    assert not checks["one replica"].passed and "no autoscaler" in checks["one replica"].detail
    assert checks["three"].passed and checks["one event"].passed, checks
    assert checks["one event in the run"].passed
    assert lab.autoscalers and lab.autoscalers[0].stopped
    kinds = [e.kind for e in read_events(result.run_dir / "events.jsonl")]
    # switched off first, then the replicas put back to the count before the run
    assert kinds.index("autoscaler") < len(kinds) - 1 - kinds[::-1].index("scale")
    assert lab.replicas()["api"] == 1
    assert result.verdict.autoscaling is not None
    assert result.verdict.autoscaling.initial["api"] == 1


def test_ctrl_c_switches_the_autoscaler_off(tmp_path: Path) -> None:
    runner, lab = runner_for(tmp_path, FakeClock(interrupt_at=START + 30))
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert lab.autoscalers[0].stopped and lab.replicas()["api"] == 1


def test_a_bad_policy_names_the_field_and_line(tmp_path: Path) -> None:
    bad = SPIKE.replace('policy: {api: {max_replicas: "${most}", sync_s: 1}}',
                        "policy: {api: {max_replicas: 3, sync_s: 0.1}}")  # fmt: skip
    where = r"policy\.api\.sync_s \(line 16\): Input should be greater than or equal to 1"
    with pytest.raises(ScenarioError, match=where):
        runner_for(tmp_path, FakeClock(), bad)
    off = SPIKE.replace('policy: {api: {max_replicas: "${most}", sync_s: 1}}', "disable: false")
    with pytest.raises(ScenarioError, match="give a policy, or disable: true"):
        runner_for(tmp_path, FakeClock(), off)
