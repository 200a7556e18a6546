"""The report's plots, drawn from a loaded run into ``plots/*.png``.

Every timeline plot shares the x axis (seconds since the run started), shades each phase
and labels it, and draws a dashed line at each scale/fault event. A plot whose series are
all missing says "no data". matplotlib is imported only when drawing, and draws on its
Agg canvas directly (no pyplot, no global backend).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lab import rules
from lab.report.knee_plot import CURVE_TITLE, curve_points, draw_curve, draw_knee
from lab.report.knee_plot import TITLE as KNEE_TITLE
from lab.report.pool_plot import TITLE as POOL_TITLE
from lab.report.pool_plot import UNIT as POOL_UNIT
from lab.report.pool_plot import draw_pool, place_legend, pool_ran_full
from lab.run.reader import RunRecord
from lab.run.timeseries import TimeSeries

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PHASE_COLORS = ("#4c72b0", "#dd8452")
SIZE = (10.0, 3.2)
DPI = 110


@dataclass(frozen=True)
class Plot:
    name: str  # file stem: plots/<name>.png
    title: str
    path: Path
    has_data: bool


Draw = Callable[["Axes", RunRecord], bool]  # draws what it has; False = nothing to draw


def render_plots(run: RunRecord, out_dir: Path) -> list[Plot]:
    """Draw every plot into ``out_dir``; returns them in report order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = []
    for name, title, unit, draw in TIMELINE:
        plots.append(timeline_plot(run, out_dir, name, title, unit, draw))
    if pool_ran_full(run):  # a connection pool as the bottleneck
        pool = (POOL_TITLE, POOL_UNIT, draw_pool, place_legend)
        plots.append(timeline_plot(run, out_dir, "db-pool", *pool))
    fig, ax = new_figure()
    has_data = draw_scaling(ax, run)
    finish(ax, "Throughput vs API replicas", "req/s", has_data)
    plots.append(save(fig, out_dir, "scaling", "Throughput vs API replicas", has_data))
    if run.verdict.knee is not None:
        fig, ax = new_figure()
        has_data = draw_knee(ax, run)
        finish(ax, KNEE_TITLE, "answered req/s", has_data)
        if has_data:  # inside: the right axis (p95) takes the space outside
            ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
        plots.append(save(fig, out_dir, "knee", KNEE_TITLE, has_data))
    if _retried(run):  # a retry lesson
        unit = "attempts / call"
        plots.append(timeline_plot(run, out_dir, "retries", RETRIES_TITLE, unit, draw_retries))
    if len(curve_points(run)) >= 3:  # a latency-against-load lesson
        fig, ax = new_figure()
        has_data = draw_curve(ax, run)
        finish(ax, CURVE_TITLE, "ms", has_data)
        plots.append(save(fig, out_dir, "latency-vs-load", CURVE_TITLE, has_data))
    return plots


def timeline_plot(
    run: RunRecord,
    out_dir: Path,
    name: str,
    title: str,
    unit: str,
    draw: Draw,
    legend: Callable[[Axes], None] | None = None,
) -> Plot:
    """A plot against the run's seconds, its phases marked; ``legend`` places the legend
    where the default one would not fit (a right axis)."""
    fig, ax = new_figure()
    has_data = draw(ax, run)
    ax.set_xlim(0, max(run.duration, 1.0))
    ax.set_xlabel("seconds since start")
    finish(ax, title, unit, has_data)
    if has_data and legend is not None:
        legend(ax)
    mark_phases(ax, run)
    return save(fig, out_dir, name, title, has_data)


def new_figure() -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def finish(ax: Axes, title: str, unit: str, has_data: bool) -> None:
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel(unit)
    if not has_data:
        label = ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
        label.set_fontsize(16)
        label.set_color("#888888")
        ax.set_yticks([])
    elif ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def save(fig: Figure, out_dir: Path, name: str, title: str, has_data: bool) -> Plot:
    path = out_dir / f"{name}.png"
    fig.savefig(path, format="png", bbox_inches="tight")
    return Plot(name, title, path, has_data)


def mark_phases(ax: Axes, run: RunRecord) -> None:
    """Shade every phase (alternating colours, name on top) and mark scale/fault events."""
    trans = ax.get_xaxis_transform()
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, top + (top - bottom) * 0.12)  # room for the phase names
    total = max(run.duration, 1.0)
    for i, span in enumerate(run.spans()):
        ax.axvspan(span.start, span.end, color=PHASE_COLORS[i % 2], alpha=0.07, lw=0)
        narrow = (span.end - span.start) < 0.08 * total
        ax.text(
            span.start,
            0.98,
            f" {span.name}",
            transform=trans,
            fontsize=7,
            va="top",
            rotation=90 if narrow else 0,
            color="#333333",
            clip_on=True,
        )
    for marker in run.markers():
        ax.axvline(marker.t, color="#555555", linestyle="--", linewidth=0.8, alpha=0.7)
        ax.text(
            marker.t,
            0.02,
            f" {marker.label}",
            transform=trans,
            fontsize=6,
            va="bottom",
            rotation=90,
            color="#555555",
            clip_on=True,
        )


# -- the timeline plots ---------------------------------------------------------------------


def line(
    ax: Axes, run: RunRecord, rule: str, label: str, *, scale: float = 1.0, style: str = "-"
) -> bool:
    series = run.series
    values = series.get(rule) if series else None
    if series is None or values is None:
        return False
    return plot(ax, rel_times(run, series), [v * scale for v in values], label, style)


def plot(ax: Axes, t: Sequence[float], values: Sequence[float], label: str, style: str) -> bool:
    if not any(math.isfinite(v) for v in values):
        return False
    step = "steps-post" if style == "steps" else "default"
    ax.plot(t, values, "-" if style == "steps" else style, label=label, lw=1.4, drawstyle=step)
    return True


def rel_times(run: RunRecord, series: TimeSeries) -> list[float]:
    return [run.since_start(t) for t in series.t]


def history(
    run: RunRecord, pick: Callable[[float | None, int], float | None]
) -> tuple[list[float], list[float]]:
    """A series from Locust's per-second history (the fallback when Prometheus has none)."""
    points = run.locust.history
    t = [run.since_start(p.t) for p in points]
    values = [pick(p.rps, p.users) for p in points]
    return t, [math.nan if v is None else v for v in values]


def draw_throughput(ax: Axes, run: RunRecord) -> bool:
    drawn = line(ax, run, rules.API_RPS, "server (API replicas)")
    drawn |= line(ax, run, rules.LB_RPS, "load balancer", style=":")
    client = line(ax, run, rules.LOCUST_RPS, "client (Locust)", style="--")
    if not client:
        t, values = history(run, lambda r, _: r)
        client = plot(ax, t, values, "client (Locust CSV)", "--")
    # the LB covering for a dead replica; drawn only when it had to (a crash, a fault)
    for rule, label in (
        (rules.LB_REDISPATCHES_RATE, "LB redispatches"),
        (rules.LB_RETRIES_RATE, "LB retries"),
    ):
        if _active(run, rule):
            drawn |= line(ax, run, rule, label, style="-.")
    if _active(run, rules.API_SHED_RATE) or _active(run, rules.API_ERROR_RATIO):
        # the overload lessons: what the answers were worth, and what was refused
        drawn |= line(ax, run, rules.API_GOODPUT, "goodput (within the SLO)", style="-.")
        drawn |= line(ax, run, rules.API_SHED_RATE, "shed (fast 503)", style=":")
    return drawn or client


def _active(run: RunRecord, rule: str) -> bool:
    """Whether ``rule`` was ever above zero in the run."""
    values = run.series.get(rule) if run.series else None
    return any(math.isfinite(v) and v > 0 for v in values or ())


def _retried(run: RunRecord) -> bool:
    """Whether any dependency call took more than one attempt in the run."""
    series = run.series.by_prefix("amplification") if run.series else {}
    return any(math.isfinite(v) and v > 1.001 for values in series.values() for v in values)


def draw_retries(ax: Axes, run: RunRecord) -> bool:
    """Dependency attempts per call (1: no retries), for the dependencies that were called."""
    return _draw_family(ax, run, "amplification")


def draw_latency(ax: Axes, run: RunRecord) -> bool:
    drawn = False
    for q, rule in (("p50", rules.API_P50), ("p95", rules.API_P95), ("p99", rules.API_P99)):
        drawn |= line(ax, run, rule, f"server {q}", scale=1000)
    if not line(ax, run, rules.LOCUST_P95, "client p95", scale=1000, style="--"):
        points = run.locust.history
        t = [run.since_start(p.t) for p in points]
        p95 = [math.nan if p.p95 is None else p.p95 * 1000 for p in points]
        drawn |= plot(ax, t, p95, "client p95 (Locust CSV)", "--")
    else:
        drawn = True
    # exact; in an open loop from the intended send time, so a stall shows here first
    drawn |= line(ax, run, rules.LOCUST_HDR_P95, "client p95 (HDR)", scale=1000, style=":")
    slo = run.verdict.slo_seconds * 1000
    ax.axhline(slo, color="#c44e52", linewidth=1.2, label=f"SLO {slo:.0f} ms")
    return drawn


def draw_errors(ax: Axes, run: RunRecord) -> bool:
    drawn = line(ax, run, rules.API_ERROR_RATIO, "server 5xx", scale=100)
    drawn |= line(ax, run, rules.LOCUST_FAILURE_RATIO, "client failures", scale=100, style="--")
    if drawn:
        ax.set_ylim(bottom=0)
    return drawn


def draw_users(ax: Axes, run: RunRecord) -> bool:
    if line(ax, run, rules.LOCUST_USERS, "users", style="steps"):
        return True
    t, values = history(run, lambda _, users: float(users))
    return plot(ax, t, values, "users (Locust CSV)", "steps")


def draw_replicas(ax: Axes, run: RunRecord) -> bool:
    drawn = line(ax, run, rules.API_REPLICAS, "api", style="steps")
    drawn |= line(ax, run, rules.WORKER_REPLICAS, "worker", style="steps")
    if not drawn:  # what the phases measured, held over each phase
        for service in sorted({s for p in run.verdict.phases for s in p.replicas}):
            t, values = [], []
            for span, phase in zip(run.spans(), run.verdict.phases, strict=True):
                t += [span.start, span.end]
                values += [float(phase.replicas.get(service, 0))] * 2
            drawn |= plot(ax, t, values, f"{service} (per phase)", "steps")
    if drawn:
        ax.set_ylim(bottom=0)
    return drawn


def draw_queue(ax: Axes, run: RunRecord) -> bool:
    drawn = line(ax, run, rules.QUEUE_DEPTH, "pending (queue depth)")
    drawn |= line(ax, run, rules.QUEUE_IN_FLIGHT, "in flight (ack pending)", style="--")
    return drawn


DB_READS_COLOR = "#d62728"


def draw_cache(ax: Axes, run: RunRecord) -> bool:
    """The hit ratio, and on a log axis at the right what the cache leaves to Postgres
    (product reads/s: a few when warm, the whole read rate when Redis is down)."""
    drawn = line(ax, run, rules.CACHE_HIT_RATIO, "hit ratio", scale=100)
    if drawn:
        ax.set_ylim(0, 105)
    series = run.series
    reads = series.get(rules.DB_PRODUCT_READS_RATE) if series else None
    if series is None or reads is None or not _active(run, rules.DB_PRODUCT_READS_RATE):
        return drawn
    label = "database product reads/s (right, log)"
    ax.plot([], [], "--", color=DB_READS_COLOR, label=label)  # the legend lives on ax
    right = ax.twinx()
    right.plot(rel_times(run, series), reads, "--", color=DB_READS_COLOR, linewidth=1.2)
    right.set_yscale("log")
    right.set_ylabel("reads/s", color=DB_READS_COLOR)
    right.tick_params(axis="y", colors=DB_READS_COLOR)
    return True


def draw_cpu(ax: Axes, run: RunRecord) -> bool:
    return _draw_family(ax, run, "cpu")


def _draw_family(ax: Axes, run: RunRecord, prefix: str) -> bool:
    """One line per member of a labelled family of columns (``cpu`` per service, ...)."""
    series = run.series
    if series is None:
        return False
    t, drawn = rel_times(run, series), False
    for member, values in sorted(series.by_prefix(prefix).items()):
        drawn |= plot(ax, t, values, member, "-")
    return drawn


TIMELINE: tuple[tuple[str, str, str, Draw], ...] = (
    ("throughput", "Throughput", "req/s", draw_throughput),
    ("latency", "Latency", "ms", draw_latency),
    ("errors", "Errors", "% of requests", draw_errors),
    ("users", "Load (users)", "users", draw_users),
    ("replicas", "Healthy replicas", "replicas", draw_replicas),
    ("queue", "Order queue", "messages", draw_queue),
    ("cache", "Cache hit ratio", "%", draw_cache),
    ("cpu", "CPU per service", "cores", draw_cpu),
)
RETRIES_TITLE = "Dependency attempts per call (retry amplification)"


def draw_scaling(ax: Axes, run: RunRecord) -> bool:
    """The best throughput measured at each API replica count, with linear scaling for
    reference (from the best req/s per replica seen at the fewest replicas)."""
    best: dict[int, tuple[float, str]] = {}
    for p in run.verdict.phases:
        api = p.replicas.get("api")
        if p.rps is not None and api and p.rps > best.get(api, (-1.0, ""))[0]:
            best[api] = (p.rps, p.name)
    points = [(api, rps, name) for api, (rps, name) in sorted(best.items())]
    if not points:
        return False
    ax.scatter(
        [x for x, _, _ in points],
        [y for _, y, _ in points],
        s=40,
        zorder=3,
        label="best phase (measured)",
    )
    for x, y, name in points:
        label = f"{name}: {y:,.0f} req/s"
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, -12), fontsize=7)
    fewest = min(x for x, _, _ in points)
    per_replica = max(y for x, y, _ in points if x == fewest) / fewest
    most = max(x for x, _, _ in points)
    ax.plot(
        [0, most + 0.5],
        [0, per_replica * (most + 0.5)],
        ":",
        color="#888888",
        label="linear scaling",
    )
    ax.set_xlim(0, most + 0.5)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("healthy API replicas")
    ax.set_xticks(range(0, most + 1))
    return True
