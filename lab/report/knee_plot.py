"""The knee plot: throughput and p95 against the offered load, one point per probe of the
knee search, the knee marked and the capacity predicted from the knobs beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.run.reader import RunRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TITLE = "Throughput and p95 against offered load (knee search)"


def draw_knee(ax: Axes, run: RunRecord) -> bool:
    knee = run.verdict.knee
    probes = [s for s in (knee.steps if knee else ()) if s.rps is not None]
    if knee is None or not probes:
        return False
    by_rate = knee.by == "rate"
    probes.sort(key=lambda s: (s.rate or 0.0) if by_rate else s.users)
    x = [(s.rate or 0.0) if by_rate else float(s.users) for s in probes]
    ax.plot(x, [s.rps or 0.0 for s in probes], "o-", color="#4c72b0", label="answered req/s")
    if knee.predicted_rps and by_rate:
        ax.plot([], [], "--", color="#55a868", label="predicted capacity")
    if by_rate:
        top = max(x) * 1.05
        ax.plot([0, top], [0, top], ":", color="#999999", label="answered = offered")
    if knee.predicted_rps and by_rate:
        ax.axvline(knee.predicted_rps, linestyle="--", color="#55a868", linewidth=1.2)
        ax.annotate(
            f"predicted: {knee.prediction}",
            (knee.predicted_rps, 0),
            textcoords="offset points",
            xytext=(-4, 6),
            ha="right",
            fontsize=7,
            color="#55a868",
        )
    if knee.found:
        at = (knee.rate or 0.0) if by_rate else float(knee.users)
        ax.axvline(at, color="#c44e52", linewidth=1.5)
        ax.annotate(
            f"knee: {knee.rps or 0:.0f} req/s",
            (at, knee.rps or 0.0),
            textcoords="offset points",
            xytext=(-70, 8),
            fontsize=8,
            color="#c44e52",
        )
    right = ax.twinx()
    p95 = [(s.p95 or 0.0) * 1000 for s in probes]
    right.plot(x, p95, "s--", color="#dd8452")
    ax.plot([], [], "s--", color="#dd8452", label="p95 (ms, right axis; line: SLO)")
    right.axhline(run.verdict.slo_seconds * 1000, color="#dd8452", linewidth=0.8, alpha=0.6)
    right.set_ylabel("p95 (ms)")
    right.set_ylim(bottom=0)
    ax.set_xlabel("offered load (req/s)" if by_rate else "users")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    return True


CURVE_TITLE = "Client p95 against offered load (open-loop phases, one replica)"


def curve_points(run: RunRecord) -> list[tuple[float, float, str]]:
    """(offered req/s, client HDR p95 in ms, phase) of each open-loop phase on one replica."""
    return sorted(
        (p.offered_rps, p.client.hdr_p95 * 1000, p.name)
        for p in run.verdict.phases
        if p.offered_rps and p.client.hdr_p95 is not None and p.replicas.get("api") == 1
    )


def draw_curve(ax: Axes, run: RunRecord) -> bool:
    """Latency against load: flat while the slots absorb the arrivals, then climbing as
    utilisation nears 1 (the prediction from the knobs marks ρ = 1)."""
    points = curve_points(run)
    if len(points) < 3:
        return False
    x, y = [p[0] for p in points], [p[1] for p in points]
    ax.plot(x, y, "o-", color="#dd8452", label="client p95 (HDR)")
    for rate, p95, name in points:
        ax.annotate(name, (rate, p95), textcoords="offset points", xytext=(4, 4), fontsize=7)
    slo = run.verdict.slo_seconds * 1000
    ax.axhline(slo, color="#c44e52", linewidth=1.0, label=f"SLO {slo:.0f} ms")
    knee = run.verdict.knee
    if knee is not None and knee.predicted_rps:
        ax.axvline(knee.predicted_rps, linestyle="--", color="#55a868", label="predicted capacity")
    ax.set_xlabel("offered load (req/s)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    return True
