"""Drawing a ``Snapshot`` for the terminal (rich). No I/O here: ``render`` is pure."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lab import fmt
from lab.watch import Snapshot

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float], width: int = 60) -> str:
    """The last ``width`` values as block characters, scaled to their own maximum."""
    points = list(values)[-width:]
    top = max(points, default=0.0)
    if top <= 0:
        return BLOCKS[0] * len(points)
    return "".join(BLOCKS[min(len(BLOCKS) - 1, int(v / top * (len(BLOCKS) - 1)))] for v in points)


def latency_style(seconds: float | None, slo: float) -> str:
    if seconds is None:
        return "dim"
    if seconds > slo:
        return "bold red"
    return "yellow" if seconds > 0.8 * slo else "green"


def ratio_style(value: float | None, bad: float) -> str:
    if value is None:
        return "dim"
    return "bold red" if value > bad else "green"


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", min_width=14)
    grid.add_column()
    return grid


def render(snap: Snapshot, history: Iterable[float], *, slo: float, source: str) -> RenderableType:
    """One frame: traffic, latency vs SLO, errors, replicas, queue, cache, CPU, client view."""
    main = _grid()
    main.add_row(
        "req/s",
        Text.assemble(
            (fmt.rate(snap.rps), "bold cyan"), " API   ", (fmt.rate(snap.lb_rps), "cyan"), " LB"
        ),
    )
    main.add_row("", Text(sparkline(history), style="cyan"))
    latency = Text()
    for name, value in (("p50", snap.p50), ("p95", snap.p95), ("p99", snap.p99)):
        latency.append(f"{name} ")
        latency.append(fmt.ms(value), style=latency_style(value, slo))
        latency.append("   ")
    latency.append(f"SLO {slo * 1000:,.0f} ms", style="dim")
    main.add_row("latency", latency)
    if snap.client is not None:  # the same p95 seen from both ends, side by side
        main.add_row(
            "p95 both ends",
            Text.assemble(
                "server ",
                (fmt.ms(snap.p95), latency_style(snap.p95, slo)),
                "   client (HDR) ",
                (fmt.ms(snap.client.hdr_p95), latency_style(snap.client.hdr_p95, slo)),
            ),
        )
    main.add_row(
        "errors", Text(fmt.pct1(snap.error_ratio), style=ratio_style(snap.error_ratio, 0.01))
    )
    replicas = "  ".join(f"{job} {count:.0f}" for job, count in snap.replicas.items())
    main.add_row("replicas", replicas or fmt.NONE)
    main.add_row(
        "queue",
        f"depth {fmt.rate(snap.queue_depth)}   in flight {fmt.rate(snap.queue_in_flight)}",
    )
    main.add_row(
        "orders/s",
        f"accepted {fmt.rate(snap.orders_accepted)}   processed {fmt.rate(snap.orders_processed)}",
    )
    main.add_row("cache hits", fmt.pct1(snap.cache_hit_ratio))
    parts: list[RenderableType] = [main, _resources(snap)]
    if snap.client is not None:
        parts.append(_client(snap, slo))
    stamp = time.strftime("%H:%M:%S", time.localtime(snap.t))
    return Panel(
        Group(*parts),
        title="[bold]prodlab — lab watch[/]",
        subtitle=f"{stamp} · {source} · Ctrl-C to quit",
        title_align="left",
        subtitle_align="right",
    )


def _resources(snap: Snapshot) -> RenderableType:
    table = Table(title="CPU and memory per service", title_justify="left", box=None)
    table.add_column("service")
    table.add_column("cores", justify="right")
    table.add_column("", min_width=20)
    table.add_column("memory", justify="right")
    for service in sorted(set(snap.cpu) | set(snap.memory)):
        cores = snap.cpu.get(service)
        bar = "█" * round(min(cores or 0.0, 2.0) * 10)
        memory = snap.memory.get(service)
        table.add_row(
            service,
            fmt.NONE if cores is None else f"{cores:.2f}",
            Text(bar, style="magenta"),
            fmt.NONE if memory is None else fmt.size(memory),
        )
    return table


def _client(snap: Snapshot, slo: float) -> RenderableType:
    assert snap.client is not None
    c = snap.client
    grid = _grid()
    grid.add_row(
        "client view",
        Text.assemble(
            f"users {c.users:.0f}   req/s {fmt.rate(c.rps)}   failures ",
            (fmt.pct1(c.fail_ratio), ratio_style(c.fail_ratio, 0.01)),
            "   p95 ",
            (fmt.ms(c.p95), latency_style(c.p95, slo)),
        ),
    )
    if (c.late_rate or 0) > 0 or (c.dropped_rate or 0) > 0:  # never hidden
        grid.add_row(
            "open loop",
            Text.assemble(
                ("arrivals late/s ", "bold yellow"),
                fmt.rate(c.late_rate),
                ("   dropped/s ", "bold red"),
                fmt.rate(c.dropped_rate),
                ("   (too few users for the rate)", "dim"),
            ),
        )
    return grid
