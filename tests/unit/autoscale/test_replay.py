"""The offline replay over synthetic run folders recorded by the real Hpa and Keda."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from lab.autoscale.fleet import Fleet
from lab.autoscale.hpa import Decision, Hpa, Sample, per_replica
from lab.autoscale.keda import Keda
from lab.autoscale.policy import DOWN, Direction, HpaPolicy, KedaPolicy, Policy
from lab.autoscale.recorded import DECISIONS_FILE, POLICY_FILE, REACTIONS_FILE, read_recording
from lab.autoscale.replay import replay
from lab.cli.autoscale_replay import register
from lab.errors import ConfigError
from lab.run.scaling import ScaleUp
from lab.run.timeseries import write_timeseries
from lab.run.verdict import Verdict

START = 1_000.0
Demand = Callable[[float], float]  # seconds since start → concurrency × replicas


def spike(t: float) -> float:
    """Half a replica's worth, then three replicas' worth from 32 s on (between two syncs
    of a 15 s period)."""
    return 0.5 if t < 32 else 3.0


def spike_and_back(t: float) -> float:
    return 3.0 if 20 <= t < 60 or 100 <= t < 140 else 0.5


def hpa_policy(**fields: object) -> HpaPolicy:
    down = Direction(window_s=0, rules=DOWN.rules)
    return HpaPolicy.model_validate({"sync_s": 1, "max_replicas": 8, "down": down, **fields})


def record_api(
    demand: Demand, policy: HpaPolicy, seconds: float, delay: float = 3.0
) -> list[Decision]:
    """What the live loop would have written: the real Hpa over a fleet that starts
    replicas ``delay`` seconds late (starting ones not ready, without a reading)."""
    hpa, fleet, out = Hpa(policy), Fleet(delay, policy.min_replicas), []
    for k in range(int(seconds / policy.sync_s)):
        t = START + k * policy.sync_s
        fleet.advance(t)
        per = demand(t - START) / fleet.ready if fleet.ready else None
        samples = [Sample(f"api-{i}", per) for i in range(fleet.ready)]
        samples += [Sample(f"new-{i}", None, ready=False) for i in range(len(fleet.starting))]
        raw = per_replica(fleet.size, samples, policy.target, policy.tolerance)
        decision = hpa.decide(t, fleet.size, raw, samples, value=per)
        hpa.record(t, decision.current, decision.result)
        fleet.scale(t, decision.result)
        out.append(decision)
    return out


def record_worker(policy: KedaPolicy, seconds: int, rate: float) -> list[Decision]:
    """Keda over a fluid queue: 20 orders/s for 60 s from t = 10, then nothing."""
    keda, fleet, lag, out = Keda(policy), Fleet(0.0, 1), 0.0, []
    for s in range(seconds):
        t = START + s
        fleet.advance(t)
        if s % policy.polling_s == 0:
            decision = keda.decide(t, fleet.size, lag)
            keda.record(t, decision.current, decision.result)
            fleet.scale(t, decision.result)
            fleet.advance(t)
            out.append(decision)
        arrivals = 20.0 if 10 <= s < 70 else 0.0
        lag = max(0.0, lag + arrivals - fleet.ready * rate)
    return out


def write_run(
    run: Path, policy: Policy, decisions: list[Decision], p95: Sequence[float] = ()
) -> Path:
    (run / "autoscale").mkdir(parents=True)
    (run / POLICY_FILE).write_text(json.dumps(policy.model_dump(mode="json")))
    lines = [json.dumps(d.to_json()) for d in decisions]
    (run / DECISIONS_FILE).write_text("\n".join(lines) + "\n")
    Verdict("autoscale", "", "", "", "native", START, slo_seconds=0.25).write(run / "verdict.json")
    if p95:
        t = [START + i for i in range(len(p95))]
        write_timeseries(run / "timeseries.csv", t, {"api_latency_seconds_p95_10s": list(p95)})
    return run


def api_run(tmp_path: Path, demand: Demand, seconds: float, **fields: object) -> Path:
    ran = hpa_policy(**fields)
    return write_run(tmp_path / "run", Policy(api=ran), record_api(demand, ran, seconds))


def test_the_start_delay_is_measured_from_the_decisions(tmp_path: Path) -> None:
    rec = read_recording(api_run(tmp_path, spike, 90))
    result = replay(rec, rec.policy, "same")
    assert result.model.delay("api") == 3.0
    assert result.model.capacity == 1.0  # concurrency: every slot busy


def test_the_start_delay_is_timed_from_the_reactions_when_there_are_some(tmp_path: Path) -> None:
    run = api_run(tmp_path, spike, 90)
    timed = [
        ScaleUp("api", 1, 5, breach=START + 31, decided=START + 32, ready=START + 38,
                served=START + 39.5),
        ScaleUp("api", 5, 6, breach=START + 50, decided=START + 50, error="refused"),
        ScaleUp("worker", 0, 1, breach=START, decided=START, ready=START + 2),
    ]  # fmt: skip
    lines = [json.dumps(r.to_json()) for r in timed]
    (run / REACTIONS_FILE).write_text("\n".join(lines) + "\n")
    result = replay(read_recording(run), Policy(api=hpa_policy()), "same")
    assert result.model.delay("api") == 7.5  # decided → first request; the failed one ignored


def test_replaying_the_policy_that_ran_reproduces_it(tmp_path: Path) -> None:
    rec = read_recording(api_run(tmp_path, spike_and_back, 180))
    api = replay(rec, rec.policy, "same").services[0]
    assert api.replayed.run == api.recorded.run
    assert api.replayed.over_slo_s == api.recorded.over_slo_s


def test_a_longer_scale_down_window_costs_more_and_is_not_worse(tmp_path: Path) -> None:
    rec = read_recording(api_run(tmp_path, spike_and_back, 180))
    slow_down = Direction(window_s=120, rules=DOWN.rules)
    quick = replay(rec, Policy(api=hpa_policy()), "quick").services[0].replayed
    held = replay(rec, Policy(api=hpa_policy(down=slow_down)), "held").services[0].replayed
    assert held.replica_seconds > quick.replica_seconds
    assert held.over_slo_s is not None and quick.over_slo_s is not None
    assert held.over_slo_s <= quick.over_slo_s


def test_a_slower_sync_on_a_spike_is_later_and_no_dearer(tmp_path: Path) -> None:
    rec = read_recording(api_run(tmp_path, spike, 120))
    every_1 = replay(rec, Policy(api=hpa_policy(sync_s=1)), "1s").services[0].replayed
    every_15 = replay(rec, Policy(api=hpa_policy(sync_s=15)), "15s").services[0].replayed
    assert every_1.over_slo_s is not None and every_15.over_slo_s is not None
    assert every_15.over_slo_s > every_1.over_slo_s
    assert every_15.replica_seconds <= every_1.replica_seconds


def test_rps_capacity_is_the_target_over_headroom_unless_given(tmp_path: Path) -> None:
    rps = hpa_policy(metric="rps", target=70)
    run = write_run(tmp_path / "run", Policy(api=rps), record_api(lambda t: 100.0, rps, 30))
    rec = read_recording(run)
    assert replay(rec, rec.policy, "same").model.capacity == pytest.approx(100.0)
    assert replay(rec, rec.policy, "same", capacity=50).model.capacity == 50


def test_the_measured_seconds_above_the_slo_come_from_the_timeseries(tmp_path: Path) -> None:
    ran = hpa_policy()
    p95 = [0.1] * 30 + [0.4] * 12 + [0.1] * 48
    run = write_run(tmp_path / "run", Policy(api=ran), record_api(spike, ran, 90), p95)
    api = replay(read_recording(run), Policy(api=ran), "same").services[0]
    assert api.recorded.measured == 12.0


def test_the_workers_replay_on_a_fluid_lag(tmp_path: Path) -> None:
    ran = KedaPolicy(polling_s=5, cooldown_s=30, max_replicas=8)
    run = write_run(tmp_path / "run", Policy(worker=ran), record_worker(ran, 150, rate=5.0))
    rec = read_recording(run)
    same = replay(rec, rec.policy, "same", worker_rate=5.0).services[0]
    assert same.service == "worker"
    assert same.replayed.peak_lag == pytest.approx(same.recorded.peak_lag)
    one = Policy(worker=ran.model_copy(update={"max_replicas": 1}))
    capped = replay(rec, one, "one", worker_rate=5.0).services[0].replayed
    assert capped.peak_lag is not None and same.recorded.peak_lag is not None
    assert capped.peak_lag > same.recorded.peak_lag
    assert capped.replica_seconds < same.recorded.replica_seconds


def cli() -> typer.Typer:
    app, group = typer.Typer(), typer.Typer()
    register(group)
    app.add_typer(group, name="autoscale")
    return app


def test_the_command_prints_both_rows_and_draws_the_plot(tmp_path: Path) -> None:
    run = api_run(tmp_path, spike, 90)
    policy = tmp_path / "slow.yaml"
    policy.write_text("api:\n  sync_s: 15\n  max_replicas: 8\n")
    result = CliRunner().invoke(cli(), ["autoscale", "replay", str(run), "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert "recorded" in result.output and "slow" in result.output
    assert "api start delay 3 s" in result.output
    assert (run / "autoscale" / "replay-slow.png").stat().st_size > 0


@pytest.mark.parametrize("missing", ["folder", "decisions"])
def test_a_missing_run_or_record_is_a_config_error(tmp_path: Path, missing: str) -> None:
    run = api_run(tmp_path, spike, 10)
    if missing == "decisions":
        (run / DECISIONS_FILE).unlink()
    target = tmp_path / "nope" if missing == "folder" else run
    policy = tmp_path / "p.yaml"
    policy.write_text("api: {}\n")
    result = CliRunner().invoke(
        cli(), ["autoscale", "replay", str(target), "--policy", str(policy)]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, ConfigError)
    expected = "no run folder" if missing == "folder" else "decisions.jsonl not found"
    assert expected in result.exception.message


@pytest.mark.e2e
def test_the_lab_command_prints_one_line_and_exits_1_without_a_run(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("api: {}\n")
    args = ["autoscale", "replay", str(tmp_path / "nope"), "--policy", str(policy)]
    done = subprocess.run(
        [sys.executable, "-c", "from lab.cli import main; main()", *args],
        env={**os.environ, "LAB_HOME": str(tmp_path / ".lab"), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"error: no run folder {tmp_path / 'nope'}" in done.stderr
