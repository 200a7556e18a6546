"""`lab capacity`: measure knees at seven replica counts, fit the USL, plan for millions.

lab capacity [--profile quick] [--users FILE]     # runs the capacity-plan scenario
lab capacity plan RUN [--users FILE] [--json]     # plan again from a run's measurements
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from lab.cli.context import console
from lab.cli.scenario import DownOption, RuntimeOption
from lab.errors import LabError
from lab.settings import Settings

if TYPE_CHECKING:
    from lab.capacity.model import UserModel
    from lab.run.capacity import CapacityRecord
    from lab.scenario.loader import LoadedScenario

SCENARIO = "capacity-plan"

group = typer.Typer(
    help="Capacity planning: `lab capacity` measures and plans; `lab capacity plan RUN` "
    "plans again for another user model.",
    invoke_without_command=True,
)


@group.callback(invoke_without_command=True)
def capacity(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="quick (about 6 min) | full (about 10)")
    ] = None,
    users: Annotated[
        Path | None, typer.Option("--users", help="a user model (default: the scenario's)")
    ] = None,
    runtime: RuntimeOption = None,
    down: DownOption = False,
) -> None:
    """Run the capacity-plan scenario (knees at 1-8 replicas, the USL, a database probe)
    and print the plan for 1k → 10M users."""
    if ctx.invoked_subcommand is not None:
        return
    from lab.cli.scenario import load, run_loaded

    settings = Settings.load(runtime=runtime)
    loaded = load(SCENARIO, profile, settings)
    if users is not None:
        loaded = with_users(loaded, users)
    result = run_loaded(loaded, settings, down=down)
    if result.verdict.capacity is not None:
        print_plan(result.verdict.capacity, None)
    if not result.verdict.passed:
        raise typer.Exit(1)


@group.command("plan")
def plan_(
    run: Annotated[str, typer.Argument(help="a capacity run: `latest`, a folder or a path")],
    users: Annotated[
        Path | None, typer.Option("--users", help="a user model (default: the run's)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the plan as JSON")] = False,
) -> None:
    """Plan again from a finished run's measurements, for the run's or another user model.
    Nothing is measured: the knees, the database probe and the worker rate are the run's."""
    from lab.capacity.model import load_user_model
    from lab.capacity.record import from_record
    from lab.capacity.render import plan_json
    from lab.report import read_run, resolve_run

    folder = resolve_run(Settings.load().runs_path, run)
    record = read_run(folder).verdict.capacity
    if record is None:
        raise LabError(f"{folder.name} is not a capacity run", hint="run `lab capacity` first")
    model = None if users is None else load_user_model(users)
    if as_json:
        typer.echo(json.dumps(plan_json(from_record(record, model).plan), indent=2))
        return
    print_plan(record, model, source=folder.name)


def with_users(loaded: LoadedScenario, users: Path) -> LoadedScenario:
    """The loaded scenario with another user model (checked now: a bad file starts nothing)."""
    from lab.capacity.model import load_user_model
    from lab.scenario.loader import LoadedScenario

    load_user_model(users)
    spec = loaded.scenario.capacity
    assert spec is not None
    path = str(users.resolve())
    scenario = loaded.scenario.model_copy(
        update={"capacity": spec.model_copy(update={"users": path})}
    )
    return LoadedScenario(loaded.path, loaded.profile, scenario)


def print_plan(record: CapacityRecord, model: UserModel | None, source: str | None = None) -> None:
    from lab import fmt
    from lab.capacity.record import from_record

    try:
        planned = from_record(record, model)
    except ValueError as exc:
        console.print(f"[red]no plan:[/] {exc}")
        return
    console.print(f"[bold]{planned.fit.describe()}[/]")
    if planned.validation is not None:
        console.print(planned.validation.describe())
    title = "the plan" + (f" (measurements of {source})" if source else "")
    table = Table(title=title, title_justify="left")
    for column in ("users", "peak req/s", "API replicas", "DB conns", "workers", "next to break"):
        table.add_column(column, justify="left" if column == "next to break" else "right")
    fixes: dict[str, str] = {}
    for row in planned.plan.rows:
        limit = row.next_limit
        fixes[limit.component] = limit.fix
        replicas = "past the fit" if row.api_replicas is None else str(row.api_replicas)
        conns = fmt.NONE if row.db_connections is None else f"{row.db_connections:,}"
        state = "[red]breaks[/]" if row.breaks else fmt.pct(limit.utilisation)
        table.add_row(
            f"{row.users:,}",
            f"{row.peak_rps:,.1f}",
            replicas,
            f"{conns} / {row.connection_limit:,}",
            str(row.workers),
            f"{limit.component} ({state})",
        )
    console.print(table)
    for component, fix in fixes.items():
        console.print(f"  {component}: {fix}")
    for ceiling in planned.plan.ceilings:
        at = "not below 10 billion users" if ceiling.users is None else f"{ceiling.users:,} users"
        console.print(f"  {ceiling.component} breaks at {at}")
    console.print("[dim]every number's basis: the run's summary.md and capacity.json[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="capacity")
