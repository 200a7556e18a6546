"""``summary.md``, and the tables and sentences it shares with ``report.html``."""

from __future__ import annotations

from pathlib import Path

from lab import fmt
from lab.fsio import atomic_write_text
from lab.run.reader import RunRecord

CHECK_HEADER = ("check", "result", "value", "wanted", "detail")
PHASE_HEADER = (
    "phase",
    "users",
    "replicas",
    "server req/s",
    "p95",
    "p99",
    "errors",
    "client req/s",
    "client p95",
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
            str(p.users),
            fmt.replicas(p.replicas),
            fmt.rps(p.rps),
            fmt.ms(p.p95),
            fmt.ms(p.p99),
            fmt.pct(p.error_ratio),
            fmt.rps(p.client.rps),
            fmt.ms(p.client.p95),
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


def knee_text(run: RunRecord) -> str:
    knee = run.verdict.knee
    if knee is None:
        return "No knee: p95 stayed under the SLO at every load tried (or none was searched)."
    return (
        f"The knee is at {knee.users} users: {fmt.rps(knee.rps)} with p95 {fmt.ms(knee.p95)}, "
        f"past the SLO of {fmt.ms(run.verdict.slo_seconds)}. Beyond it, more users only "
        "queue: throughput stays flat while latency climbs."
    )


def knee_rows(run: RunRecord) -> list[tuple[str, ...]]:
    knee = run.verdict.knee
    return [
        (str(s.users), fmt.rps(s.rps), fmt.ms(s.server_p95), fmt.ms(s.client_p95))
        for s in (knee.steps if knee else ())
    ]


KNEE_HEADER = ("users", "server req/s", "server p95", "client p95")


def saturation_text(run: RunRecord) -> str | None:
    sat = run.verdict.saturation
    if sat is None:
        return None
    return sat.detail or (f"{sat.resource} saturated" if sat.resource else "nothing saturated")


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
        "## Knee",
        "",
        knee_text(run),
    ]
    if rows := knee_rows(run):
        lines += ["", *table(KNEE_HEADER, rows)]
    if (note := saturation_text(run)) is not None:
        lines += ["", "## Saturation", "", note]
    lines += ["", "Plots: `plots/*.png`; everything in one page: `report.html`.", ""]
    atomic_write_text(path, "\n".join(lines))


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    if not rows:
        return ["(none)"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
