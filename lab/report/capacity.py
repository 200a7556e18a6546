"""The capacity section of a report: the knees and the USL fitted to them, the held-out
check, and the plan to millions, all rebuilt from ``verdict.capacity`` (``lab.capacity``).

    section = capacity_section(run)     # None: not a capacity run
    section.markdown(), section.html()
    write_capacity_files(run, run_dir)  # capacity.json, plots/usl.png, plots/capacity.png
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from pathlib import Path

from lab import fmt
from lab.capacity.record import Planned, from_record
from lab.capacity.render import HEADER, markdown_table, plan_json, plan_rows
from lab.fsio import atomic_write_text
from lab.run.reader import RunRecord

KNEE_HEADER = ("API replicas", "knee req/s", "the design", "per replica", "USL fit", "efficiency")
CAPACITY_PNG = "capacity.png"
USL_PNG = "usl.png"


@dataclass(frozen=True)
class CapacitySection:
    planned: Planned | None
    problem: str | None  # why no plan could be rebuilt

    def knee_rows(self) -> list[tuple[str, ...]]:
        if self.planned is None:
            return []
        p = self.planned
        design, per = p.measured.knee_rps_per_replica, p.record.design_rps_per_replica
        rows: list[tuple[str, ...]] = []
        for n, x in p.fit.points:
            held = " (held out)" if n == p.record.held_out else ""
            rows.append(
                (
                    f"{n}{held}",
                    f"{x:,.1f}",
                    f"{per * n:,.0f}" if per else fmt.NONE,
                    f"{x / n:,.1f}",
                    f"{p.fit.predict(n):,.1f}",
                    fmt.pct(x / (n * design)) if design else fmt.NONE,
                )
            )
        return rows

    def paragraphs(self) -> list[str]:
        if self.planned is None:
            return [f"No plan: {self.problem}"]
        p = self.planned
        mode = (
            "The API's work is io (a wait under the concurrency limit), so the capacity per "
            "replica is the design's and the curve is the design's scaling, up to what the "
            "replicas share (the balancer, Redis, Postgres, the load generator, the cores)."
            if p.record.work == "io"
            else "The API's work is cpu: every replica shares this machine's cores, so the "
            "curve is the machine's ceiling, not the design's scaling."
        )
        check = (
            p.validation.describe()
            if p.validation is not None
            else f"no held-out check (no knee at N = {p.record.held_out} with 6 others)"
        )
        return [mode, p.fit.describe() + ".", check + ".", _little(p)]

    def markdown(self) -> list[str]:
        lines = ["## Capacity: knees, the USL, and the plan to millions", ""]
        for text in self.paragraphs():
            lines += [text, ""]
        if rows := self.knee_rows():
            lines += [*_md_table(KNEE_HEADER, rows), ""]
        if self.planned is not None:
            plan = self.planned.plan
            lines += ["### The plan", "", markdown_table(plan), ""]
            lines += ["Where each component breaks:", ""]
            lines += [f"- {c.component}: {_at(c.users)}" for c in plan.ceilings]
            lines += ["", "Measured and configured:", ""]
            lines += [f"- {b}" for b in plan.measured]
            lines += [f"- {k}: {v}" for k, v in self.planned.record.basis.items()]
            lines += ["", "Assumed (the user model):", ""]
            lines += [f"- {a}" for a in plan.assumptions]
            lines += ["", f"Every row's basis: `capacity.json`; plots `plots/{USL_PNG}`, "
                      f"`plots/{CAPACITY_PNG}`.", ""]  # fmt: skip
        return lines

    def html(self, plots: Path) -> list[str]:
        """The section for report.html, with the plots ``write_capacity_files`` drew."""
        from lab.report.html import data_uri
        from lab.report.html import table as html_table

        parts = ["<h2>Capacity: knees, the USL, and the plan to millions</h2>"]
        parts += [f"<p>{escape(t)}</p>" for t in self.paragraphs()]
        if rows := self.knee_rows():
            parts.append(html_table(KNEE_HEADER, rows))
        for name in (USL_PNG, CAPACITY_PNG):
            if (plots / name).is_file():
                parts.append(f"<figure><img alt='{name}' src='{data_uri(plots / name)}'></figure>")
        if self.planned is not None:
            plan = self.planned.plan
            body = [tuple(c.replace("**", "") for c in row) for row in plan_rows(plan)]
            parts += ["<h3>The plan</h3>", html_table(HEADER, body)]
            items = "".join(f"<li>{escape(f'{c.component}: {_at(c.users)}')}</li>"
                            for c in plan.ceilings)  # fmt: skip
            parts.append(f"<p>Where each component breaks:</p><ul>{items}</ul>")
            basis = [*plan.measured, *(f"{k}: {v}" for k, v in self.planned.record.basis.items())]
            parts.append("<p>Measured and configured:</p><ul>"
                         + "".join(f"<li>{escape(b)}</li>" for b in basis) + "</ul>")  # fmt: skip
            parts.append("<p>Assumed (the user model):</p><ul>"
                         + "".join(f"<li>{escape(a)}</li>" for a in plan.assumptions)
                         + "</ul>")  # fmt: skip
        return parts


def capacity_section(run: RunRecord) -> CapacitySection | None:
    record = run.verdict.capacity
    if record is None:
        return None
    try:
        return CapacitySection(from_record(record), None)
    except ValueError as exc:
        return CapacitySection(None, str(exc))


def write_capacity_files(run: RunRecord, run_dir: Path) -> None:
    """``capacity.json``, ``plots/usl.png`` and ``plots/capacity.png`` (a capacity run)."""
    from lab.report.capacity_plot import draw_capacity, draw_usl

    section = capacity_section(run)
    if section is None or section.planned is None:
        return
    p = section.planned
    data = {
        "fit": {
            "sigma": p.fit.sigma,
            "kappa": p.fit.kappa,
            "lambda": p.fit.lam,
            "r_squared": p.fit.r_squared,
            "peak_n": p.fit.peak_n,
            "points": [list(pt) for pt in p.fit.points],
        },
        "held_out": None
        if p.validation is None
        else {
            "n": p.validation.held_out_n,
            "measured": p.validation.measured,
            "predicted": p.validation.predicted,
            "error": p.validation.error,
        },
        "record": p.record.to_json(),
        "plan": plan_json(p.plan),
    }
    atomic_write_text(run_dir / "capacity.json", json.dumps(data, indent=2, allow_nan=False))
    plots = run_dir / "plots"
    draw_usl(p.fit, p.validation, p.record.design_rps_per_replica, plots / USL_PNG)
    draw_capacity(p.plan, p.model, p.measured, plots / CAPACITY_PNG)


def _little(p: Planned) -> str:
    m = p.measured
    if not m.response_s:
        return "Little's law: no mean response time measured."
    inside = m.knee_rps_per_replica * m.response_s
    return (
        f"Little's law at the one-replica knee: L = λ × W = {m.knee_rps_per_replica:.1f} req/s × "
        f"{m.response_s * 1000:.0f} ms = {inside:.2f} requests inside a replica (of its slots); "
        "each knee phase checks L measured against λ × W measured."
    )


def _at(users: int | None) -> str:
    return "not below 10 billion users" if users is None else f"{users:,} users"


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
