"""`lab fault proc ...`: process faults on one instance, from the command line.

The same verbs as a scenario's ``fault`` step, journalled and annotated the same way.
``kill`` is a crash (the service's ``restart:`` policy may bring it back); ``stop`` is on
purpose (never restarted). ``stop`` and ``pause`` take ``--for SECONDS``: the fault is
undone after that long, and on Ctrl-C.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Annotated

import typer

from lab.cli.context import console, make_lab
from lab.errors import AlreadyRunning, ConfigError
from lab.lab import Lab
from lab.process_groups import shielded

app = typer.Typer(help="Process faults: kill, stop, start, restart, pause, resume.")

UNDONE = {"start": "started", "resume": "resumed"}
Instance = Annotated[str, typer.Argument(help="e.g. api-2, worker-1")]
For = Annotated[
    float | None,
    typer.Option("--for", help="undo the fault after this many seconds (and on Ctrl-C)"),
]


@contextmanager
def _held(lab: Lab, instance: str, seconds: float | None, undo: str) -> Iterator[None]:
    """Around a fault: keep it ``seconds``, then undo it, also on Ctrl-C (even one that
    comes while the fault is being applied). Without ``seconds`` the fault stays."""
    if seconds is not None and seconds <= 0:
        raise ConfigError(f"--for must be more than 0 seconds, not {seconds:g}")
    try:
        yield
        if seconds is None:
            console.print(f"undo with `lab fault proc {undo} {instance}`")
            return
        with console.status(f"holding for {seconds:g} s (Ctrl-C ends it early)…"):
            time.sleep(seconds)
    finally:
        if seconds is not None:
            with shielded():  # a second Ctrl-C must not leave the fault in place
                with suppress(AlreadyRunning):  # interrupted before the fault took hold
                    getattr(lab, undo)(instance)
                console.print(f"{UNDONE[undo]} {instance}")


@app.command()
def kill(instance: Instance) -> None:
    """SIGKILL, as a crash: its restart policy decides whether it comes back."""
    make_lab().kill(instance)
    console.print(f"killed {instance}")


@app.command()
def stop(instance: Instance, for_s: For = None) -> None:
    """Stop gracefully (SIGTERM); a stopped instance is never restarted by its policy."""
    lab = make_lab()
    with _held(lab, instance, for_s, "start"):
        lab.stop(instance)
        console.print(f"stopped {instance}")


@app.command()
def start(instance: Instance) -> None:
    """Start a stopped or killed instance and wait until it is ready."""
    make_lab().start(instance)
    console.print(f"started {instance}")


@app.command()
def restart(instance: Instance) -> None:
    """Stop gracefully, start again, wait until ready."""
    make_lab().restart(instance)
    console.print(f"restarted {instance}")


@app.command()
def pause(instance: Instance, for_s: For = None) -> None:
    """Freeze (SIGSTOP; docker pause): alive, holding its connections, answering nothing."""
    lab = make_lab()
    with _held(lab, instance, for_s, "resume"):
        lab.pause(instance)
        console.print(f"paused {instance}")


@app.command()
def resume(instance: Instance) -> None:
    """Thaw a paused instance (SIGCONT; docker unpause)."""
    make_lab().resume(instance)
    console.print(f"resumed {instance}")
