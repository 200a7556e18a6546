"""`lab runs`, `lab report RUN`, `lab compare RUN_A RUN_B`: the run folders in runs/."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lab import fmt
from lab.cli.context import console
from lab.settings import Settings

RunArg = Annotated[
    str, typer.Argument(help="a run folder name (or its prefix), a path, or `latest`")
]
STATUS_STYLE = {"passed": "green", "failed": "red", "aborted": "yellow", "incomplete": "dim"}


def runs(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The runs in the runs folder, oldest first."""
    from lab.report import list_runs

    runs_dir = Settings.load().runs_path
    found = list_runs(runs_dir)
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in found], indent=2))
        return
    if not found:
        console.print(f"no runs in {runs_dir}; run one with `lab scenario scale-out`")
        return
    table = Table(title=f"runs in {runs_dir}", title_justify="left")
    table.add_column("run", no_wrap=True)
    for column in ("scenario", "profile", "runtime", "passed", "duration", "peak req/s"):
        table.add_column(
            column, justify="right" if column in ("duration", "peak req/s") else "left"
        )
    for r in found:
        checks = f" ({r.checks - r.failed_checks}/{r.checks})" if r.checks else ""
        table.add_row(
            r.name,
            r.scenario,
            r.profile or fmt.NONE,
            r.runtime or fmt.NONE,
            f"[{STATUS_STYLE[r.status]}]{r.status}[/]{checks}",
            fmt.duration(r.duration) if r.duration is not None else fmt.NONE,
            fmt.NONE if r.peak_rps is None else f"{r.peak_rps:,.0f}",
        )
    console.print(table)
    console.print("[dim]`lab report RUN` re-renders one; `lab compare A B` compares two[/]")


def report(run: RunArg = "latest") -> None:
    """Render a run's report again from its run folder (no running lab needed); prints its path."""
    from lab.report import render_run, resolve_run

    run_dir = resolve_run(Settings.load().runs_path, run)
    with console.status(f"rendering {run_dir.name}…"):
        path = render_run(run_dir)
    typer.echo(str(path))


def compare(run_a: RunArg, run_b: RunArg) -> None:
    """Compare two runs: checks, and per phase req/s, p95, errors, goodput, replicas."""
    from lab.report import compare_runs, resolve_run, write_compare_html

    runs_dir = Settings.load().runs_path
    a_dir, b_dir = resolve_run(runs_dir, run_a), resolve_run(runs_dir, run_b)
    comp = compare_runs(a_dir, b_dir)
    console.print(f"A = {a_dir.name}\nB = {b_dir.name}", highlight=False)

    checks = Table(title="checks", title_justify="left")
    for column in ("check", "A", "B", "A value", "B value", "change"):
        checks.add_column(column)
    for diff, row in zip(comp.checks, comp.check_rows(), strict=True):
        checks.add_row(*row, style="bold" if diff.changed else None)
    console.print(checks)

    phases = Table(title="phases", title_justify="left")
    for column in ("phase", "users", "replicas", "req/s", "p95", "errors", "goodput"):
        phases.add_column(column)
    for row in comp.phase_rows():
        phases.add_row(*row)
    console.print(phases)

    path = runs_dir / f"compare-{a_dir.name}-vs-{b_dir.name}.html"
    runs_dir.mkdir(parents=True, exist_ok=True)
    write_compare_html(comp, path)
    typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("runs")(runs)
    app.command("report")(report)
    app.command("compare")(compare)
