"""`lab learn`: the scenarios in teaching order, what each shows, how long it takes, and
whether you have run it; `lab learn next` runs the first one not yet passed.

    lab learn
    lab learn next [--profile quick]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.table import Table

from lab.cli import scenario as scenario_cli
from lab.cli.context import console
from lab.report.catalog import RunSummary, list_runs
from lab.scenario.loader import load_scenario
from lab.scenario.path import PATH
from lab.settings import Settings

group = typer.Typer(
    help="The learning path: `lab learn` lists the lessons in order, `lab learn next` runs one.",
    invoke_without_command=True,
)
BOOT_S = 25  # a native lab boots in about 20 s here; a run ends with a report


@dataclass(frozen=True)
class Lesson:
    number: int
    name: str
    title: str
    concept: str
    shows: str
    quick_s: float
    full_s: float
    last: RunSummary | None  # the latest run of this scenario, if any
    passed: bool  # some run of it passed

    @property
    def status(self) -> str:
        if self.last is None:
            return "not run"
        when = time.strftime("%Y-%m-%d", time.localtime(self.last.started or 0))
        state = "passed" if self.passed else "failed"
        return f"{state} ({self.last.profile}, {when})"


def lessons(settings: Settings) -> list[Lesson]:
    runs = list_runs(settings.runs_path) if settings.runs_path.exists() else []
    found = []
    for number, name in enumerate(PATH, 1):
        path = scenario_cli.find_scenario(settings, name)
        s = load_scenario(path, "quick").scenario
        full = load_scenario(path).scenario
        mine = [r for r in runs if r.scenario == name and r.started]  # finished runs
        found.append(
            Lesson(
                number=number,
                name=name,
                title=s.title,
                concept=s.concept.split(". ")[0].rstrip(".") + ".",
                shows=(s.description or "").split(". ")[0].rstrip(".") + ".",
                quick_s=s.planned_seconds() + BOOT_S,
                full_s=full.planned_seconds() + BOOT_S,
                last=mine[-1] if mine else None,
                passed=any(r.passed for r in mine),
            )
        )
    return found


def next_lesson(path: list[Lesson]) -> Lesson | None:
    """The first lesson with no passed run."""
    return next((lesson for lesson in path if not lesson.passed), None)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


@group.callback()
def learn(ctx: typer.Context) -> None:
    """The path from one user to many: each lesson, what you will see, its time, your runs."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="the learning path (lab learn next runs the first not passed)")
    for column in ("#", "scenario", "concept", "what you will see", "time", "you"):
        table.add_column(column, overflow="fold")
    for lesson in lessons(Settings.load()):
        table.add_row(
            str(lesson.number),
            lesson.name,
            lesson.concept,
            lesson.shows,
            f"{_minutes(lesson.quick_s)} quick, {_minutes(lesson.full_s)} full",
            lesson.status,
        )
    console.print(table)
    console.print(
        "Not in the lab, worked on paper in docs/learning-path.md: read replicas and "
        "sharding, multi-region, CDNs."
    )


@group.command("next")
def next_(
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="quick | full (default)")
    ] = None,
    runtime: Annotated[
        str | None, typer.Option("--runtime", help="native | compose | swarm")
    ] = None,
) -> None:
    """Run the first lesson of the path that has no passed run yet."""
    lesson = next_lesson(lessons(Settings.load()))
    if lesson is None:
        console.print("every lesson of the path has a passed run: see `lab runs`")
        return
    console.print(f"lesson {lesson.number} of {len(PATH)}: {lesson.name} — {lesson.concept}")
    scenario_cli.run(lesson.name, profile=profile, runtime=runtime, down=False)


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="learn")
