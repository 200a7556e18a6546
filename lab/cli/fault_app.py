"""`lab fault app errors|latency|cpu-hog|unready|list|clear`: application faults, switched
on at run time in the API replicas through their loopback-only admin endpoint.

Each fault lasts ``--for`` (the replica drops it then, so a crashed lab leaves none for
longer); ``lab fault app clear`` removes them at once; a replica that restarts has none.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from lab.cli.context import console, make_lab
from lab.errors import ConfigError
from lab.runtime.admin import AppFault

DEFAULT_FOR = "5m"
UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}

group = typer.Typer(
    help="Application faults in the API replicas (admin endpoint): errors, latency, "
    "cpu-hog, unready.",
    no_args_is_help=True,
)

ReplicaOpt = Annotated[
    list[str] | None,
    typer.Option("--replica", help="e.g. api-1 (repeatable); default: every API replica"),
]
ForOpt = Annotated[str, typer.Option("--for", help="how long: 30s, 2m, 500ms")]
RouteOpt = Annotated[str, typer.Option("--route", help="a route template, e.g. /products/{id}")]


def parse_duration(text: str) -> float:
    """``30s`` / ``2m`` / ``500ms`` / ``1h`` / ``45`` (seconds) → seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*", text)
    if found is None:
        raise ConfigError(f"--for: cannot read {text!r} as a duration", hint="e.g. 30s, 2m, 500ms")
    return float(found.group(1)) * UNITS_S[found.group(2)]


def _inject(fault: AppFault, replicas: list[str] | None) -> None:
    targets = make_lab().app_fault(fault, replicas)
    console.print(f"{fault.describe()}: on {', '.join(targets)}")


@group.command()
def errors(
    percent: Annotated[float, typer.Option("--percent", help="share of requests, 0-100")],
    route: Annotated[
        str | None, typer.Option("--route", help="route template, e.g. /products/{id}")
    ] = None,
    dependency: Annotated[
        str | None,
        typer.Option("--dependency", help="postgres or redis: its calls fail instead"),
    ] = None,
    status: Annotated[int, typer.Option("--status", help="the 5xx to answer")] = 500,
    replica: ReplicaOpt = None,
    for_: ForOpt = DEFAULT_FOR,
) -> None:
    """A share of the requests to one route fail with a 5xx naming the fault; or, with
    --dependency, a share of the API's calls to Postgres or Redis (its retries see them)."""
    fault = AppFault(
        kind="errors",
        route=route,
        dependency=dependency,
        percent=percent,
        status=status,
        for_s=parse_duration(for_),
    )
    _inject(fault, replica)


@group.command()
def latency(
    route: RouteOpt,
    ms: Annotated[float, typer.Option("--ms", help="added delay")],
    jitter_ms: Annotated[float, typer.Option("--jitter-ms", help="plus up to this")] = 0.0,
    replica: ReplicaOpt = None,
    for_: ForOpt = DEFAULT_FOR,
) -> None:
    """Requests to one route wait MS (+ up to JITTER_MS) before they are served."""
    fault = AppFault(
        kind="latency",
        route=route,
        fixed_ms=ms,
        jitter_ms=jitter_ms,
        for_s=parse_duration(for_),
    )
    _inject(fault, replica)


@group.command("cpu-hog")
def cpu_hog(
    percent: Annotated[float, typer.Option("--percent", help="share of one core, 1-100")],
    replica: ReplicaOpt = None,
    for_: ForOpt = DEFAULT_FOR,
) -> None:
    """A thread in the replica burns PERCENT of a core (and takes that from its event loop)."""
    _inject(AppFault(kind="cpu-hog", percent=percent, for_s=parse_duration(for_)), replica)


@group.command()
def unready(replica: ReplicaOpt = None, for_: ForOpt = DEFAULT_FOR) -> None:
    """/healthz and /readyz answer 503: the load balancer takes the replica out."""
    _inject(AppFault(kind="unready", for_s=parse_duration(for_)), replica)


@group.command("list")
def list_(
    replica: ReplicaOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """The application faults in force, per replica."""
    found = make_lab().app_faults(replica)
    if as_json:
        console.print_json(json.dumps(found))
        return
    for name, faults in found.items():
        console.print(f"{name}: {len(faults)} fault(s)")
        for fault in faults:
            console.print(f"  {json.dumps(fault)}", highlight=False)


@group.command()
def clear(replica: ReplicaOpt = None) -> None:
    """Remove every application fault now."""
    removed = make_lab().clear_app_faults(replica)
    console.print(f"cleared {removed} application fault(s)")
