"""A phase's lesson fields (CURRICULUM.md's template): ``predict`` and ``watch`` as models.

Every phase may say what it teaches and what the learner should expect::

    concept: Throughput rises with the offered load until the slots are full.
    predict:
      text: "one replica: 4 slots / 40 ms = 100 req/s"
      measure: rps                 # a phase measure (model.PhaseMeasure)
      expr: replicas * concurrency / work_s    # or value: 100
      tolerance: 0.15              # |measured − predicted| <= 15 % of predicted
    watch: {rule: "lab:api_requests:rate10s", panel: Requests per second}
    miss: Something shared saturated first (the load generator, the CPU).

``expr`` is arithmetic over the names in ``lab.scenario.predict.NAMES`` (the knobs, the
knee found, the phase's offered load and its own measures); ``predict.evaluate`` turns it
into a number after the phase ran and compares it with what was measured.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lab import rules

PhaseMeasure = Literal[
    "rps",  # server throughput over the window (as p50..p99: exactly its answers)
    "p50",
    "p95",
    "p99",
    "error_ratio",
    "users",
    "client_p95",  # exact (HDR) client percentiles over the phase's steady window
    "client_p99",
    "client_rps",  # requests the client saw answered, per second (HDR count / window)
    "client_p95_rise",  # client p95 over the window's last third ÷ over its first third
    "client_p95_slope",  # how fast that p95 climbs: seconds of latency per second of the phase
    "late",  # open-loop arrivals sent late / dropped in the phase
    "dropped",
    "in_flight",  # requests inside the API replicas, averaged (Little's L)
    "mean_latency",  # server mean latency over the window (Little's W)
    "client_mean_latency",  # the client's mean response time over the same window
    "service_time",  # server mean time in a work slot: latency less the wait for a slot
    "goodput",  # answers < 500 within the SLO per second (what the users got)
    "shed",  # requests refused by admission control per second (fast 503s)
    "amplification",  # dependency attempts per call (retries), the most retried dependency
    "pool_use",  # share of the API's DB pool connections in use (1: every one, all the time)
    "slot_use",  # share of the API's work slots busy (in flight less slot waiters, ÷ slots)
    "db_reads_per_read",  # database product reads per product lookup (1: no cache helps)
]
KNOBS = ("concurrency", "work_ms", "work_s", "per_replica", "replicas", "capacity", "slo")
LOAD = ("rate", "users", "think_time", "knee_rps", "knee_rate", "knee_users", "knee_predicted")
MEASURES = (
    "rps",
    "p50",
    "p95",
    "p99",
    "error_ratio",
    "client_p95",
    "client_p99",
    "client_rps",
    "client_p95_rise",
    "client_p95_slope",
    "late",
    "dropped",
    "in_flight",
    "mean_latency",
    "client_mean_latency",
    "service_time",
    "goodput",
    "shed",
    "amplification",
    "pool_use",
    "slot_use",
    "db_reads_per_read",
)
NAMES = (*KNOBS, *LOAD, *MEASURES)
BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
FUNCTIONS: dict[str, Callable[..., float]] = {"min": min, "max": max}


def check_expr(expr: str) -> None:
    """Raise ``ValueError`` unless ``expr`` is arithmetic over ``NAMES``."""
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an expression: {expr!r} ({exc.msg})") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in FUNCTIONS:
            raise ValueError(f"unknown name {node.id!r} in {expr!r} (known: {', '.join(NAMES)})")
        allowed = (
            ast.Expression,
            ast.BinOp,
            ast.UnaryOp,
            ast.USub,
            ast.Constant,
            ast.Name,
            ast.Load,
            ast.Call,
            *BINARY,
        )
        if not isinstance(node, allowed):
            raise ValueError(f"only arithmetic is allowed in {expr!r}")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS
        ):
            raise ValueError(f"only min() and max() may be called in {expr!r}")


PredictOp = Literal["~", "<", "<=", ">", ">="]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Prediction(_Strict):
    """A number the learner should expect, derived from the knobs, and how close the
    measurement must come: ``~`` within ``tolerance`` (relative), or a bound."""

    text: Annotated[str, Field(min_length=1)]
    measure: PhaseMeasure
    value: float | None = None
    expr: Annotated[str, Field(min_length=1)] | None = None
    op: PredictOp = "~"
    tolerance: Annotated[float, Field(ge=0, le=10)] = 0.15

    @model_validator(mode="after")
    def _one_value(self) -> Prediction:
        if (self.value is None) == (self.expr is None):
            raise ValueError("a prediction needs exactly one of value, expr")
        if self.expr is not None:
            check_expr(self.expr)
        return self


class Watch(_Strict):
    """Where to look while the phase runs: a ``lab:`` rule and a dashboard panel title."""

    rule: str
    panel: Annotated[str, Field(min_length=1)]

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, rule: str) -> str:
        if rule not in rules.ALL:
            raise ValueError(f"no recording rule {rule!r} (see lab/rules.py)")
        return rule
