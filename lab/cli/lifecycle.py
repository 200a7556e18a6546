"""`lab up`, `down`, `status`, `scale`, `stop`, `kill`, `start`, `logs`, `doctor`."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.table import Table

from lab.cli.context import console, make_lab
from lab.errors import ConfigError
from lab.runtime.base import InstanceState, LabStatus

RuntimeOpt = Annotated[
    str | None,
    typer.Option("--runtime", help="native | compose | swarm (default: compose if Docker answers)"),
]

STATE_STYLE = {
    InstanceState.RUNNING: "green",
    InstanceState.STARTING: "yellow",
    InstanceState.UNHEALTHY: "yellow",
    InstanceState.STOPPED: "dim",
    InstanceState.EXITED: "red",
}


def parse_scale(items: list[str]) -> dict[str, int]:
    """["api=3", "worker=2"] → {"api": 3, "worker": 2}, with a clear error for bad input."""
    scales: dict[str, int] = {}
    for item in items:
        service, sep, count = item.partition("=")
        if not sep or not service or not count.isdigit():
            raise ConfigError(f"bad scale {item!r}", hint="write SERVICE=N, e.g. api=3")
        scales[service.strip()] = int(count)
    return scales


def print_status(status: LabStatus) -> None:
    table = Table(
        title=f"lab ({status.runtime}) — {'up' if status.up else 'down'}", title_justify="left"
    )
    for column in ("instance", "state", "address", "pid"):
        table.add_column(column)
    for inst in status.instances:
        style = STATE_STYLE.get(inst.state, "")
        table.add_row(
            inst.name,
            f"[{style}]{inst.state}[/]",
            inst.endpoint.address if inst.endpoint else "-",
            str(inst.pid or inst.container or "-"),
        )
    console.print(table)


def up(
    runtime: RuntimeOpt = None,
    scale: Annotated[
        list[str] | None, typer.Option("--scale", help="SERVICE=N, repeatable")
    ] = None,
) -> None:
    """Boot the whole lab and wait until every service is ready."""
    lab = make_lab(runtime=runtime)
    started = time.monotonic()
    with console.status(f"starting the lab ({lab.runtime.name})…"):
        status = lab.up(parse_scale(scale or []))
    print_status(status)
    console.print(f"[green]ready[/] in {time.monotonic() - started:.1f} s")
    lb = lab.runtime.endpoint("lb")
    console.print(f"API      {lb.url}   (docs: {lb.url}/docs)")
    console.print(f"Metrics  {lab.runtime.endpoint('prometheus').url}")
    console.print("next: `lab status`, `lab watch`, `lab scenario scale-out`, `lab down`")


def down(
    runtime: RuntimeOpt = None,
    volumes: Annotated[
        bool, typer.Option("--volumes", "-v", help="also delete data and secrets")
    ] = False,
) -> None:
    """Stop everything the lab started (works from any shell, and after a crash)."""
    lab = make_lab(runtime=runtime)
    lab.down(volumes=volumes)
    console.print("lab is down")


def status(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Every instance and its health."""
    st = make_lab().runtime.status()
    if as_json:
        typer.echo(json.dumps(st.to_json(), indent=2))
    else:
        print_status(st)


def scale(
    assignments: Annotated[list[str], typer.Argument(help="SERVICE=N ...")],
) -> None:
    """Change replica counts while traffic flows (e.g. `lab scale api=4`)."""
    lab = make_lab()
    for service, count in parse_scale(assignments).items():
        with console.status(f"scaling {service} to {count}…"):
            st = lab.scale(service, count)
        console.print(f"{service}: {st.replicas(service)} ready")


def stop(instance: Annotated[str, typer.Argument(help="e.g. api-2")]) -> None:
    """Stop one instance gracefully (SIGTERM)."""
    make_lab().stop(instance)
    console.print(f"stopped {instance}")


def kill(instance: Annotated[str, typer.Argument(help="e.g. worker-1")]) -> None:
    """Kill one instance at once (SIGKILL), as a crash would."""
    make_lab().kill(instance)
    console.print(f"killed {instance}")


def start(instance: Annotated[str, typer.Argument(help="e.g. api-2")]) -> None:
    """Start a stopped or killed instance again."""
    make_lab().start(instance)
    console.print(f"started {instance}")


def logs(
    service: Annotated[str, typer.Argument(help="e.g. api, worker, postgres")],
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    tail: Annotated[int, typer.Option("--tail", "-n")] = 100,
) -> None:
    """Log lines of every instance of a service."""
    try:
        for line in make_lab().runtime.logs(service, follow=follow, tail=tail):
            typer.echo(line)
    except KeyboardInterrupt:
        pass


def doctor(runtime: RuntimeOpt = None) -> None:
    """What can run here: runtimes, binaries, versions, ports, and how to fix what is missing."""
    from lab.doctor import diagnose, print_report

    ok = print_report(diagnose(make_lab(runtime=runtime)))
    if not ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    for command in (up, down, status, scale, stop, kill, start, logs, doctor):
        app.command()(command)
