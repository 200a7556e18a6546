"""Reading a run's autoscaler record back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.autoscale.hpa import Decision, Sample
from lab.autoscale.policy import HpaPolicy, Policy
from lab.autoscale.recorded import DECISIONS_FILE, POLICY_FILE, read_recording
from lab.errors import ConfigError


def decision(t: float) -> Decision:
    samples = (Sample("api-0", 0.5), Sample("api-1", None, ready=False))
    return Decision(t, "api", "concurrency", 0.7, 2, samples, 0.5, 0.71, "f", 2, 2, 2, "no change")


def test_decisions_read_back_in_time_order_skipping_a_torn_line(tmp_path: Path) -> None:
    (tmp_path / "autoscale").mkdir()
    (tmp_path / POLICY_FILE).write_text(json.dumps(Policy(api=HpaPolicy()).model_dump(mode="json")))
    lines = [json.dumps(decision(t).to_json()) for t in (2.0, 1.0)]
    (tmp_path / DECISIONS_FILE).write_text("\n".join([*lines, '{"t": 3, "serv']))
    rec = read_recording(tmp_path)
    assert rec.decisions == (decision(1.0), decision(2.0))
    assert (rec.slo_seconds, rec.slo_source) == (0.25, "the lab's default")
    assert rec.series is None and rec.worker_rate() is None


def test_a_bad_policy_names_the_file_and_field(tmp_path: Path) -> None:
    (tmp_path / "autoscale").mkdir()
    (tmp_path / POLICY_FILE).write_text('{"api": {"target": -1}}')
    (tmp_path / DECISIONS_FILE).write_text(json.dumps(decision(1.0).to_json()))
    with pytest.raises(ConfigError, match=r"policy.json: api.target"):
        read_recording(tmp_path)
