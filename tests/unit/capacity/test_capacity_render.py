"""The plan as JSON (strict: no infinities) and as a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path

from lab.capacity.model import load_user_model
from lab.capacity.plan import plan
from lab.capacity.render import HEADER, markdown_table, plan_json
from lab.capacity.usl import UslFit
from tests.capacitytools import measured

PROJECT = Path(__file__).resolve().parents[3]
PEAKED = UslFit(sigma=0.02, kappa=0.0001, lam=95.0, r_squared=0.99, points=((1, 95.0),))
MEASURED = measured(PEAKED)


def test_json_and_markdown_carry_every_row() -> None:
    model = load_user_model(PROJECT / "scenarios" / "capacity" / "users.yaml")
    p = plan(model, MEASURED)
    data = json.loads(json.dumps(plan_json(p), allow_nan=False))
    rows = data["rows"]
    assert [r["users"] for r in rows] == model.users
    assert rows[-1]["api_replicas"] is None  # 10M users: past N* ≈ 99
    assert rows[-1]["breaks"] and rows[-1]["next_to_break"] == "API tier"
    assert all(r["basis"] for r in rows)
    table = markdown_table(p)
    assert table.count("\n") == len(model.users) + 1
    assert table.startswith("| " + " | ".join(HEADER))
    assert "past the USL ceiling" in table
    assert "measured: one API replica's knee 94.6 req/s (a test)" in p.measured
    assert p.assumptions
