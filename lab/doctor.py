"""`lab doctor`: what can run here, what is missing, and the command that fixes it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from lab import proc
from lab.errors import LabCommandError
from lab.lab import Lab, docker_engine_reason
from lab.runtime.native.context import find_binary, pg_binary
from lab.runtime.native.kinds import LAUNCHERS
from lab.wait import port_free

VERSION_FLAGS = {"haproxy": ["-v"], "redis-server": ["--version"], "nats-server": ["--version"]}


@dataclass(frozen=True)
class Finding:
    area: str
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _version(path: str, name: str) -> str:
    flags = VERSION_FLAGS.get(name, ["--version"])
    try:
        done = proc.run([path, *flags], timeout=10, check=False)
    except LabCommandError as exc:
        return f"? ({exc.message})"
    text = (done.stdout or done.stderr).strip()
    match = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", text)
    return match.group(1) if match else text.splitlines()[0][:40] if text else "?"


def diagnose(lab: Lab) -> list[Finding]:
    findings: list[Finding] = []
    missing_pkgs: list[str] = []
    for launcher_cls in LAUNCHERS.values():
        for name in launcher_cls.binaries:
            path = (
                pg_binary(name)
                if name in ("postgres", "initdb", "pg_isready", "psql")
                else find_binary(name)
            )
            if path:
                findings.append(Finding("binary", name, True, f"{_version(path, name)}  {path}"))
            else:
                missing_pkgs.extend(launcher_cls.packages)
                fix = f"apt-get install -y {' '.join(launcher_cls.packages)}"
                findings.append(Finding("binary", name, False, "not found", fix))
    native_ok = not missing_pkgs
    findings.append(
        Finding(
            "runtime",
            "native",
            native_ok,
            "usable: every binary found" if native_ok else "missing binaries (see above)",
            ""
            if native_ok
            else f"apt-get update && apt-get install -y {' '.join(sorted(set(missing_pkgs)))}",
        )
    )
    reason = docker_engine_reason()
    findings.append(
        Finding(
            "runtime",
            "compose",
            reason is None,
            "a Docker engine answers" if reason is None else reason,
            ""
            if reason is None
            else "bash scripts/docker-setup.sh (installs docker.io, starts dockerd)",
        )
    )
    findings.append(swarm_finding(_swarm_info() if reason is None else None, reason))
    chosen = lab.runtime_name
    findings.append(
        Finding("runtime", "selected", True, f"{chosen} (setting: {lab.settings.runtime})")
    )
    s = lab.settings
    up = lab.runtime.is_up() if chosen == "native" or reason is None else False
    for label, port, var in (
        ("lb", s.lb_port, "LAB_LB_PORT"),
        ("prometheus", s.prometheus_port, "LAB_PROMETHEUS_PORT"),
        ("locust", s.locust_port, "LAB_LOCUST_PORT"),
        ("grafana", s.grafana_port, "LAB_GRAFANA_PORT"),
    ):
        free = port_free(s.bind_host, port)
        detail = "free" if free else ("in use (by the running lab)" if up else "in use")
        findings.append(
            Finding(
                "port",
                f"{label} {s.bind_host}:{port}",
                free or up,
                detail,
                "" if free or up else f"free it or set {var}",
            )
        )
    return findings


def _swarm_info() -> dict[str, object] | None:
    try:
        out = proc.run(["docker", "info", "--format", "{{json .Swarm}}"], timeout=30)
    except LabCommandError:
        return None
    found = json.loads(out.stdout or "null")
    return found if isinstance(found, dict) else None


def swarm_finding(info: dict[str, object] | None, docker_reason: str | None) -> Finding:
    """Whether ``lab up --runtime swarm`` can run here, from ``docker info``'s Swarm part."""
    fix = "docker swarm leave --force (then `lab up --runtime swarm` makes a fresh one)"
    if docker_reason is not None or info is None:
        reason = docker_reason or "docker info said nothing about Swarm"
        return Finding("runtime", "swarm", False, reason, "bash scripts/docker-setup.sh")
    state = str(info.get("LocalNodeState") or "")
    if state == "inactive":
        detail = "usable: no swarm yet (`lab up --runtime swarm` initialises a one-node swarm)"
        return Finding("runtime", "swarm", True, detail)
    if state != "active":
        return Finding("runtime", "swarm", False, f"this engine's swarm is {state!r}", fix)
    nodes, managers = info.get("Nodes"), info.get("Managers")
    detail = f"swarm active: {nodes} node(s), {managers} manager(s)"
    if not info.get("ControlAvailable"):
        worker_fix = "run the lab on a manager (`docker node promote` this node)"
        return Finding("runtime", "swarm", False, f"{detail}; this node is a worker", worker_fix)
    return Finding("runtime", "swarm", True, f"usable: {detail}, this node a manager")


def print_report(findings: list[Finding], console: Console | None = None) -> bool:
    console = console or Console()
    table = Table(title="lab doctor", title_justify="left")
    for column in ("", "area", "what", "detail", "fix"):
        table.add_column(column)
    for f in findings:
        mark = "[green]✓[/]" if f.ok else "[red]✗[/]"
        table.add_row(mark, f.area, f.name, f.detail, f.fix)
    console.print(table)
    optional = ("compose", "swarm")  # the native runtime is the one every machine needs
    return all(f.ok for f in findings if f.area != "port" and f.name not in optional)
