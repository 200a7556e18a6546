"""Two runs of one scenario overlaid, for a lesson's doc page: goodput, server p99, the
5xx ratio and the load generator's dropped arrivals against time, both runs aligned on
the start of one phase (``--align``), phases shaded from run B. The runs' phases line up
when they ran the same file with two profiles, as slow-database's variants do.

    .venv/bin/python scripts/plot_compare.py runs/RUN_A runs/RUN_B docs/img/NAME.png \
        --labels "defences off" "defences on" --align slow-db --until drain

Reads only the run folders (timeseries.csv, verdict.json, events.jsonl), as `lab report`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lab import rules
from lab.report.plots import DPI, PHASE_COLORS, plot
from lab.run.reader import RunRecord, read_run

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PANELS = (
    (rules.API_GOODPUT, "Goodput: answers < 500 within the SLO", "req/s", 1.0),
    (rules.API_P99, "Server p99 (the histogram's top bucket is 10 s)", "ms", 1000.0),
    (rules.API_ERROR_RATIO, "5xx ratio (fast 503/504s, when defended)", "share", 1.0),
    (rules.LOCUST_DROPPED_RATE, "Arrivals dropped by the load generator (no user free)", "/s", 1.0),
)


def phase_start(run: RunRecord, name: str | None) -> float:
    return next((s.start for s in run.spans() if s.name == name), 0.0)


def draw(
    ax: Axes, run: RunRecord, rule: str, label: str, offset: float, scale: float, style: str
) -> None:
    """``rule`` of ``run`` against seconds since ``offset`` (its aligned phase's start)."""
    series = run.series
    values = series.get(rule) if series else None
    if series is None or values is None:
        return
    t = [run.since_start(x) - offset for x in series.t]
    plot(ax, t, [v * scale if math.isfinite(v) else v for v in values], label, style)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--labels", nargs=2, default=("A", "B"))
    parser.add_argument("--align", metavar="PHASE", help="t = 0 where PHASE starts")
    parser.add_argument("--until", metavar="PHASE", help="end the plot where PHASE starts")
    args = parser.parse_args()
    a, b = read_run(args.run_a), read_run(args.run_b)
    off_a, off_b = phase_start(a, args.align), phase_start(b, args.align)
    spans = [(s.name, s.start - off_b, s.end - off_b) for s in b.spans()]
    end = next((s for n, s, _ in spans if n == args.until), b.duration - off_b)
    fig = Figure(figsize=(10.0, 9.5), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PANELS), 1, sharex=True)
    slo_ms = b.verdict.slo_seconds * 1000
    for ax, (rule, title, unit, scale) in zip(axes, PANELS, strict=True):
        ax.grid(True, alpha=0.3)
        draw(ax, a, rule, f"{args.labels[0]} ({a.name})", off_a, scale, "--")
        draw(ax, b, rule, f"{args.labels[1]} ({b.name})", off_b, scale, "-")
        if scale == 1000.0:
            ax.set_yscale("log")
            ax.axhline(slo_ms, color="#c44e52", linewidth=1.2, label=f"SLO {slo_ms:.0f} ms")
        for i, (name, start, stop) in enumerate(spans):
            ax.axvspan(start, stop, color=PHASE_COLORS[i % 2], alpha=0.08, lw=0)
            ax.text(start, 0.97, f" {name}", transform=ax.get_xaxis_transform(), fontsize=7,
                    va="top", color="#333333", clip_on=True)  # fmt: skip
        ax.set_title(title, loc="left", fontsize=10)
        ax.set_ylabel(unit)
        ax.set_xlim(max(spans[0][1], -off_b) if spans else 0, end)
        ax.legend(loc="center left", fontsize=7, framealpha=0.9)
    where = f"the start of {args.align}" if args.align else "the run's start"
    axes[-1].set_xlabel(f"seconds since {where}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, format="png", bbox_inches="tight")
    print(args.out)


if __name__ == "__main__":
    main()
