"""The learning path: the scenarios in teaching order, from one user to many
(CURRICULUM.md; system-design-primer's sequence: one server, a load balancer and
stateless replicas, a cache, the database as the shared bottleneck, a queue, failures
and defences, overload, autoscaling, capacity planning)."""

from __future__ import annotations

PATH: tuple[str, ...] = (
    "latency-vs-load",  # service time, utilisation, Little's law, open vs closed load
    "scale-out",  # stateless replicas behind a load balancer
    "cache",  # cache-aside, hit ratio, TTL, skew
    "db-pool",  # the database and its pool as the shared bottleneck
    "worker-failure",  # queues, at-least-once delivery, exactly-once effects
    "replica-crash",  # redundancy, health checks, retries at the balancer
    "cache-outage",  # soft dependencies, degraded modes, the cold cache
    "slow-database",  # cascading failure: deadlines, breakers, bounded waits
    "retry-storm",  # retries, backoff, budgets
    "overload",  # load shedding and goodput
    "autoscale",  # a control loop, its reaction time and cost
    "autoscale-flapping",  # stabilisation windows
    "queue-burst",  # scaling consumers on lag, from zero
    "capacity-plan",  # the USL from measured knees, and a plan to millions
)


def next_lesson(name: str) -> str | None:
    """The scenario after ``name`` on the path; None after the last or off the path."""
    if name not in PATH:
        return None
    at = PATH.index(name)
    return PATH[at + 1] if at + 1 < len(PATH) else None
