"""`lab watch` (live terminal dashboard) and `lab open` (where everything is)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.live import Live

from lab.cli.context import console, make_lab
from lab.errors import LabError
from lab.lab import Lab
from lab.watch import Watcher
from lab.watch_view import render


def watch(
    interval: Annotated[
        float, typer.Option("--interval", "-i", min=0.2, help="seconds between refreshes")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="print one frame and exit")] = False,
) -> None:
    """Live terminal view of the lab: req/s, latency vs SLO, errors, replicas, queue, CPU."""
    lab = make_lab()
    watcher = Watcher(lab.prometheus, interval=interval)
    watcher.check()
    watcher.backfill()
    slo, source = lab.settings.slo_seconds, f"Prometheus {watcher.prom.url}"
    if once:
        console.print(render(watcher.snapshot(), watcher.history, slo=slo, source=source))
        return
    try:
        with Live(console=console, auto_refresh=False, screen=False) as live:
            for snap in watcher.frames():
                live.update(render(snap, watcher.history, slo=slo, source=source), refresh=True)
    except KeyboardInterrupt:
        pass


def links(lab: Lab) -> dict[str, object]:
    """Every URL a user may want, for the runtime in use."""
    lb = lab.runtime.endpoint("lb").url
    found: dict[str, object] = {
        "runtime": lab.runtime.name,
        "lb": lb,
        "api_docs": f"{lb}/docs",
        "prometheus": lab.runtime.endpoint("prometheus").url,
        "locust": f"http://127.0.0.1:{lab.settings.locust_port}",
    }
    if lab.runtime.name != "compose":
        found["grafana"] = None
        found["grafana_note"] = (
            "Grafana runs only under Docker (`lab up --runtime compose`); "
            "natively use `lab watch` or the Prometheus UI"
        )
        return found
    found["grafana"], notes = grafana_login(lab)
    if notes:
        found["grafana_note"] = "; ".join(notes)
    return found


def grafana_login(lab: Lab) -> tuple[dict[str, object], list[str]]:
    """Grafana's URL, user and generated password under Compose, and what is amiss."""
    from lab.annotations import GRAFANA_USER, grafana_password

    notes = []
    try:
        url = lab.runtime.endpoint("grafana").url
    except LabError:
        url = f"http://{lab.settings.bind_host}:{lab.settings.grafana_port}"
        notes.append(
            "Grafana is not running in this lab (its image is absent here; "
            "`lab up` starts it when the image is present or can be pulled)"
        )
    password: str | None
    try:
        password = grafana_password(lab.runtime)
    except LabError as exc:
        password = None
        notes.append(f"password not readable: {exc.message}")
    return {"url": url, "user": GRAFANA_USER, "password": password}, notes


def open_(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Where everything is: the API, its docs, Prometheus, Grafana (with login), Locust."""
    found = links(make_lab())
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    rows = [
        ("API (LB)", str(found["lb"])),
        ("API docs", str(found["api_docs"])),
        ("Prometheus", str(found["prometheus"])),
    ]
    grafana = found["grafana"]
    if isinstance(grafana, dict):
        login = f"{grafana['user']} / {grafana['password'] or '(see note)'}"
        rows.append(("Grafana", f"{grafana['url']}   login {login}"))
        rows.append(("Dashboards", f"{grafana['url']}/d/lab-overview"))
    if "grafana_note" in found:
        rows.append(("" if grafana else "Grafana", f"[dim]{found['grafana_note']}[/]"))
    rows.append(("Locust UI", f"{found['locust']}   (during a scenario run)"))
    for name, value in rows:
        # soft_wrap: a URL or a password is never broken over two lines
        console.print(f"[bold]{name:<11}[/] {value}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(watch)
    app.command(name="open")(open_)
