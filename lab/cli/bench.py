"""`lab bench`: the cost of a replica and of the LB hop, as ratios to baselines."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lab.bench import run_bench
from lab.cli.context import console


def bench(
    seconds: Annotated[int, typer.Option(help="wrk duration per target")] = 10,
    connections: Annotated[int, typer.Option(help="wrk connections")] = 32,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Measure one API replica and HAProxy against bare-ASGI and FastAPI baselines (wrk)."""
    with console.status("benchmarking (a private lab, wrk pinned to its own core)…"):
        results = run_bench(seconds=seconds, connections=connections)
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in results], indent=2))
        return
    top = results[0].rps or 1.0
    table = Table(title=f"GET /products/1, wrk -t1 -c{connections} -d{seconds}s")
    for col in ("target", "req/s", "vs bare ASGI", "p50 ms", "p99 ms"):
        table.add_column(col, justify="right" if col != "target" else "left")
    for r in results:
        table.add_row(
            r.name, f"{r.rps:,.0f}", f"{r.rps / top:.2f}×", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}"
        )
    console.print(table)
    if len(results) == 4 and results[2].rps:
        console.print(f"HAProxy hop: {results[3].rps / results[2].rps:.2f}× the direct rate")


def register(app: typer.Typer) -> None:
    app.command()(bench)
