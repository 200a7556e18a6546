"""The lesson in a report: predicted vs measured per phase, the knee beside its
prediction, and open-loop arrivals that were late or dropped (never hidden).

Shared by ``summary.md`` and ``report.html``; everything is read from the run folder.
"""

from __future__ import annotations

from lab import fmt
from lab.run.reader import RunRecord
from lab.run.verdict import KneeStep, PhaseResult, PredictionResult

PREDICTION_HEADER = ("phase", "prediction", "measure", "predicted", "measured", "result")
KNEE_HEADER = (
    "probe",
    "offered",
    "users",
    "answered req/s",
    "server p95",
    "client p95 (HDR)",
    "within SLO",
)


def value(measure: str, number: float | None) -> str:
    """A measure in its unit: seconds as ms, rates as req/s, counts and ratios plain."""
    if number is None:
        return fmt.NONE
    if measure in ("late", "dropped"):
        return f"{number:,.0f}"
    if measure.endswith("_rise"):
        return f"×{number:.2f}"
    if measure in ("pool_use", "slot_use"):
        return fmt.pct(number)
    if measure.startswith(("p", "client_p")) or measure == "mean_latency":
        return fmt.ms(number)
    if measure.endswith("rps"):
        return fmt.rps(number)
    if measure == "error_ratio":
        return fmt.pct(number)
    return f"{number:,.3g}"


def wanted(p: PredictionResult) -> str:
    if p.predicted is None:
        return fmt.NONE
    shown = value(p.measure, p.predicted)
    return f"{shown} ± {p.tolerance:.0%}" if p.op == "~" else f"{p.op} {shown}"


def prediction_rows(run: RunRecord) -> list[tuple[str, ...]]:
    return [
        (
            p.phase,
            p.text,
            p.measure,
            wanted(p),
            value(p.measure, p.measured),
            ("pass" if p.passed else "FAIL") + (f" ({p.detail})" if p.detail else ""),
        )
        for phase in run.verdict.phases
        for p in phase.predictions
    ]


def phase_lessons(run: RunRecord) -> list[tuple[str, list[tuple[str, str]]]]:
    """Per phase with lesson fields: (name, [(label, text)]) in the template's order."""
    out = []
    for p in run.verdict.phases:
        items = [("What happens", p.narrative)] if p.narrative else []
        lesson = p.lesson
        if lesson.concept:
            items.append(("Concept", lesson.concept))
        for found in p.predictions:
            mark = "✓" if found.passed else "✗"
            got = value(found.measure, found.measured)
            items.append(("Prediction", f"{found.text} — measured {got} {mark}"))
        if lesson.watch_rule:
            items.append(("Watch", f"`{lesson.watch_rule}` (panel “{lesson.watch_panel}”)"))
        if lesson.miss:
            items.append(("A miss would mean", lesson.miss))
        if len(items) > 1:
            out.append((p.name, items))
    return out


def load_text(p: PhaseResult) -> str:
    if p.offered_rps is not None:
        return f"{p.offered_rps:g} req/s ({p.users} users)"
    think = f", think {p.think_time:g} s" if p.think_time else ""
    return f"{p.users} users{think}"


def arrivals_text(p: PhaseResult) -> str:
    if p.offered_rps is None:
        return "closed loop"
    if p.late is None and p.dropped is None:
        return fmt.NONE
    return f"{p.late or 0:,} / {p.dropped or 0:,}"


def arrivals_note(run: RunRecord) -> str | None:
    """One sentence naming every phase whose open-loop arrivals were late or dropped."""
    hit = [p for p in run.verdict.phases if (p.late or 0) > 0 or (p.dropped or 0) > 0]
    if not hit:
        return None
    listed = "; ".join(f"{p.name}: {p.late or 0:,} late, {p.dropped or 0:,} dropped" for p in hit)
    return (
        f"Open-loop arrivals the users could not send on time ({listed}). Late ones count "
        "their wait in the latency; dropped ones were never sent: a larger pool of users "
        "(the load step's `users:`) sends them."
    )


def knee_text(run: RunRecord) -> str:
    knee, slo = run.verdict.knee, run.verdict.slo_seconds
    if knee is None:
        return "No knee was searched in this run."
    predicted = f"Predicted from the knobs: {knee.prediction}." if knee.prediction else ""
    if not knee.found:
        return f"No knee found: p95 stayed within the SLO, or broke it at every load. {predicted}"
    at = f"{knee.rate:g} req/s offered" if knee.by == "rate" else f"{knee.users} users"
    error = knee.prediction_error
    off = "" if error is None else f" The knee's throughput is off the prediction by {error:.0%}."
    confirmed = {
        True: " Held once more, it stayed within the SLO.",
        False: " Held once more, it broke the SLO: the knee is lower than it looked.",
        None: "",
    }[knee.confirmed]
    return (
        f"The knee (the highest load found within the SLO of {fmt.ms(slo)}) is at {at}: "
        f"{fmt.rps(knee.rps)} answered, p95 {fmt.ms(knee.p95)}. {predicted}{off}{confirmed} "
        "Past it, arrivals queue: throughput stays flat while latency climbs."
    )


def knee_rows(run: RunRecord) -> list[tuple[str, ...]]:
    knee = run.verdict.knee
    return [_knee_row(s) for s in (knee.steps if knee else ())]


def _knee_row(s: KneeStep) -> tuple[str, ...]:
    good = fmt.NONE if s.good is None else ("yes" if s.good else "no")
    if s.generator_late:
        good += " (server p95: load generator late)"
    offered = fmt.NONE if s.rate is None else f"{s.rate:g} req/s"
    return (
        s.kind,
        offered,
        str(s.users),
        fmt.rps(s.rps),
        fmt.ms(s.server_p95),
        fmt.ms(s.client_p95),
        good,
    )
