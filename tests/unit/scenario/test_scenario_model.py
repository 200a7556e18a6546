"""Scenario files: the shipped ones validate; every kind of bad file names file, field, line.

No services: these tests only read YAML (and run `lab scenario validate` once as a user would).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.scenario.loader import load_scenario
from lab.scenario.model import Scenario
from lab.scenario.step_model import STEP_KINDS, FindKneeStep, HoldStep
from tests.labtools import PROJECT

SHIPPED = sorted((PROJECT / "scenarios").glob("*.yaml"))

GOOD = """\
name: tiny
title: A tiny scenario
concept: nothing much
vars:
  hold: 10
profiles:
  quick: {time_scale: 0.5, vars: {hold: 4}}
  full: {}
phases:
  - name: one
    narrative: hold still
    steps:
      - {kind: load, users: 5}
      - {kind: hold, duration: "${hold}"}
      - {kind: find_knee, by: users, start: 0.4, step: 0.2, stop: 1.2, hold: 2m}
      - {kind: check, name: fast, measure: p95, op: "<", threshold: "${slo}"}
checks:
  - {name: ratio, measure: rps, phase: one, ratio_to: one, op: ">=", threshold: 1}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path, profile: str | None = None) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, profile)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    return caught.value.problems


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenarios_validate_for_every_profile(path: Path) -> None:
    loaded = load_scenario(path)
    assert loaded.scenario.name == path.stem
    for profile in loaded.scenario.profiles:
        assert load_scenario(path, profile).scenario.planned_seconds() > 0


def test_scale_out_is_shipped_with_quick_and_full() -> None:
    scenario = load_scenario(PROJECT / "scenarios" / "scale-out.yaml").scenario
    assert {"quick", "full"} <= set(scenario.profiles)
    assert scenario.topology.replicas["api"] == 1
    assert any(isinstance(s, FindKneeStep) for p in scenario.phases for s in p.steps)


def test_profile_scales_durations_and_overrides_vars(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    full = load_scenario(path, "full").scenario
    quick = load_scenario(path, "quick").scenario
    full_hold, quick_hold = full.phases[0].steps[1], quick.phases[0].steps[1]
    assert isinstance(full_hold, HoldStep) and isinstance(quick_hold, HoldStep)
    assert full_hold.duration == 10
    assert quick_hold.duration == 2  # var 4, time scale 0.5
    knee = quick.phases[0].steps[2]
    assert isinstance(knee, FindKneeStep)
    assert knee.hold == 60 and (knee.by, knee.start, knee.step, knee.stop) == (
        "users",
        0.4,
        0.2,
        1.2,
    )
    assert quick.phases[0].steps[3].threshold == 0.25  # type: ignore[union-attr]


def test_default_profile_is_full(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, GOOD)).profile == "full"


def test_as_run_yaml_loads_back_to_the_same_scenario(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, GOOD), "quick")
    again = tmp_path / "as-run.yaml"
    again.write_text(loaded.as_run_yaml(), encoding="utf-8")
    reloaded = load_scenario(again, "quick").scenario
    assert reloaded.phases == loaded.scenario.phases
    assert reloaded.checks == loaded.scenario.checks


BAD = {
    "yaml syntax": (
        "name: x\nphases: [\n  - a: b\n",
        ["YAML syntax error at line 3"],
    ),
    "unknown field": (
        GOOD.replace("{kind: load, users: 5}", "{kind: load, users: 5, speed: 3}"),
        ["phases[0].steps[0].speed (line 13): Extra inputs are not permitted"],
    ),
    "unknown top-level field": (
        GOOD + "colour: blue\n",
        ["colour (line 19): Extra inputs are not permitted"],
    ),
    "wrong type": (
        GOOD.replace("users: 5}", "users: lots}"),
        ["phases[0].steps[0].users (line 13): Input should be a valid integer", "'lots'"],
    ),
    "missing field": (
        GOOD.replace('{kind: hold, duration: "${hold}"}', "{kind: hold}"),
        ["phases[0].steps[1].duration (line 14): Field required"],
    ),
    "missing top-level field": (
        GOOD.replace("title: A tiny scenario\n", ""),
        ["title (line 1): Field required"],
    ),
    "unknown step kind": (
        GOOD.replace("kind: load, users: 5", "kind: explode"),
        [
            "phases[0].steps[0].kind (line 13): unknown step kind 'explode'",
            "allowed kinds: " + ", ".join(STEP_KINDS),
        ],
    ),
    "step without kind": (
        GOOD.replace("kind: load, users: 5", "users: 5"),
        ["phases[0].steps[0] (line 13): a step needs `kind:`"],
    ),
    "negative duration": (
        GOOD.replace('duration: "${hold}"', "duration: -5"),
        ["phases[0].steps[1].duration (line 14): Input should be greater than 0"],
    ),
    "bad duration text": (
        GOOD.replace('duration: "${hold}"', "duration: soon"),
        ["phases[0].steps[1].duration (line 14): not a duration: 'soon'"],
    ),
    "unknown variable": (
        GOOD.replace('"${hold}"', '"${nap}"'),
        ["phases[0].steps[1].duration (line 14): unknown variable ${nap}"],
    ),
    "profile overrides an undeclared variable": (
        GOOD.replace("vars: {hold: 4}", "vars: {nap: 4}"),
        ["profiles.quick.vars.nap (line 7): no variable 'nap' in vars"],
    ),
    "bad profile field": (
        GOOD.replace("time_scale: 0.5", "time_scale: -1"),
        ["profiles.quick.time_scale (line 7): Input should be greater than 0"],
    ),
    "check with two sources": (
        GOOD.replace("measure: p95, op", "measure: p95, expr: up, op"),
        ["phases[0].steps[3] (line 16): a check needs exactly one of measure, expr"],
    ),
    "check on an unknown phase": (
        GOOD.replace("phase: one,", "phase: two,"),
        ["checks[0].phase (line 18): no phase 'two' (phases: one)"],
    ),
    "duplicate key": (
        GOOD.replace("concept: nothing much\n", "concept: nothing much\nconcept: again\n"),
        ["concept (line 4): duplicate key"],
    ),
    "not a mapping": ("- just\n- a list\n", ["the file must be a mapping"]),
    "unknown database work mode": (
        GOOD.replace("vars:\n", "topology: {db_work: disk}\nvars:\n"),
        ["topology.db_work (line 4): Input should be 'io' or 'cpu'"],
    ),
    "a negative pool": (
        GOOD.replace("vars:\n", "topology:\n  db_query_ms: 20\n  db_pool_size: -1\nvars:\n"),
        ["topology.db_pool_size (line 6): Input should be greater than or equal to 0"],
    ),
    "too few Postgres connections": (
        GOOD.replace("vars:\n", "topology: {pg_max_connections: 2}\nvars:\n"),
        ["topology.pg_max_connections (line 4): Input should be greater than or equal to 5"],
    ),
    "rate and think time": (
        GOOD.replace("{kind: load, users: 5}", "{kind: load, rate: 50, think_time: 1}"),
        ["phases[0].steps[0] (line 13): think_time is for a closed loop"],
    ),
    "ramp without a rate": (
        GOOD.replace("{kind: load, users: 5}", "{kind: load, users: 5, ramp: 10}"),
        ["phases[0].steps[0] (line 13): ramp is for an open loop (rate)"],
    ),
    "negative rate": (
        GOOD.replace("{kind: load, users: 5}", "{kind: load, rate: -3}"),
        ["phases[0].steps[0].rate (line 13): Input should be greater than or equal to 0"],
    ),
    "mix with no weight": (
        GOOD.replace(
            "{kind: load, users: 5}",
            "{kind: load, rate: 5, mix: {browse: 0, list: 0, order: 0, check: 0}}",
        ),
        ["phases[0].steps[0].mix (line 13): at least one weight must be above 0"],
    ),
    "unknown mix request": (
        GOOD.replace("{kind: load, users: 5}", "{kind: load, rate: 5, mix: {search: 3}}"),
        ["phases[0].steps[0].mix.search (line 13): Extra inputs are not permitted"],
    ),
    "prediction over an unknown name": (
        GOOD.replace(
            "    narrative: hold still\n",
            "    narrative: hold still\n    predict: {text: t, measure: rps, expr: cores * 2}\n",
        ),
        ["phases[0].predict[0] (line 12): unknown name 'cores' in 'cores * 2'"],
    ),
    "prediction that calls a function": (
        GOOD.replace(
            "    narrative: hold still\n",
            "    narrative: hold still\n"
            "    predict: {text: t, measure: rps, expr: __import__('os')}\n",
        ),
        ["phases[0].predict[0] (line 12): only min() and max() may be called"],
    ),
    "set of a knob a running lab cannot change": (
        GOOD.replace("{kind: load, users: 5}", "{kind: set, knobs: {pg_max_connections: 50}}"),
        ["phases[0].steps[0].knobs (line 13): pg_max_connections: not a knob"],
    ),
    "set of a knob to a bad value": (
        GOOD.replace("{kind: load, users: 5}", "{kind: set, knobs: {db_pool_size: -1}}"),
        ["phases[0].steps[0].knobs (line 13): db_pool_size: Input should be"],
    ),
    "set of a work mode that does not exist": (
        GOOD.replace("{kind: load, users: 5}", "{kind: set, knobs: {db_work: gpu}}"),
        ["phases[0].steps[0].knobs (line 13): db_work: Input should be 'io'"],
    ),
    "set with no knob": (
        GOOD.replace("{kind: load, users: 5}", "{kind: set, knobs: {}}"),
        ["phases[0].steps[0].knobs (line 13): Dictionary should have at least 1 item"],
    ),
    "watch an unknown rule": (
        GOOD.replace(
            "    narrative: hold still\n",
            "    narrative: hold still\n    watch: {rule: 'lab:nope', panel: P}\n",
        ),
        ["phases[0].watch.rule (line 12): no recording rule 'lab:nope'"],
    ),
}


@pytest.mark.parametrize("text, expected", BAD.values(), ids=list(BAD))
def test_bad_file_names_field_and_line(tmp_path: Path, text: str, expected: list[str]) -> None:
    found = "\n".join(problems(write(tmp_path, text)))
    for fragment in expected:
        assert fragment in found, found


def test_unknown_profile_names_the_profiles(tmp_path: Path) -> None:
    found = problems(write(tmp_path, GOOD), profile="fast")
    assert found == ["profiles (line 6): no profile 'fast' (have: quick, full)"]


def test_error_in_one_profile_only_is_tagged_with_it(tmp_path: Path) -> None:
    text = GOOD.replace("vars: {hold: 4}", "vars: {hold: -4}")
    found = problems(write(tmp_path, text))
    assert found == [
        "phases[0].steps[1].duration (line 14): Input should be greater than 0 (got '${hold}')"
        " [profile quick]"
    ]


SHORT = """\
name: short
title: A phase shorter than the rules' window
concept: a phase is measured only when it lasts 10 s
vars:
  hold: 12
profiles:
  quick: {vars: {hold: 8}}
  full: {}
phases:
  - name: one
    narrative: hold still
    steps:
      - {kind: load, users: 5}
      - {kind: wait_until, expr: "up > 0", timeout: 10}
      - {kind: hold, duration: "${hold}"}
checks:
  - {name: quick enough, measure: p95, phase: one, op: "<", threshold: 1}
"""


def test_a_measured_phase_shorter_than_the_rules_window_is_refused(tmp_path: Path) -> None:
    found = problems(write(tmp_path, SHORT))
    assert found == [
        "phases[0].steps (line 12): phase 'one' is measured (it predicts, or a check names it)"
        " but plans 8 s of holds; a phase is measured only when it lasts 10 s (hold longer)"
        " [profile quick]"
    ]
    assert load_scenario(write(tmp_path, SHORT), "full").scenario.phases[0].planned_seconds() == 12
    unmeasured = SHORT.split("checks:")[0]  # nothing reads the phase: any length will do
    assert load_scenario(write(tmp_path, unmeasured), "quick").scenario.phases[0].name == "one"


def test_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == ["cannot read the file (No such file or directory)"]


def test_json_schema_describes_every_step_kind() -> None:
    schema = Scenario.model_json_schema()
    text = json.dumps(schema)
    for kind in STEP_KINDS:
        assert f'"const": "{kind}"' in text
    assert schema["additionalProperties"] is False


def lab_cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAB_HOME": str(home / ".lab"), "LAB_RUNS_DIR": str(home / "runs")}
    return subprocess.run(
        [sys.executable, "-c", "from lab.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
def test_cli_validate_bad_file_fails_with_the_line_and_starts_nothing(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace("users: 5}", "users: lots}"))
    for args in (["validate", str(bad)], [str(bad), "--profile", "quick"]):
        done = lab_cli(["scenario", *args], tmp_path)
        assert done.returncode != 0, done.stdout + done.stderr
        assert str(bad) in done.stderr
        assert "phases[0].steps[0].users (line 13)" in done.stderr
    assert not (tmp_path / ".lab").exists()
    assert not (tmp_path / "runs").exists()


@pytest.mark.e2e
def test_cli_lists_validates_and_prints_the_schema(tmp_path: Path) -> None:
    listed = lab_cli(["scenario", "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "scale-out" in listed.stdout
    validated = lab_cli(["scenario", "validate", *map(str, SHIPPED)], tmp_path)
    assert validated.returncode == 0, validated.stderr
    schema = lab_cli(["scenario", "schema"], tmp_path)
    assert json.loads(schema.stdout)["title"] == "Scenario"
    assert not (tmp_path / ".lab").exists()


def test_topology_knobs_become_the_labs_settings(tmp_path: Path) -> None:
    """Every cost knob a scenario names reaches the lab's settings; the ones it leaves out
    keep the lab's own value."""
    from lab.scenario.runner import scenario_settings
    from lab.settings import Settings

    knobs = (
        "topology:\n  db_work: cpu\n  db_query_ms: 20\n  db_pool_size: 4\n"
        "  pg_max_connections: 50\n  cache_single_flight: true\nvars:\n"
    )
    scenario = load_scenario(write(tmp_path, GOOD.replace("vars:\n", knobs))).scenario
    lab = Settings(home=tmp_path, cache_ttl_s=7)  # type: ignore[call-arg]
    wanted = scenario_settings(lab, scenario)
    assert (wanted.db_work, wanted.db_query_ms, wanted.db_pool_size) == ("cpu", 20, 4)
    assert (wanted.pg_max_connections, wanted.cache_single_flight) == (50, True)
    assert wanted.cache_ttl_s == 7
    plain = scenario_settings(lab, load_scenario(write(tmp_path, GOOD)).scenario)
    assert (plain.db_work, plain.db_query_ms, plain.db_pool_size) == ("io", 2, 0)
    assert (plain.pg_max_connections, plain.cache_single_flight) == (300, False)


def capacity_file(tmp_path: Path, users: str, *, knees: int = 7, worker: str = "w") -> Path:
    shutil.copy(PROJECT / "scenarios" / "capacity" / "users.yaml", tmp_path / "users.yaml")
    knee = "{kind: find_knee, hold: 5}"
    phases = "".join(f"  - {{name: k{i}, narrative: n, steps: [{knee}]}}\n" for i in range(knees))
    return write(
        tmp_path,
        f"name: c\ntitle: C\nconcept: c\n"
        f"capacity: {{users: {users}, held_out: 8, worker_phase: {worker}}}\n"
        f"phases:\n{phases}  - {{name: w, narrative: n, steps: [{{kind: hold, duration: 1}}]}}\n",
    )


def test_a_capacity_run_names_what_it_cannot_plan_from(tmp_path: Path) -> None:
    loaded = load_scenario(capacity_file(tmp_path, "users.yaml"))
    assert loaded.users_model == tmp_path / "users.yaml"
    again = tmp_path / "as-run.yaml"  # the run folder's copy names the model absolutely
    again.write_text(loaded.as_run_yaml(), encoding="utf-8")
    assert load_scenario(again).users_model == (tmp_path / "users.yaml").resolve()

    found = problems(capacity_file(tmp_path, "users.yaml", knees=6, worker="nope"))
    assert any("capacity.worker_phase (line 4): no phase 'nope'" in p for p in found), found
    assert any("7 find_knee steps (have 6)" in p for p in found), found

    (tmp_path / "bad.yaml").write_text("users: [1000]\nmix: {browse: 2}\n", encoding="utf-8")
    (found,) = problems(capacity_file(tmp_path, "bad.yaml"))
    assert found.startswith("capacity.users (line 4): ") and "mix.browse (line 2)" in found
