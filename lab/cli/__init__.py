"""The `lab` command. Each command group lives in its own module and registers itself.

Errors: commands raise ``LabError``; ``main`` prints one line (what failed, what to do)
and exits non-zero. Nothing below calls ``sys.exit``.
"""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import typer
from rich.console import Console
from rich.markup import escape

from lab.cli import (
    autoscale,
    bench,
    capacity,
    fault,
    learn,
    lifecycle,
    observe,
    runs,
    scenario,
)
from lab.errors import LabError

app = typer.Typer(
    name="lab",
    help="prodlab: boot a real backend, load it, break it, and see what happened.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)

for module in (lifecycle, observe, scenario, runs, bench, fault, autoscale, learn, capacity):
    module.register(app)


def main() -> None:
    logging.basicConfig(
        level=logging.DEBUG if "--debug" in sys.argv else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    argv = [a for a in sys.argv[1:] if a != "--debug"]
    # SIGTERM (a CI timeout, `kill`) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = app(args=argv, prog_name="lab", standalone_mode=False)
    except LabError as exc:
        # soft_wrap: paths and commands in them stay whole (the terminal wraps, not Rich)
        err.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)
        if exc.hint:
            err.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:
        # Typer bundles its own click: recognise its usage errors by their shape.
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):
            show()
            raise SystemExit(exc.exit_code) from None
        if type(exc).__name__ == "Abort":
            err.print("aborted")
            raise SystemExit(130) from None
        raise
    # with standalone_mode=False, typer.Exit(n) comes back as a return value
    if isinstance(code, int) and code:
        raise SystemExit(code)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
