"""The pool plot: the API's database connections in use against the pool's size, callers
waiting for a connection and requests waiting for a work slot, with throughput on a second
axis. Drawn for a run whose pool ran full at least once (a connection pool as a
bottleneck): in every other run the pool is a line at the bottom of an empty plot."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lab import rules
from lab.run.reader import RunRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TITLE = "DB pool and work slots (throughput on the right)"
UNIT = "connections / requests"
SERIES = (  # rule, label, style, width, opacity (the size: wide and pale, in use runs on it)
    (rules.DB_POOL_MAX_SIZE, "pool size", "-", 4.0, 0.3),
    (rules.DB_POOL_IN_USE, "connections in use", "-", 1.4, 1.0),
    (rules.DB_POOL_WAITERS, "callers waiting for a connection", "-", 1.4, 1.0),
    (rules.API_SLOT_WAITERS, "requests waiting for a work slot", ":", 1.6, 1.0),
)


def pool_ran_full(run: RunRecord) -> bool:
    """Whether the API's connections were all in use at some scrape."""
    series = run.series
    in_use = series.get(rules.DB_POOL_IN_USE) if series else None
    size = series.get(rules.DB_POOL_MAX_SIZE) if series else None
    if in_use is None or size is None:
        return False
    return any(
        math.isfinite(u) and math.isfinite(s) and s > 0 and u >= s
        for u, s in zip(in_use, size, strict=True)
    )


def draw_pool(ax: Axes, run: RunRecord) -> bool:
    series = run.series
    if series is None:
        return False
    t = [run.since_start(x) for x in series.t]
    drawn = False
    for rule, label, style, width, alpha in SERIES:
        values = series.get(rule)
        if values is not None:
            ax.plot(t, values, style, label=label, lw=width, alpha=alpha)
            drawn = True
    rps = series.get(rules.API_RPS)
    if drawn and rps is not None:
        right = ax.twinx()
        right.plot(t, rps, color="#555555", lw=1.0, alpha=0.6)
        right.set_ylabel("req/s")
        right.set_ylim(bottom=0)
        ax.plot([], [], color="#555555", lw=1.0, alpha=0.6, label="API req/s (right axis)")
    if drawn:
        ax.set_ylim(bottom=0)
    return drawn


def place_legend(ax: Axes) -> None:
    """Below the plot: the right axis takes the space where the others put theirs."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
