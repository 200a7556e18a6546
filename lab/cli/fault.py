"""`lab fault ...`: break the running system on purpose. Each kind of fault is a subgroup
in its own module (``fault_proc``: processes; ``fault_app``: application faults in the API
replicas)."""

from __future__ import annotations

import typer

from lab.cli import fault_app, fault_proc

app = typer.Typer(
    help="Inject faults into the running lab (undone with --for or on Ctrl-C).",
    no_args_is_help=True,
)
app.add_typer(fault_proc.app, name="proc")
app.add_typer(fault_app.group, name="app")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="fault")
