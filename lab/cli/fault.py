"""`lab fault ...`: break things on purpose. This module owns the group, its network half
(`net`) and `list` / `clear` over every family; processes (`proc`: ``fault_proc``) and
application faults (`app`: ``fault_app``) are subgroups in their own modules.

    lab fault net latency --to postgres --ms 200 --jitter 20 [--toxicity 0.5] [--for 30s]
    lab fault net down --to redis --for 10s
    lab fault list
    lab fault clear

Without ``--for`` a fault stays until ``lab fault clear`` (or ``lab down``); with it, the
command waits and takes the fault away at the end, or on Ctrl-C.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lab.cli import fault_app, fault_proc
from lab.cli.context import console, make_lab
from lab.errors import ConfigError, LabStateError
from lab.faults.net import NetKind, parse_fault

group = typer.Typer(
    help="Inject faults (undone with --for or on Ctrl-C): processes, network, application.",
    no_args_is_help=True,
)
net_app = typer.Typer(help="Network faults on the API's and workers' links to a dependency.")
group.add_typer(fault_proc.app, name="proc")
group.add_typer(net_app, name="net")
group.add_typer(fault_app.group, name="app")

To = Annotated[str, typer.Option("--to", help="postgres | redis | nats")]
Toxicity = Annotated[float, typer.Option(help="share of connections hit, 0-1")]
Stream = Annotated[str, typer.Option(help="downstream (replies) | upstream (requests)")]
For = Annotated[str | None, typer.Option("--for", help="undo after this long: 30s, 2m, 500ms")]


def parse_for(text: str) -> float:
    """'30s', '2m', '500ms' or plain seconds → seconds (``fault_app.parse_duration``);
    a clear error names --for, also for a duration that is not more than 0."""
    try:
        seconds = fault_app.parse_duration(text)
    except ConfigError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"--for: not a duration: {text!r}", hint="write 30s, 2m or 500ms")
    return seconds


def _inject(kind: NetKind, to: str, duration: str | None, **fields: object) -> None:
    fault = parse_fault(kind=kind, to=to, **fields)
    seconds = parse_for(duration) if duration is not None else None
    lab = make_lab()
    if seconds is None:
        lab.net_fault(fault)
        console.print(f"fault on: {fault.describe()}\n[dim]until `lab fault clear`[/]")
        return
    try:  # from before it is applied: a Ctrl-C while it is being put in place undoes it too
        lab.net_fault(fault)
        console.print(f"fault on: {fault.describe()}")
        time.sleep(seconds)
    finally:  # Ctrl-C (and SIGTERM, see lab.cli.main) undoes it too
        lab.end_net_fault(fault)
        console.print(f"fault off: {fault.describe()}")


@net_app.command()
def latency(
    to: To,
    ms: Annotated[int, typer.Option(help="added delay per chunk")],
    jitter: Annotated[int, typer.Option(help="± this many ms, uniform")] = 0,
    toxicity: Toxicity = 1.0,
    stream: Stream = "downstream",
    duration: For = None,
) -> None:
    """Delay every reply (or request) by ms ± jitter."""
    _inject("latency", to, duration, ms=ms, jitter=jitter, toxicity=toxicity, stream=stream)


@net_app.command()
def down(to: To, duration: For = None) -> None:
    """Take the link down: new connections refused, open ones closed."""
    _inject("down", to, duration)


@net_app.command()
def timeout(
    to: To,
    ms: Annotated[int, typer.Option(help="close the connection after this; 0: never")] = 0,
    toxicity: Toxicity = 1.0,
    stream: Stream = "downstream",
    duration: For = None,
) -> None:
    """A black hole: data goes in, nothing comes back."""
    _inject("timeout", to, duration, ms=ms, toxicity=toxicity, stream=stream)


@net_app.command()
def reset(
    to: To,
    ms: Annotated[int, typer.Option(help="reset after this long")] = 0,
    toxicity: Toxicity = 1.0,
    stream: Stream = "downstream",
    duration: For = None,
) -> None:
    """Reset connections (TCP RST), as a crashed peer or a firewall does."""
    _inject("reset", to, duration, ms=ms, toxicity=toxicity, stream=stream)


@net_app.command()
def bandwidth(
    to: To,
    rate: Annotated[int, typer.Option(help="KB/s")],
    toxicity: Toxicity = 1.0,
    stream: Stream = "downstream",
    duration: For = None,
) -> None:
    """Limit the link's bandwidth."""
    _inject("bandwidth", to, duration, rate=rate, toxicity=toxicity, stream=stream)


@net_app.command("slow-close")
def slow_close(
    to: To,
    ms: Annotated[int, typer.Option(help="delay of the close")],
    toxicity: Toxicity = 1.0,
    stream: Stream = "downstream",
    duration: For = None,
) -> None:
    """Pass a connection's close on late."""
    _inject("slow_close", to, duration, ms=ms, toxicity=toxicity, stream=stream)


@net_app.command("limit-data")
def limit_data(
    to: To,
    nbytes: Annotated[int, typer.Option("--bytes", help="close after this many bytes")],
    toxicity: Toxicity = 1.0,
    stream: Stream = "downstream",
    duration: For = None,
) -> None:
    """Close each connection after it carried so many bytes."""
    _inject("limit_data", to, duration, bytes=nbytes, toxicity=toxicity, stream=stream)


@group.command("list")
def list_faults() -> None:
    """The network and application faults in place now."""
    lab = make_lab()
    try:
        lines = lab.net_faults()
    except LabStateError:  # the links do not go through the proxy: no network fault
        lines = []
    for line in lines:
        typer.echo(line)
    if not lines:
        console.print("no network faults")
    app_faults = {replica: f for replica, f in lab.app_faults().items() if f}
    for replica, faults in app_faults.items():
        for found in faults:
            typer.echo(f"{replica}: {found}")
    if not app_faults:
        console.print("no application faults")


@group.command()
def clear() -> None:
    """Remove every network and application fault (every link up, every toxic gone)."""
    lab = make_lab()
    try:
        lab.clear_net_faults()
        console.print("network faults cleared")
    except LabStateError:
        pass
    console.print(f"application faults cleared: {lab.clear_app_faults()}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="fault")
