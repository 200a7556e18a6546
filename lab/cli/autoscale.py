"""`lab autoscale ...`: an autoscaler on the running lab, outside any scenario.

    lab autoscale on [--policy FILE] [--sync 1]   # start it in the background
    lab autoscale status [--last 10]              # like `kubectl describe hpa`
    lab autoscale off
    lab autoscale replay RUN --policy FILE        # a finished run under another policy

Without ``--policy`` the API gets an HPA on concurrency (target 0.7, 1–4 replicas) with
Kubernetes' defaults. The background autoscaler journals into ``.lab/autoscale/`` and
posts its decisions on the lab's timeline; ``lab down`` stops it too.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from lab import proc
from lab.autoscale import daemon
from lab.autoscale.journal import DECISIONS, POLICY, REACTIONS, read_records
from lab.autoscale.policy import HpaPolicy, Policy, load_policy, parse_policy
from lab.cli.context import console, make_lab
from lab.errors import LabStateError
from lab.process_groups import MARKER
from lab.run.scaling import Autoscaling

group = typer.Typer(
    help="An autoscaler (Kubernetes HPA / KEDA semantics) on the running lab.",
    no_args_is_help=True,
)
PolicyFile = Annotated[
    Path | None, typer.Option("--policy", help="policy YAML (docs/autoscaling.md)")
]
Sync = Annotated[float | None, typer.Option("--sync", help="sync period, seconds (1-300)")]


def register(app: typer.Typer) -> None:
    from lab.cli import autoscale_replay

    autoscale_replay.register(group)
    app.add_typer(group, name="autoscale")


def _policy(path: Path | None, sync: float | None) -> Policy:
    policy = load_policy(path) if path else Policy(api=HpaPolicy())
    if sync is None:
        return policy
    raw = policy.model_dump(mode="json")
    for key, field in (("api", "sync_s"), ("worker", "polling_s")):
        if raw.get(key):
            raw[key][field] = sync
    return parse_policy(raw, source="--sync")


@group.command()
def on(policy: PolicyFile = None, sync: Sync = None) -> None:
    """Start the autoscaler in the background (one per lab)."""
    lab = make_lab()
    if not lab.is_up():
        raise LabStateError("the lab is not up", hint="run `lab up` first")
    chosen = _policy(policy, sync)
    folder = daemon.folder(lab.settings)
    if (pid := daemon.running(folder)) is not None:
        raise LabStateError(
            f"an autoscaler already runs (pid {pid})", hint="`lab autoscale off` first"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wanted.json").write_text(chosen.model_dump_json())
    popen = proc.spawn(
        [sys.executable, "-m", "lab.cli", "autoscale", "serve"],
        log_path=folder / "autoscaler.log",
        # marked as the lab's: `lab down` and the orphan checks find it like any other
        env={**os.environ, "LAB_HOME": str(lab.settings.home), MARKER: str(lab.settings.state_dir)},
    )
    daemon.wait_started(folder, popen)
    console.print(f"autoscaler on (pid {popen.pid}): {chosen.describe()}")


@group.command(hidden=True)
def serve() -> None:
    """The background autoscaler itself (started by `lab autoscale on`)."""
    lab = make_lab()
    folder = daemon.folder(lab.settings)
    chosen = Policy.model_validate_json((folder / "wanted.json").read_text())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    controller = lab.autoscaler(chosen, folder, Autoscaling())
    daemon.write_pid(folder)
    try:
        stop.wait()
    finally:
        controller.stop()
        lab.events.emit("autoscaler", "autoscaler off", tags=("autoscaler",))
        daemon.clear_pid(folder)


@group.command()
def off() -> None:
    """Stop the background autoscaler (a scale under way finishes first)."""
    lab = make_lab()
    stopped = daemon.stop(daemon.folder(lab.settings))
    console.print("autoscaler off" if stopped else "no autoscaler was running")


@group.command()
def status(
    last: Annotated[int, typer.Option(help="decisions to show")] = 10,
    run: Annotated[Path | None, typer.Option(help="a run folder instead of the lab")] = None,
) -> None:
    """The policy, the last decisions with their arithmetic, and the timed scale-ups."""
    if run is not None:
        folder = run / "autoscale"
        pid = None
    else:
        folder = daemon.folder(make_lab().settings)
        pid = daemon.running(folder)
    if not (folder / POLICY).exists():
        raise LabStateError(f"no autoscaler journal in {folder}", hint="`lab autoscale on`")
    policy = Policy.model_validate_json((folder / POLICY).read_text())
    console.print(f"Autoscaler: {'running, pid ' + str(pid) if pid else 'not running'}")
    console.print(f"Policy:     {policy.describe()}", highlight=False)
    decisions = read_records(folder, DECISIONS)
    for service in ("api", "worker"):
        mine = [d for d in decisions if d.get("service") == service]
        if not mine:
            continue
        now = mine[-1]
        console.print(
            f"\n[bold]{service}[/]: current {now['current']}, desired {now['result']}"
            f" ({now['metric']} {_num(now.get('value'))} / target {now['target']})",
        )
        console.print("Decisions (oldest first):")
        changed = [d for i, d in enumerate(mine) if i == 0 or _shape(d) != _shape(mine[i - 1])]
        for d in changed[-last:]:
            console.print(f"  {_clock(d['t'])}  {d['current']} → {d['result']}: "
                          f"{d['formula']}; {d['reason']}", highlight=False)  # fmt: skip
    reactions = read_records(folder, REACTIONS)
    if reactions:
        console.print("\nScale-ups (breach → serving):")
        for r in reactions[-last:]:
            console.print(f"  {_clock(float(str(r['decided'])))}  {_reaction(r)}", highlight=False)


def _shape(d: dict[str, object]) -> tuple[object, ...]:
    return (d.get("current"), d.get("raw"), d.get("stabilised"), d.get("result"))


def _num(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, int | float) else "?"


def _clock(t: object) -> str:
    import time

    return time.strftime("%H:%M:%S", time.localtime(float(str(t))))


def _reaction(r: dict[str, object]) -> str:
    from lab.run.scaling import ScaleUp

    fields = {k: v for k, v in r.items() if k != "breach_to_served_s"}
    return ScaleUp(**fields).line()  # type: ignore[arg-type]
