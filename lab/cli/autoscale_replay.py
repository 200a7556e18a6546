"""`lab autoscale replay RUN --policy FILE`: the run's autoscaler again, under another policy.

    lab autoscale replay latest --policy policies/slow-down.yaml
    lab autoscale replay runs/20260101-120000-autoscale --policy p.yaml --capacity 120

Offline (no lab needed): reads the run's ``autoscale/`` record, re-runs the same HPA and
KEDA arithmetic over it (``lab.autoscale.replay``, whose model it prints), shows both
policies' cost and time over the SLO, and draws ``autoscale/replay-<policy>.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lab import fmt
from lab.cli.context import console
from lab.errors import ConfigError, LabError
from lab.settings import Settings

RunArg = Annotated[
    str, typer.Argument(help="a run folder name (or its prefix), a path, or `latest`")
]
PolicyOpt = Annotated[
    Path, typer.Option("--policy", help="the policy to replay (YAML, as `lab autoscale on`)")
]
Capacity = Annotated[
    float | None,
    typer.Option(help="what one API replica can take, in the metric's unit (rps: req/s)"),
]
StartDelay = Annotated[
    float | None, typer.Option(help="seconds before a new replica serves (default: measured)")
]
WorkerRate = Annotated[
    float | None, typer.Option(help="orders/s one worker processes (default: measured)")
]


def replay(
    run: RunArg,
    policy: PolicyOpt,
    capacity: Capacity = None,
    start_delay: StartDelay = None,
    worker_rate: WorkerRate = None,
) -> None:
    """Replay a finished run's autoscaler under another policy: cost, time over SLO, a plot."""
    from lab.autoscale.policy import load_policy
    from lab.autoscale.recorded import read_recording
    from lab.autoscale.replay import replay as replay_run
    from lab.report.autoscale_plot import draw_replay

    run_dir = _run_dir(run)
    recording = read_recording(run_dir)
    result = replay_run(
        recording,
        load_policy(policy),
        policy.stem,
        capacity=capacity,
        start_delay=start_delay,
        worker_rate=worker_rate,
    )
    console.print(f"replay of {run_dir.name} with {policy}", highlight=False)
    for line in result.model.lines():
        console.print(f"[dim]{line}[/]", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    for service in result.services:
        api = service.service == "api"
        table = Table(
            title=f"{service.service}: cost and time over the SLO",
            title_justify="left",
            caption=f"measured: {service.measured_label}",
            caption_justify="left",
        )
        table.add_column("policy")
        for column in (
            "replica·s",
            "scale events",
            "over SLO, model" if api else "peak lag, model",
        ):
            table.add_column(column, justify="right")
        table.add_column("over SLO, measured" if api else "peak lag, recorded", justify="right")
        for track in (service.recorded, service.replayed):
            modelled = track.over_slo_s if api else track.peak_lag
            table.add_row(
                track.label,
                f"{track.replica_seconds:,.0f}",
                str(track.scale_events),
                _seconds(modelled) if api else fmt.num(modelled),
                _seconds(track.measured) if api else fmt.num(track.measured),
            )
        console.print(table)
    path = draw_replay(result, run_dir / "autoscale" / f"replay-{policy.stem}.png")
    typer.echo(str(path))


def _seconds(value: float | None) -> str:
    return fmt.NONE if value is None else f"{value:,.0f} s"


def _run_dir(ref: str) -> Path:
    """A path, or a run in the runs folder (``latest``, a name or its prefix)."""
    as_path = Path(ref).expanduser()
    if as_path.is_dir():
        return as_path
    if "/" in ref or as_path.suffix:
        raise ConfigError(f"no run folder {as_path}", hint="`lab runs` lists the runs")
    from lab.report import resolve_run

    try:
        return resolve_run(Settings.load().runs_path, ref)
    except LabError as exc:
        raise ConfigError(f"no run folder {ref!r}: {exc.message}", hint=exc.hint) from exc


def register(group: typer.Typer) -> None:
    """Add ``replay`` to the ``lab autoscale`` group."""
    group.command("replay")(replay)
