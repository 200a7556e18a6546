"""Predictions from the knobs, and their comparison with what a phase measured.

``capacity`` is the arithmetic every lesson starts from: in ``io`` mode a replica holds
``concurrency`` requests, each ``work_ms`` long, so it serves ``concurrency / work_s``
req/s ("1 replica: 4 slots / 40 ms = 100 req/s"); in ``cpu`` mode one process uses one
core, so ``1 / work_s``.

A prediction's ``expr`` is plain arithmetic (``+ - * / **``, parentheses, ``min``,
``max``) over ``NAMES``: the knobs, the knee found earlier, the phase's offered load and
the phase's own measures (so Little's law reads ``in_flight`` ≈ ``rps * mean_latency``).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lab.run.verdict import Knee, PhaseResult, PredictionResult
from lab.scenario.lesson import BINARY, FUNCTIONS, MEASURES, Prediction, check_expr
from lab.scenario.model import Topology


@dataclass(frozen=True)
class Capacity:
    rps: float  # req/s the replicas can serve
    text: str  # the arithmetic, for the journal and the report


def per_replica(topology: Topology) -> float:
    work_s = topology.work_ms / 1000
    if work_s <= 0:
        return math.inf
    return (topology.concurrency if topology.work == "io" else 1) / work_s


def capacity(topology: Topology, replicas: int) -> Capacity:
    one = per_replica(topology)
    if topology.work == "io":
        how = f"{topology.concurrency} slots / {topology.work_ms:g} ms = {one:.0f} req/s"
    else:
        how = f"1 core / {topology.work_ms:g} ms of CPU = {one:.0f} req/s"
    label = f"{replicas} replica{'s' if replicas != 1 else ''}"
    if replicas == 1:
        return Capacity(one, f"{label}: {how}")
    return Capacity(one * replicas, f"{label} × ({how}) = {one * replicas:.0f} req/s")


def evaluate_expr(expr: str, names: Mapping[str, float | None]) -> float | None:
    """The value of ``expr``; None when a name it uses has no value (no data)."""
    check_expr(expr)

    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return names.get(node.id)
        if isinstance(node, ast.UnaryOp):
            inner = walk(node.operand)
            return None if inner is None else -inner
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Div) and right == 0:
                return None
            return BINARY[type(node.op)](left, right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [walk(a) for a in node.args]
            if any(a is None for a in args) or not args:
                return None
            return float(FUNCTIONS[node.func.id](*args))
        raise ValueError(f"only arithmetic is allowed: {ast.dump(node)}")

    return walk(ast.parse(expr, mode="eval"))


def names_for(
    topology: Topology,
    slo: float,
    phase: PhaseResult,
    knee: Knee | None,
) -> dict[str, float | None]:
    """Every name an ``expr`` may use, for ``phase`` (after it was measured)."""
    replicas = phase.replicas.get("api", topology.replicas.get("api", 1))
    one = per_replica(topology)
    names: dict[str, float | None] = {
        "concurrency": float(topology.concurrency),
        "work_ms": topology.work_ms,
        "work_s": topology.work_ms / 1000,
        "per_replica": one,
        "replicas": float(replicas),
        "capacity": one * replicas,
        "slo": slo,
        "rate": phase.offered_rps or 0.0,
        "users": float(phase.users),
        "think_time": phase.think_time,
        "knee_rps": knee.rps if knee and knee.found else None,
        "knee_rate": knee.rate if knee and knee.found else None,
        "knee_users": float(knee.users) if knee and knee.found else None,
        "knee_predicted": knee.predicted_rps if knee else None,
    }
    for measure in MEASURES:
        names[measure] = phase.measure(measure)
    return names


def evaluate(
    prediction: Prediction, names: Mapping[str, float | None], phase: PhaseResult
) -> PredictionResult:
    """Compare what ``phase`` measured with what ``prediction`` said."""
    predicted = prediction.value
    if prediction.expr is not None:
        predicted = evaluate_expr(prediction.expr, names)
    measured = phase.measure(prediction.measure)
    p = prediction
    if predicted is None or measured is None:
        what = "the prediction" if predicted is None else p.measure
        return PredictionResult(
            phase.name, p.text, p.measure, predicted, measured, p.op, p.tolerance, False,
            f"no data for {what}",
        )  # fmt: skip
    if p.op == "~":
        error = abs(measured - predicted) / abs(predicted) if predicted else math.inf
        passed = error <= p.tolerance
        detail = f"off by {error:.0%} (within {p.tolerance:.0%} wanted)"
    else:
        ops: dict[str, Callable[[float, float], bool]] = {
            "<": operator.lt,
            "<=": operator.le,
            ">": operator.gt,
            ">=": operator.ge,
        }
        passed = ops[p.op](measured, predicted)
        detail = f"measured {p.op} predicted: {'yes' if passed else 'no'}"
    return PredictionResult(
        phase.name, p.text, p.measure, round(predicted, 6), round(measured, 6), p.op,
        p.tolerance, passed, detail,
    )  # fmt: skip
