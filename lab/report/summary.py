"""``summary.md``, and the tables and sentences it shares with ``report.html``."""

from __future__ import annotations

from pathlib import Path

from lab import fmt
from lab.fsio import atomic_write_text
from lab.report import autoscaling
from lab.report.capacity import capacity_section
from lab.report.lesson import (
    KNEE_HEADER,
    PREDICTION_HEADER,
    arrivals_note,
    arrivals_text,
    knee_rows,
    knee_text,
    load_text,
    phase_lessons,
    prediction_rows,
)
from lab.run.reader import RunRecord

__all__ = ["KNEE_HEADER", "knee_rows", "knee_text"]  # shared with report.html

CHECK_HEADER = ("check", "result", "value", "wanted", "detail")
PHASE_HEADER = (
    "phase",
    "load",
    "replicas",
    "server req/s",
    "server p95",
    "client p95 (HDR)",
    "client p99 (HDR)",
    "errors",
    "client req/s",
    "late / dropped",
    "saturated",
)


def check_rows(run: RunRecord) -> list[tuple[str, ...]]:
    return [
        (
            c.name,
            "pass" if c.passed else "FAIL",
            fmt.num(c.value),
            c.threshold,
            c.detail,
        )
        for c in run.verdict.checks
    ]


def phase_rows(run: RunRecord) -> list[tuple[str, ...]]:
    return [
        (
            p.name,
            load_text(p),
            fmt.replicas(p.replicas),
            fmt.rps(p.rps),
            fmt.ms(p.p95),
            fmt.ms(p.client.hdr_p95),
            fmt.ms(p.client.hdr_p99),
            fmt.pct(p.error_ratio),
            fmt.rps(p.client_measure("rps")),
            arrivals_text(p),
            p.saturated or fmt.NONE,
        )
        for p in run.verdict.phases
    ]


def headline(run: RunRecord) -> str:
    v = run.verdict
    failed = [c.name for c in v.checks if not c.passed]
    if v.aborted:
        return f"The run was aborted: {v.aborted}."
    if not v.checks:
        return "The run recorded no checks."
    if failed:
        return f"{len(failed)} of {len(v.checks)} checks failed: {', '.join(failed)}."
    return f"All {len(v.checks)} checks passed."


def opening(run: RunRecord) -> list[tuple[str, str]]:
    """What a report opens with, after what the run set out to show (the concept) and the
    result (the headline): how the predictions fared, and what to try next."""
    v = run.verdict
    predictions = [p for ph in v.phases for p in ph.predictions]
    lines: list[tuple[str, str]] = []
    if predictions:
        held = sum(p.passed for p in predictions)
        missed = [p.text for p in predictions if not p.passed][:3]
        text = f"{held} of {len(predictions)} predictions held"
        lines.append(("Predicted", text + (f"; missed: {'; '.join(missed)}" if missed else "")))
    if v.try_next:
        lines.append(("Try next", v.try_next))
    if v.next_lesson:
        lines.append(
            ("Next lesson", f"`lab scenario {v.next_lesson} --profile quick` (or `lab learn next`)")
        )
    elif v.scenario == "capacity-plan":
        lines.append(("Next lesson", "the last one on the path: `lab learn` shows them all"))
    return lines


def saturation_text(run: RunRecord) -> str | None:
    sat = run.verdict.saturation
    if sat is None:
        return None
    return sat.detail or (f"{sat.resource} saturated" if sat.resource else "nothing saturated")


AUDIT_HEADER = (
    "verdict",
    "accepted",
    "processed",
    "deliveries",
    "redelivered",
    "stuck",
    "outbox left",
    "queue pending / unacked",
)


def audit_rows(run: RunRecord) -> list[tuple[str, ...]]:
    """The integrity audit's counts, one row (none for a run from before the audit)."""
    a = run.verdict.audit
    if a is None:
        return []
    queue = f"{a.num_pending if a.num_pending is not None else '?'} / " + (
        f"{a.num_ack_pending if a.num_ack_pending is not None else '?'}"
    )
    return [
        (
            "exact" if a.passed else "FAILED",
            str(a.orders),
            str(a.processed),
            str(a.deliveries),
            str(a.redelivered),
            str(a.stuck),
            str(a.outbox_left),
            queue,
        )
    ]


def write_summary(run: RunRecord, path: Path) -> None:
    v = run.verdict
    lines = [
        f"# {v.title}",
        "",
        f"**{fmt.verdict(v.passed, v.aborted)}** · scenario `{v.scenario}` · profile "
        f"`{v.profile}` · runtime `{v.runtime}` · {fmt.when(v.started)} · "
        f"{fmt.duration(run.duration)} · SLO p95 < {fmt.ms(v.slo_seconds)}",
        "",
        v.concept,
        "",
        headline(run),
        "",
        *(f"- **{label}**: {text}" for label, text in opening(run)),
        *(["", note] if (note := arrivals_note(run)) else []),
        "",
        "## Predicted vs measured",
        "",
        *table(PREDICTION_HEADER, prediction_rows(run)),
        "",
        "## Checks",
        "",
        *table(CHECK_HEADER, check_rows(run)),
        "",
        "## Phases",
        "",
        *table(PHASE_HEADER, phase_rows(run)),
        "",
        *(f"- **{p.name}**: {p.narrative}" for p in v.phases if p.narrative),
        "",
        "Server p95 is interpolated from the API's latency histogram (Prometheus); client "
        "percentiles are exact (HDR) over the same steady window and, in an open loop, count "
        "from each request's intended send time.",
        "",
        *lesson_lines(run),
        "## Knee",
        "",
        knee_text(run),
    ]
    if rows := knee_rows(run):
        lines += ["", *table(KNEE_HEADER, rows)]
    if (note := saturation_text(run)) is not None:
        lines += ["", "## Saturation", "", note]
    if (cost := autoscaling.cost_text(run)) is not None:
        lines += ["", "## Autoscaler", "", cost]
        if rows := autoscaling.scale_up_rows(run):
            lines += ["", *table(autoscaling.SCALE_UP_HEADER, rows)]
    if (section := capacity_section(run)) is not None:
        lines += ["", *section.markdown()]
    if rows := audit_rows(run):
        assert run.verdict.audit is not None
        lines += ["", "## Integrity audit", "", *table(AUDIT_HEADER, rows), ""]
        lines.append(run.verdict.audit.detail)
    lines += ["", "Plots: `plots/*.png`; everything in one page: `report.html`.", ""]
    atomic_write_text(path, "\n".join(lines))


def lesson_lines(run: RunRecord) -> list[str]:
    lessons = phase_lessons(run)
    if not lessons:
        return []
    lines = ["## The lesson, phase by phase", ""]
    for name, items in lessons:
        lines += [f"### {name}", "", *(f"- **{label}**: {text}" for label, text in items), ""]
    return lines


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    if not rows:
        return ["(none)"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
