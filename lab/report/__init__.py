"""Run reports: render a run folder, list runs, compare two.

``render_run`` reads the run folder alone (``lab.run.reader``; no Prometheus) and writes
``junit.xml``, ``summary.md``, ``plots/*.png``, ``report.html`` (and a capacity run's
``capacity.json``) next to its files; it
can be run again at any time (`lab report RUN`).
"""

from __future__ import annotations

from pathlib import Path

from lab.fsio import atomic_write_text
from lab.report.catalog import RunSummary, list_runs, resolve_run
from lab.report.compare import Comparison, compare_runs, write_compare_html
from lab.run.reader import RunRecord, read_run

__all__ = [
    "Comparison",
    "RunRecord",
    "RunSummary",
    "compare_runs",
    "list_runs",
    "read_run",
    "render_run",
    "resolve_run",
    "write_compare_html",
]


def render_run(run_dir: Path) -> Path:
    """Render a run's report files; returns the path of ``report.html``."""
    from lab.report.capacity import write_capacity_files
    from lab.report.html import render_html
    from lab.report.junit import write_junit
    from lab.report.plots import render_plots
    from lab.report.summary import write_summary

    run = read_run(run_dir)
    write_junit(run.verdict, run_dir / "junit.xml")
    write_summary(run, run_dir / "summary.md")
    plots = render_plots(run, run_dir / "plots")
    write_capacity_files(run, run_dir)  # before the page: it shows the capacity plots
    report = run_dir / "report.html"
    atomic_write_text(report, render_html(run, plots))
    return report
