"""The plan as data (``capacity.json``) and as a table (the report's capacity section,
lab/report/capacity.py, and `lab capacity plan`).

    atomic_write_json(run_dir / "capacity.json", plan_json(p))
    text = markdown_table(p)            # one row per user count, HEADER's columns

The plot is lab/report/capacity_plot.py (the report's plots share their style there).
"""

from __future__ import annotations

import math
from dataclasses import asdict

from lab import fmt
from lab.capacity.plan import Plan, PlanRow

HEADER = (
    "users",
    "peak req/s",
    "orders/s",
    "API replicas (linear)",
    "DB connections",
    "cache working set",
    "hit ratio: TTL / needed",
    "DB queries/s",
    "workers",
    "next to break",
)


def plan_json(plan: Plan) -> dict[str, object]:
    """Every row with its limits, utilisations, verdict and basis; the ceilings; what was
    measured and what was assumed."""
    return {
        "rows": [row_json(row) for row in plan.rows],
        "ceilings": [asdict(c) for c in plan.ceilings],
        "measured": list(plan.measured),
        "assumptions": list(plan.assumptions),
    }


def row_json(row: PlanRow) -> dict[str, object]:
    data = asdict(row)
    data["limits"] = [
        {**asdict(lim), "capacity": _finite(lim.capacity), "utilisation": _finite(lim.utilisation)}
        for lim in row.limits
    ]
    data["hit_ratio_needed"] = _finite(row.hit_ratio_needed)
    data["basis"] = list(row.basis)
    data.update(
        next_to_break=row.next_to_break, breaks=row.breaks, broken=list(row.broken), fix=row.fix
    )
    return data


def markdown_table(plan: Plan) -> str:
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for row in plan.rows:
        lines.append("| " + " | ".join(_cells(row)) + " |")
    return "\n".join(lines)


def plan_rows(plan: Plan) -> list[tuple[str, ...]]:
    """The table's cells, row by row (``HEADER``'s columns; Markdown emphasis marks a row
    that breaks)."""
    return [tuple(_cells(row)) for row in plan.rows]


def _cells(row: PlanRow) -> list[str]:
    replicas = "past the USL ceiling" if row.api_replicas is None else str(row.api_replicas)
    connections = (
        fmt.NONE
        if row.db_connections is None
        else f"{row.db_connections:,} / {row.connection_limit:,}"
    )
    needed = "> 100 %" if row.hit_ratio_needed > 1 else fmt.pct1(row.hit_ratio_needed)
    limit = row.next_limit
    verdict = "**breaks**" if row.breaks else f"next ({fmt.pct(limit.utilisation)})"
    if len(row.broken) > 1:
        verdict += f" (also {', '.join(row.broken[1:])})"
    return [
        f"{row.users:,}",
        f"{row.peak_rps:,.1f}",
        f"{row.orders_per_s:,.2f}",
        f"{replicas} ({row.api_replicas_linear})",
        connections,
        f"{row.working_set_products:,} products ({fmt.size(row.working_set_mb * 1e6)})",
        f"{fmt.pct1(row.hit_ratio_ttl)} / {needed}",
        f"{row.db_queries_per_s:,.1f}",
        str(row.workers),
        f"{limit.component} {verdict}: {limit.fix}",
    ]


def _finite(value: float) -> float | None:
    """JSON has no infinity: an unbounded figure is null."""
    return value if math.isfinite(value) else None
