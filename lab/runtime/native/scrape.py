"""Prometheus file_sd target files of a native lab's services, rewritten after every change.

(Targets of programs outside the lab, the load generator, are registered through
``RuntimeBase.add_scrape_target`` into the same folder.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.metrics.promconfig import write_targets
from lab.runtime.home import targets_dir

if TYPE_CHECKING:
    from lab.runtime.native.context import NativeContext

# Prometheus job → (service whose instances are scraped, how to find the port)
SERVICE_PORT_JOBS = {
    "lb": ("lb", "lb_stats"),
    "postgres": ("postgres-exporter", "postgres-exporter"),
    "redis": ("redis-exporter", "redis-exporter"),
    "lab": ("lab-exporter", "lab-exporter"),
    "prometheus": ("prometheus", "prometheus"),
}


def write_all_targets(ctx: NativeContext) -> None:
    """Every instance the lab runs (dead ones too, so a kill shows as a down target)."""
    folder = targets_dir(ctx.home)
    for job in ("api", "worker"):
        targets = [
            (f"{ctx.host}:{rec.port}", {"service": job, "instance": rec.name})
            for rec in ctx.state.of(job)
            if rec.port is not None and rec.desired == "running"
        ]
        write_targets(folder, job, targets)
    for job, (service, port_key) in SERVICE_PORT_JOBS.items():
        targets = []
        if port_key in ctx.state.ports and ctx.state.of(service):
            name = ctx.state.of(service)[0].name
            targets.append(
                (f"{ctx.host}:{ctx.state.ports[port_key]}", {"service": service, "instance": name})
            )
        write_targets(folder, job, targets)
