"""Run reports: render a run bundle, list runs, compare two.

``render_run`` reads the bundle's files alone (no Prometheus) and writes ``junit.xml``,
``summary.md``, ``plots/*.png`` and ``report.html`` next to them; it can be run again
at any time (`lab report RUN`). The scenario runner writes ``timeseries.csv`` with
``lab.report.timeseries.collect`` before rendering.
"""

from __future__ import annotations

from pathlib import Path

from lab.report.bundle import Bundle, load_bundle
from lab.report.catalog import RunSummary, list_runs, resolve_run
from lab.report.compare import Comparison, compare_runs, write_compare_html

__all__ = [
    "Bundle",
    "Comparison",
    "RunSummary",
    "compare_runs",
    "list_runs",
    "load_bundle",
    "render_run",
    "resolve_run",
    "write_compare_html",
]


def render_run(run_dir: Path) -> Path:
    """Render a bundle's report files; returns the path of ``report.html``."""
    from lab.report.html import render_html
    from lab.report.junit import write_junit
    from lab.report.plots import render_plots
    from lab.report.summary import write_summary

    bundle = load_bundle(run_dir)
    write_junit(bundle.verdict, run_dir / "junit.xml")
    write_summary(bundle, run_dir / "summary.md")
    plots = render_plots(bundle, run_dir / "plots")
    report = run_dir / "report.html"
    tmp = report.with_suffix(".tmp")
    tmp.write_text(render_html(bundle, plots), encoding="utf-8")
    tmp.replace(report)
    return report
