"""The autoscaler's part of a report: each scale-up broken down, and what it cost."""

from __future__ import annotations

from lab.run.reader import RunRecord

SCALE_UP_HEADER = (
    "scale-up",
    "breach → decision",
    "→ scale called",
    "→ ready, in the balancer",
    "→ first request",
    "breach → serving",
)


def _gap(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{b - a:.1f} s"


def scale_up_rows(run: RunRecord) -> list[tuple[str, ...]]:
    record = run.verdict.autoscaling
    if record is None:
        return []
    return [
        (
            f"{u.service} {u.before} → {u.after}" + (f" (error: {u.error})" if u.error else ""),
            _gap(u.breach, u.decided),
            _gap(u.decided, u.called),
            _gap(u.called, u.ready),
            _gap(u.ready, u.served) if u.service == "api" else "—",
            _gap(u.breach, u.serving),
        )
        for u in record.scale_ups
    ]


def cost_text(run: RunRecord) -> str | None:
    record = run.verdict.autoscaling
    if record is None:
        return None
    events = {s: sum(1 for x in record.scalings if x.service == s) for s in ("api", "worker")}
    parts = [
        f"{service}: {events[service]} scale event(s), "
        f"{record.replica_seconds.get(service, 0):.0f} replica-seconds"
        for service in ("api", "worker")
        if events[service] or service in record.initial
    ]
    if record.over_slo_s is not None:
        parts.append(f"{record.over_slo_s:.0f} s with the API's p95 (10 s) over the SLO")
    return "; ".join(parts) + (
        ". Every decision, with its inputs and arithmetic: autoscale/decisions.jsonl"
        " (`lab autoscale status --run RUN`)."
    )
