"""`lab fault ...`: break the running lab on purpose, one fault kind per subgroup."""

from __future__ import annotations

import typer

from lab.cli import fault_proc

app = typer.Typer(help="Inject faults into the running lab (undone with --for or on Ctrl-C).")
app.add_typer(fault_proc.app, name="proc")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="fault")
