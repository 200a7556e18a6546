"""`lab learn`: the path names only scenarios that exist, in teaching order, and knows
which ones you have passed; `next` picks the first one you have not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lab.cli.learn import lessons, next_lesson
from lab.run.folder import RunFolder
from lab.run.verdict import CheckResult, Verdict
from lab.scenario.path import PATH
from lab.settings import Settings


def passed_run(runs: Path, scenario: str, *, passed: bool) -> None:
    folder = RunFolder.create(runs, scenario, 1_795_000_000.0)
    verdict = Verdict(scenario, scenario, "", "quick", "native", 1_795_000_000.0, 0.25)
    verdict.ended = verdict.started + 60
    verdict.checks.append(CheckResult("a check", passed, 1.0, "== 1"))
    folder.write_verdict(verdict)


def test_the_path_is_every_lesson_in_order_with_its_time(tmp_path: Path) -> None:
    settings = Settings.load(home=tmp_path / ".lab", runs_dir=tmp_path / "runs")
    path = lessons(settings)
    assert [lesson.name for lesson in path] == list(PATH)
    assert all(lesson.quick_s <= lesson.full_s for lesson in path)
    assert all(lesson.status == "not run" for lesson in path)
    shipped = {p.stem for p in (settings.project_dir / "scenarios").glob("*.yaml")}
    assert set(PATH) <= shipped  # the path never names a scenario that does not exist


def test_next_is_the_first_lesson_not_passed(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    passed_run(runs, PATH[0], passed=True)
    passed_run(runs, PATH[1], passed=False)
    settings = Settings.load(home=tmp_path / ".lab", runs_dir=runs)
    path = lessons(settings)
    assert path[0].passed and path[0].status.startswith("passed (quick")
    assert not path[1].passed and path[1].status.startswith("failed")
    chosen = next_lesson(path)
    assert chosen is not None and chosen.name == PATH[1]


def test_lab_learn_prints_the_path(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "learn"],
        env={
            "PATH": "/usr/bin:/bin",
            "LAB_HOME": str(tmp_path / ".lab"),
            "LAB_RUNS_DIR": str(tmp_path / "runs"),
            "COLUMNS": "250",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in PATH:
        assert name in done.stdout
    assert "worked on paper" in done.stdout


def test_every_lesson_names_what_to_try_next_and_the_lesson_after_it() -> None:
    from lab.scenario.loader import load_scenario
    from lab.scenario.path import next_lesson

    scenarios = Path(__file__).parents[3] / "scenarios"
    for name in PATH:
        assert load_scenario(scenarios / f"{name}.yaml").scenario.try_next, name
    assert [next_lesson(name) for name in PATH] == [*PATH[1:], None]
    assert next_lesson("not-a-lesson") is None
