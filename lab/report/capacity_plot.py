"""The capacity plot: daily active users (log axis) → API replicas needed, with the ceilings.

The replicas the USL asks for (and, dashed, what linear scaling at the measured knee would
ask for) against the user count; horizontal lines at the USL's peak N* and at the replicas
whose pools fill Postgres' connections (max_connections / pool); a dotted vertical line at
the user count where each component breaks. Where the USL cannot reach the peak, the curve
stops.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from lab.capacity.model import Measured, UserModel
from lab.capacity.plan import Plan, plan_row
from lab.capacity.usl import UslFit, Validation
from lab.report.plots import DPI, SIZE

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TITLE = "API replicas needed against daily active users"
CEILING_COLORS = ("#c44e52", "#8172b2", "#937860")


def draw_capacity(plan: Plan, model: UserModel, measured: Measured, path: Path) -> Path:
    """Draw the plan into ``path`` (PNG); returns it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE[0], SIZE[1] * 1.5), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3, which="both")
    _curves(ax, plan, model, measured)
    _ceilings(ax, plan, measured)
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _save(fig, ax, ("daily active users", "API replicas", TITLE), path)


def _curves(ax: Axes, plan: Plan, model: UserModel, measured: Measured) -> None:
    users = [row.users for row in plan.rows]
    low, high = math.log10(min(users)), math.log10(max(users))
    grid = sorted({round(10 ** (low + (high - low) * k / 120)) for k in range(121)} | set(users))
    rows = [plan_row(model, measured, u) for u in grid]
    sized = [(r.users, r.api_replicas) for r in rows if r.api_replicas is not None]
    if sized:
        ax.plot(*zip(*sized, strict=True), "-", color="#4c72b0", lw=1.8,
                drawstyle="steps-post", label="USL fit, with headroom")  # fmt: skip
    linear = [(r.users, r.api_replicas_linear) for r in rows]
    ax.plot(*zip(*linear, strict=True), "--", color="#4c72b0", lw=1.0, alpha=0.6,
            label="linear at the measured knee")  # fmt: skip
    for row in plan.rows:
        if row.api_replicas is not None:
            ax.plot([row.users], [row.api_replicas], "o", color="#4c72b0", ms=5)
            ax.annotate(f"{row.api_replicas}", (row.users, row.api_replicas),
                        textcoords="offset points", xytext=(4, -10), fontsize=8)  # fmt: skip
        else:
            ax.annotate("past the USL ceiling", (row.users, 1), textcoords="offset points",
                        xytext=(0, 4), fontsize=8, rotation=90, color="#c44e52")  # fmt: skip


def _ceilings(ax: Axes, plan: Plan, measured: Measured) -> None:
    peak = measured.usl.peak_n
    if peak is not None:
        ax.axhline(peak, color=CEILING_COLORS[0], lw=1.2, label=f"USL peak N* = {peak:.1f}")
    per_db = measured.connection_limit / measured.api_db_pool
    ax.axhline(per_db, color=CEILING_COLORS[1], lw=1.2,
               label=f"max_connections / pool = {per_db:.0f} replicas")  # fmt: skip
    users = [row.users for row in plan.rows]
    for color, ceiling in zip(CEILING_COLORS, plan.ceilings, strict=False):
        if ceiling.users is not None and min(users) <= ceiling.users <= max(users):
            ax.axvline(ceiling.users, color=color, lw=1.0, ls=":",
                       label=f"{ceiling.component} break at {ceiling.users:,} users")  # fmt: skip


USL_TITLE = "Knee against API replicas: measured, and the USL fitted to it"


def draw_usl(fitted: UslFit, validation: Validation | None, design_per_replica: float,
             path: Path) -> Path:  # fmt: skip
    """The measured knees, the USL fitted to all of them, the fit without the held-out
    point and its prediction there, and linear scaling at the one-replica knee."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE[0], SIZE[1] * 1.4), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    counts = [n for n, _ in fitted.points]
    top = max(16, 2 * max(counts))
    grid = [1 + (top - 1) * k / 200 for k in range(201)]
    ax.plot(grid, [design_per_replica * n for n in grid], ":", color="#888888", lw=1.0,
            label=f"the design: N × {design_per_replica:g} req/s")  # fmt: skip
    ax.plot(grid, [fitted.predict(1) * n for n in grid], "--", color="#4c72b0", lw=1.0,
            alpha=0.6, label="linear at the fitted one-replica rate")  # fmt: skip
    ax.plot(grid, [fitted.predict(n) for n in grid], "-", color="#4c72b0", lw=1.8,
            label=f"USL, all points (σ {fitted.sigma:.3f}, κ {fitted.kappa:.5f})")  # fmt: skip
    held = 0 if validation is None else validation.held_out_n
    if validation is not None:
        v = validation.fit
        ax.plot(grid, [v.predict(n) for n in grid], "-.", color="#dd8452", lw=1.2,
                label=f"USL without N = {held}")  # fmt: skip
        ax.plot([float(held)], [validation.predicted], "x", color="#dd8452", ms=9, mew=2,
                label=f"its prediction at N = {held} ({validation.error:.1%} off)")  # fmt: skip
    seen = [(n, x) for n, x in fitted.points if n != held]
    ax.plot(*zip(*seen, strict=True), "o", color="#222222", ms=5, label="measured knee")
    out = [(n, x) for n, x in fitted.points if n == held]
    if out:
        ax.plot(*zip(*out, strict=True), "o", mfc="white", mec="#222222", ms=7,
                label="measured, held out")  # fmt: skip
    if (peak := fitted.peak_n) is not None and peak <= top:
        ax.axvline(peak, color=CEILING_COLORS[0], lw=1.0, label=f"N* = {peak:.1f}")
    ax.set_xlim(0, top + 0.5)
    ax.set_ylim(0, None)
    return _save(fig, ax, ("API replicas (N)", "req/s at the knee", USL_TITLE), path)


def _save(fig: Figure, ax: Axes, labels: tuple[str, str, str], path: Path) -> Path:
    """Label the axes (x, y, title), put the legend outside on the right, write the PNG."""
    x, y, title = labels
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title, loc="left", fontsize=11)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", bbox_inches="tight")
    return path
