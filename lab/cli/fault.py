"""`lab fault ...`: break the running system on purpose. Each kind of fault is a subgroup
in its own module (``fault_app``: application faults in the API replicas)."""

from __future__ import annotations

import typer

from lab.cli import fault_app

fault = typer.Typer(help="Inject faults into the running lab.", no_args_is_help=True)
fault.add_typer(fault_app.group, name="app")


def register(app: typer.Typer) -> None:
    app.add_typer(fault, name="fault")
