"""The "Defences" row of the API dashboard: what the API's defences around its
dependency calls are doing (``LAB_API_DEADLINE_MS``, ``LAB_API_RETRY``, ``LAB_API_BREAKER``).

All but the per-replica breaker panel read the ``lab:`` rules, summed over replicas and
kept per dependency (postgres, redis, nats).
"""

from __future__ import annotations

from lab import rules
from lab.dashboards import panels
from lab.dashboards.panels import Q


def row() -> list[panels.Panel]:
    return [
        panels.timeseries(
            "Goodput vs throughput",
            (
                "Goodput: answers below 500 within the SLO, per second. Under overload without "
                "admission control throughput holds while goodput collapses; with it (bounded "
                "wait, LAB_API_QUEUE_TIMEOUT_MS / LAB_API_MAX_WAITERS) the excess is shed as "
                "fast 503s and goodput stays near capacity."
            ),
            Q(rules.API_RPS, "throughput (all answers)"),
            Q(rules.API_GOODPUT, "goodput (within the SLO)"),
            Q(rules.API_SHED_RATE, "shed (503 + Retry-After)"),
            unit="reqps",
        ),
        panels.timeseries(
            "Circuit breaker state (0 closed, 1 half-open, 2 open)",
            (
                "Open: calls to the dependency are refused at once (Postgres: a fast 503 with "
                "Retry-After; Redis: reads skip the cache). Half-open: one probe after the "
                "cool-down (LAB_API_BREAKER_COOLDOWN_S)."
            ),
            Q(rules.BREAKER_STATE, "worst replica {{dependency}}"),
            Q(
                (
                    "max by (instance, dependency) "
                    '(shop_breaker_state{job="api",instance=~"$instance"})'
                ),
                "{{instance}} {{dependency}}",
            ),
            max_value=2,
        ),
        panels.timeseries(
            "Retry amplification (attempts per call)",
            (
                "1 without retries. Naive retries against a failing dependency approach "
                "1 + LAB_API_RETRIES; a retry budget holds it near 1 + LAB_API_RETRY_BUDGET."
            ),
            Q(rules.DEPENDENCY_AMPLIFICATION, "{{dependency}}"),
        ),
        panels.timeseries(
            "Retries/s and retries refused by the budget",
            "",
            Q(rules.DEPENDENCY_RETRIES_RATE, "retries {{dependency}}"),
            Q(rules.RETRY_BUDGET_EXHAUSTED_RATE, "budget empty {{dependency}}"),
            unit="ops",
        ),
        panels.timeseries(
            "Calls cut by the deadline or refused by an open breaker",
            "A deadline miss answers 504; a breaker refusal costs the dependency nothing.",
            Q(rules.DEADLINE_EXCEEDED_RATE, "deadline {{dependency}}"),
            Q(rules.BREAKER_REJECTED_RATE, "breaker open {{dependency}}"),
            unit="ops",
        ),
    ]
