"""`lab scenario ...`: list, show, schema, validate, and run (`lab scenario scale-out`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from lab import fmt
from lab.cli.context import annotated, console
from lab.errors import ConfigError, ScenarioError
from lab.events import Event
from lab.run.verdict import Verdict
from lab.scenario.loader import LoadedScenario, load_scenario
from lab.scenario.model import Scenario
from lab.scenario.progress import Progress
from lab.settings import Settings

if TYPE_CHECKING:
    from lab.scenario.runner import RunResult


class ScenarioGroup(TyperGroup):
    """Unknown subcommands are scenario names: `lab scenario scale-out` = `... run scale-out`."""

    # typer vendors its own click: its Context/Command types are private, hence Any.
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().resolve_command(ctx, args)


RuntimeOption = Annotated[str | None, typer.Option("--runtime", help="native | compose | swarm")]
LoadWorkersOption = Annotated[
    int | None,
    typer.Option("--load-workers", min=1, help="Locust worker processes (default: one per core)"),
]
DownOption = Annotated[
    bool, typer.Option("--down", help="stop the lab at the end if this run booted it")
]

group = typer.Typer(
    cls=ScenarioGroup,
    help="Scenarios: `lab scenario list`, `lab scenario scale-out [--profile quick]`.",
    no_args_is_help=True,
)


def load(name: str, profile: str | None = None, settings: Settings | None = None) -> LoadedScenario:
    """Load and validate; a bad file is printed one problem per line, then exit 1."""
    path = find_scenario(settings or Settings.load(), name)
    try:
        return load_scenario(path, profile)
    except ScenarioError as exc:
        err = Console(stderr=True)
        err.print(  # soft_wrap: a long path stays whole, to be copied
            f"[bold red]error:[/] {escape(str(exc.path))} is not a valid scenario:",
            highlight=False,
            soft_wrap=True,
        )
        for problem in exc.problems:
            err.print(f"  {escape(problem)}", highlight=False, soft_wrap=True)
        err.print(f"[dim]hint:[/] {escape(exc.hint or '')}", highlight=False)
        raise typer.Exit(1) from None


def scenarios_dir(settings: Settings) -> Path:
    return settings.project_dir / "scenarios"


def find_scenario(settings: Settings, name: str) -> Path:
    """A scenario name (`scale-out`) or a path to a YAML file."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return Path(name)
    path = scenarios_dir(settings) / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(p.stem for p in sorted(scenarios_dir(settings).glob("*.yaml")))
        raise ConfigError(f"no scenario {name!r}", hint=f"known: {known or 'none'}")
    return path


@group.command("list")
def list_() -> None:
    """The scenarios shipped in scenarios/."""
    table = Table(title="scenarios", title_justify="left")
    for column in ("name", "title", "concept", "profiles"):
        table.add_column(column, overflow="fold")
    for path in sorted(scenarios_dir(Settings.load()).glob("*.yaml")):
        s = load_scenario(path).scenario
        table.add_row(s.name, s.title, s.concept.split(".")[0], ", ".join(s.profiles))
    console.print(table)


@group.command()
def show(name: Annotated[str, typer.Argument(help="scenario name or file")]) -> None:
    """The scenario's story: concept, topology, phases and checks."""
    s = load(name).scenario
    console.print(f"[bold]{s.title}[/] ({s.name})\n[cyan]concept:[/] {s.concept}")
    if s.description:
        console.print(s.description)
    t = s.topology
    replicas = ", ".join(f"{k}={v}" for k, v in t.replicas.items())
    console.print(
        f"topology: {t.work} work {t.work_ms:g} ms, concurrency {t.concurrency}, "
        f"{replicas}; SLO p95 < {s.slo_seconds * 1000:.0f} ms"
    )
    for pname, prof in s.profiles.items():
        console.print(f"profile {pname}: {prof.description} (time scale {prof.time_scale:g})")
    for i, phase in enumerate(s.phases, 1):
        kinds = ", ".join(step.kind for step in phase.steps)
        console.print(f"\n[bold]{i}. {phase.name}[/] [dim]({kinds})[/]\n   {phase.narrative}")
        if phase.concept:
            console.print(f"   [cyan]concept:[/] {phase.concept}")
        for prediction in phase.predict:
            console.print(f"   [cyan]predict:[/] {prediction.text}")
        if phase.watch:
            console.print(f"   [cyan]watch:[/] {phase.watch.rule} (panel “{phase.watch.panel}”)")
        if phase.miss:
            console.print(f"   [cyan]a miss would mean:[/] {phase.miss}")
    if s.checks:
        console.print("\nchecks: " + "; ".join(c.name for c in s.checks))


@group.command()
def schema() -> None:
    """The JSON Schema of a scenario file."""
    typer.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@group.command()
def validate(files: Annotated[list[str], typer.Argument(help="scenario names or files")]) -> None:
    """Check scenario files (every profile) without starting anything."""
    settings = Settings.load()
    for name in files:
        loaded = load(name, settings=settings)
        profiles = ", ".join(loaded.scenario.profiles)
        console.print(f"[green]ok[/] {name} ({loaded.scenario.name}; profiles: {profiles})")


@group.command()
def run(
    name: Annotated[str, typer.Argument(help="scenario name (see `lab scenario list`) or file")],
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="quick (CI) | full (default)")
    ] = None,
    runtime: RuntimeOption = None,
    down: DownOption = False,
    load_workers: LoadWorkersOption = None,
) -> None:
    """Run a scenario: boot, load, change, measure, check; write the run's report."""
    settings = Settings.load(runtime=runtime, load_workers=load_workers)
    loaded = load(name, profile, settings)  # before anything starts
    result = run_loaded(loaded, settings, down=down)
    if not result.verdict.passed:
        raise typer.Exit(1)


def run_loaded(loaded: LoadedScenario, settings: Settings, *, down: bool) -> RunResult:
    """Run a validated scenario with the live view; print its verdict and where it is."""
    from lab.lab import Lab
    from lab.scenario.runner import ScenarioRunner, scenario_settings

    lab = annotated(Lab(scenario_settings(settings, loaded.scenario)))
    view = LiveView(console, loaded.scenario)
    runner = ScenarioRunner(
        lab, loaded, on_progress=view.update, on_event=view.event, down_after=down
    )
    console.print(
        f"[bold]{loaded.scenario.title}[/] — profile {loaded.profile}, runtime {lab.runtime.name}"
    )
    try:
        with view:
            result = runner.run()
    except KeyboardInterrupt:
        if runner.run_dir:
            console.print(f"interrupted; the lab was restored; partial run: {runner.run_dir}")
        raise
    print_verdict(result.verdict)
    console.print(f"run:    {result.run_dir}")
    if result.report:
        console.print(f"report: {result.report}")
    if result.report_error:
        console.print(f"[yellow]warning:[/] {result.report_error}")
    return result


class LiveView:
    """Phase, narrative, users, req/s, p95 against the SLO, replicas, time left."""

    def __init__(self, console: Console, scenario: Scenario) -> None:
        self.console = console
        self.scenario = scenario
        self.live: Live | None = None
        if console.is_terminal:
            self.live = Live(Text("starting…"), console=console, refresh_per_second=4)

    def __enter__(self) -> LiveView:
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live:
            self.live.__exit__(*exc)

    def event(self, event: Event) -> None:
        style = {"phase": "bold cyan", "check": "green" if event.data.get("passed") else "red"}
        stamp = time.strftime("%H:%M:%S", time.localtime(event.t))
        self.console.print(Text(f"{stamp} {event.message}", style=style.get(event.kind, "")))

    def update(self, p: Progress) -> None:
        if self.live is None:
            return
        p95 = fmt.ms(p.p95)
        over = p.p95 is not None and p.p95 > p.slo
        numbers = Table.grid(padding=(0, 3))
        for _ in range(5):
            numbers.add_column()
        numbers.add_row(
            f"users [bold]{p.users}[/]",
            f"req/s [bold]{fmt.rate(p.rps)}[/]",
            f"p95 [bold {'red' if over else 'green'}]{p95}[/] / SLO {p.slo * 1000:.0f} ms",
            "replicas " + " ".join(f"{k}={v}" for k, v in sorted(p.replicas.items())),
            f"{p.elapsed:.0f} s elapsed, ≤ {p.remaining:.0f} s left",
        )
        title = f"{p.scenario} · phase {p.phase_index + 1}/{p.phases}: {p.phase} · {p.step}"
        self.live.update(Panel(Group(Text(p.narrative, style="dim"), numbers), title=title))


def print_verdict(verdict: Verdict) -> None:
    phases = Table(title="phases (measured)", title_justify="left")
    for column in ("phase", "users", "replicas", "req/s", "p50", "p95", "errors"):
        phases.add_column(column, justify="left" if column == "phase" else "right")
    for p in verdict.phases:
        phases.add_row(
            p.name,
            str(p.users),
            fmt.replicas(p.replicas),
            fmt.rate(p.rps),
            fmt.ms(p.p50),
            fmt.ms(p.p95),
            fmt.pct(p.error_ratio),
        )
    console.print(phases)
    if verdict.knee is not None:
        k = verdict.knee
        where = f"{k.users} users, {fmt.rps(k.rps)}, p95 {fmt.ms(k.p95)}"
        console.print(f"knee: {where}" if k.found else f"no knee up to {k.users} users")
    table = Table(title="verdict", title_justify="left")
    for column in ("check", "result", "value", "threshold", "detail"):
        table.add_column(column, overflow="fold")
    for c in verdict.checks:
        mark = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        table.add_row(c.name, mark, fmt.num(c.value), c.threshold, c.detail)
    console.print(table)
    if verdict.saturation is not None:
        style = "yellow" if verdict.saturation.resource else "dim"
        console.print(f"[{style}]saturation:[/] {verdict.saturation.detail}")
    if verdict.aborted:
        console.print(f"[red]aborted:[/] {verdict.aborted}")
    color = "green" if verdict.passed else "red"
    console.print(f"[bold {color}]{fmt.verdict(verdict.passed, verdict.aborted)}[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="scenario")
