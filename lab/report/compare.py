"""Two runs side by side: per-check and per-phase differences, and overlaid plots.

Checks and phases are matched by name (a scenario's names are stable across runs); one
missing on a side shows as "—". ``write_compare_html`` writes a self-contained page.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from lab import fmt, rules
from lab.fsio import atomic_write_text
from lab.report.html import CSS, table
from lab.report.plots import finish, line, new_figure
from lab.run.reader import RunRecord, read_run
from lab.run.verdict import CheckResult, PhaseResult

CHECK_HEADER = ("check", "A", "B", "A value", "B value", "change")
PHASE_HEADER = (
    "phase",
    "users A → B",
    "replicas A → B",
    "req/s A → B",
    "p95 A → B",
    "errors A → B",
    "goodput A → B",
)


@dataclass(frozen=True)
class CheckDiff:
    name: str
    a: CheckResult | None
    b: CheckResult | None

    @property
    def changed(self) -> bool:
        return (self.a.passed if self.a else None) != (self.b.passed if self.b else None)


@dataclass(frozen=True)
class PhaseDiff:
    name: str
    a: PhaseResult | None
    b: PhaseResult | None


@dataclass(frozen=True)
class Comparison:
    a: RunRecord
    b: RunRecord
    checks: list[CheckDiff]
    phases: list[PhaseDiff]

    def check_rows(self) -> list[tuple[str, ...]]:
        return [
            (
                d.name,
                _result(d.a),
                _result(d.b),
                _value(d.a),
                _value(d.b),
                fmt.change(d.a.value if d.a else None, d.b.value if d.b else None),
            )
            for d in self.checks
        ]

    def phase_rows(self) -> list[tuple[str, ...]]:
        return [
            (
                d.name,
                _pair(d, lambda p: str(p.users)),
                _pair(d, lambda p: fmt.replicas(p.replicas)),
                _pair(d, lambda p: fmt.rps(p.rps)) + _change(d, lambda p: p.rps),
                _pair(d, lambda p: fmt.ms(p.p95)) + _change(d, lambda p: p.p95),
                _pair(d, lambda p: fmt.pct(p.error_ratio)),
                _pair(d, lambda p: fmt.rps(p.goodput)) + _change(d, lambda p: p.goodput),
            )
            for d in self.phases
        ]


def compare_runs(a_dir: Path, b_dir: Path) -> Comparison:
    a, b = read_run(a_dir), read_run(b_dir)
    checks = [
        CheckDiff(name, _named(a.verdict.checks, name), _named(b.verdict.checks, name))
        for name in _names(a.verdict.checks, b.verdict.checks)
    ]
    phases = [
        PhaseDiff(name, a.verdict.phase(name), b.verdict.phase(name))
        for name in _names(a.verdict.phases, b.verdict.phases)
    ]
    return Comparison(a, b, checks, phases)


def write_compare_html(comp: Comparison, path: Path) -> None:
    a, b = comp.a, comp.b
    runs = [
        (
            side,
            run.name,
            run.verdict.scenario,
            run.verdict.profile,
            fmt.verdict(run.verdict.passed, run.verdict.aborted),
            fmt.rps(run.peak_rps()),
        )
        for side, run in (("A", a), ("B", b))
    ]
    parts = [
        f"<h1>Compare {escape(a.name)} vs {escape(b.name)}</h1>",
        table(("", "run", "scenario", "profile", "verdict", "peak req/s"), runs),
        "<h2>Checks</h2>",
        table(CHECK_HEADER, comp.check_rows(), ["fail" if d.changed else "" for d in comp.checks]),
        "<h2>Phases</h2>",
        table(PHASE_HEADER, comp.phase_rows()),
        "<h2>Over time</h2>",
        _figure(comp, "Throughput (server)", "req/s", rules.API_RPS, 1.0),
        _figure(comp, "p95 latency (server)", "ms", rules.API_P95, 1000.0),
    ]
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(a.name)} vs {escape(b.name)}</title><style>{CSS}</style></head>"
        "<body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
    atomic_write_text(path, page)


def _figure(comp: Comparison, title: str, unit: str, rule: str, scale: float) -> str:
    fig, ax = new_figure()
    drawn = line(ax, comp.a, rule, f"A {comp.a.name}", scale=scale)
    drawn |= line(ax, comp.b, rule, f"B {comp.b.name}", scale=scale, style="--")
    if scale == 1000.0:
        slo = comp.a.verdict.slo_seconds * 1000
        ax.axhline(slo, color="#c44e52", linewidth=1.2, label=f"SLO {slo:.0f} ms")
    ax.set_xlim(0, max(comp.a.duration, comp.b.duration, 1.0))
    ax.set_xlabel("seconds since start")
    finish(ax, title, unit, drawn)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<figure><img alt='{escape(title)}' src='{uri}'></figure>"


def _names(
    a: Iterable[CheckResult | PhaseResult], b: Iterable[CheckResult | PhaseResult]
) -> list[str]:
    names = [x.name for x in a]
    return names + [x.name for x in b if x.name not in names]


def _named(checks: list[CheckResult], name: str) -> CheckResult | None:
    return next((c for c in checks if c.name == name), None)


def _result(c: CheckResult | None) -> str:
    return fmt.NONE if c is None else ("pass" if c.passed else "FAIL")


def _value(c: CheckResult | None) -> str:
    return fmt.NONE if c is None else fmt.num(c.value)


def _pair(d: PhaseDiff, show: Callable[[PhaseResult], str]) -> str:
    a = show(d.a) if d.a else fmt.NONE
    b = show(d.b) if d.b else fmt.NONE
    return a if a == b else f"{a} → {b}"


def _change(d: PhaseDiff, get: Callable[[PhaseResult], float | None]) -> str:
    a, b = (get(d.a) if d.a else None), (get(d.b) if d.b else None)
    delta = fmt.change(a, b)
    return "" if a == b or delta == fmt.NONE else f" ({delta})"
