"""Run reports from a synthetic but realistic run folder: files, JUnit, HTML, plots, CLI.

The run folder is written the way the scenario runner writes it: ``Verdict.write`` for
verdict.json, ``Event.to_json`` lines, ``write_timeseries`` with the contract's columns,
and Locust's own CSV headers. No processes are started.
"""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lab.cli import app
from lab.errors import LabError
from lab.events import Event
from lab.report import list_runs, read_run, render_run, resolve_run
from lab.report.plots import TIMELINE
from lab.run.timeseries import COLUMNS, read_timeseries, write_timeseries
from lab.run.verdict import (
    CheckResult,
    ClientView,
    Knee,
    KneeStep,
    PhaseResult,
    Saturation,
    Verdict,
)
from tests.labtools import PROJECT, RUN_FILES

STARTED = 1_764_000_000.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_PLOTS = len(TIMELINE) + 2  # the timelines, throughput vs replicas, the knee search


@dataclass(frozen=True)
class PhasePlan:
    name: str
    start: float  # seconds since start
    end: float
    users: tuple[int, ...]  # users held over equal parts of the phase
    api: int


PLAN = (
    PhasePlan("warm-up", 0, 10, (5,), 1),
    PhasePlan("find-knee", 10, 70, (10, 20, 30, 40, 50, 60), 1),
    PhasePlan("scale-2", 70, 100, (100,), 2),
    PhasePlan("scale-4", 100, 130, (200,), 4),
    PhasePlan("recover", 130, 150, (60,), 4),
)
PER_USER_RPS = 4.0
PER_REPLICA_RPS = 195.0


def users_at(t: float) -> int:
    for phase in PLAN:
        if phase.start <= t < phase.end:
            part = (phase.end - phase.start) / len(phase.users)
            return phase.users[min(int((t - phase.start) // part), len(phase.users) - 1)]
    return PLAN[-1].users[-1]


def api_at(t: float) -> int:
    return next((p.api for p in PLAN if p.start <= t < p.end), PLAN[-1].api)


def load_model(t: float, speed: float) -> tuple[float, float]:
    """(req/s, p95 s) of a closed loop against replicas of fixed capacity."""
    demand, capacity = users_at(t) * PER_USER_RPS, api_at(t) * PER_REPLICA_RPS * speed
    wobble = 1 + 0.03 * math.sin(t / 3)
    rps = min(demand, capacity) * wobble
    return rps, (0.025 + 1.5 * max(0.0, demand / capacity - 1)) * wobble


def write_run_folder(run_dir: Path, *, speed: float = 1.0, orders_ok: bool = True) -> Verdict:
    run_dir.mkdir(parents=True)
    (run_dir / "scenario.yaml").write_text("name: scale-out\n", encoding="utf-8")
    duration = PLAN[-1].end
    grid = [STARTED + i for i in range(int(duration) + 1)]

    columns: dict[str, list[float | None]] = {c.name: [] for c in COLUMNS if c.by is None}
    for name in ("cpu_api", "cpu_worker", "cpu_postgres", "mem_api", "replicas_api"):
        columns[name] = []
    for t in grid:
        s = t - STARTED
        rps, p95 = load_model(s, speed)
        warming = s < 3  # rate rules need a few scrapes before they have a value
        row = {
            "api_requests_rate10s": rps,
            "api_errors_ratio10s": 0.0,
            "api_latency_seconds_p50_10s": p95 * 0.6,
            "api_latency_seconds_p95_10s": p95,
            "api_latency_seconds_p99_10s": p95 * 1.3,
            "api_replicas_up": float(api_at(s)),
            "worker_replicas_up": 2.0,
            "queue_depth": max(0.0, 30 * math.sin(s / 20)),
            "queue_in_flight": 4.0,
            "orders_accepted_rate10s": rps * 0.1,
            "orders_processed_rate10s": rps * 0.1,
            "cache_hit_ratio10s": min(0.97, 0.3 + s / 60),
            "db_product_reads_rate10s": rps * (1 - min(0.97, 0.3 + s / 60)),
            "lb_requests_rate10s": rps,
            "locust_users": float(users_at(s)),
            "locust_requests_rate10s": rps * 0.99,
            "locust_failures_ratio10s": 0.0,
            "locust_latency_seconds_p95_10s": p95 + 0.003,
            "cpu_api": rps * 0.0012,
            "cpu_worker": 0.05,
            "cpu_postgres": rps * 0.0003,
            "mem_api": 60e6 * api_at(s),
            "replicas_api": float(api_at(s)),
        }
        for name, values in columns.items():
            rated = name.endswith(("10s", "_api", "_worker", "_postgres"))
            values.append(None if warming and rated else row.get(name))
    write_timeseries(run_dir / "timeseries.csv", grid, columns)

    phases, events = [], [Event("scenario", "scenario scale-out (quick)", STARTED)]
    for index, plan in enumerate(PLAN):
        start, end = STARTED + plan.start, STARTED + plan.end
        mid = (plan.start + plan.end) / 2
        rps, p95 = load_model(plan.end - 1, speed)
        phases.append(
            PhaseResult(
                name=plan.name,
                narrative=f"{plan.name}: users {plan.users[-1]} on {plan.api} replica(s) <b>&",
                start=start,
                end=end,
                users=plan.users[-1],
                replicas={"api": plan.api, "worker": 2},
                rps=round(rps, 1),
                p50=round(p95 * 0.6, 4),
                p95=round(p95, 4),
                p99=round(p95 * 1.3, 4),
                error_ratio=0.0,
                cpu_api=round(rps * 0.0012, 3),
                db_reads_per_read=0.05,
                window=(STARTED + mid, end),
                client=ClientView(rps=round(rps * 0.99, 1), p50=0.02, p95=p95, fail_ratio=0.0),
            )
        )
        events.append(Event("phase", f"phase {plan.name}", start, {"name": plan.name}))
        if index and plan.api != PLAN[index - 1].api:
            before = PLAN[index - 1].api
            events.append(Event("scale", f"scale api {before} → {plan.api}", start + 0.5))
    events.append(Event("kill", "kill worker-1", STARTED + 135))

    steps = tuple(
        KneeStep(users, rps, p95, p95, p95 + 0.003)
        for users, (rps, p95) in (
            (u, load_model(10 + 10 * i + 9, speed)) for i, u in enumerate(PLAN[1].users)
        )
    )
    knee = steps[-1]
    scaled = phases[3].rps or 0.0
    base = phases[1].rps or 1.0
    verdict = Verdict(
        scenario="scale-out",
        title="Scaling out behind a load balancer",
        concept="Horizontal scaling: stateless replicas behind a load balancer add capacity.",
        profile="quick",
        runtime="native",
        started=STARTED,
        ended=STARTED + duration,
        slo_seconds=0.25,
        checks=[
            CheckResult(
                "throughput scales",
                scaled / base >= 3,
                round(scaled / base, 2),
                ">= 3",
                f"4 replicas: {scaled:.0f} req/s vs 1 replica: {base:.0f} req/s",
            ),
            CheckResult("p95 under SLO on 4 replicas", True, 0.031, "< 0.25", "p95 31 ms"),
            CheckResult(
                "every order processed",
                orders_ok,
                1.0 if orders_ok else 0.97,
                ">= 1",
                "all 1,503 accepted orders processed" if orders_ok else "1,458 of 1,503 processed",
            ),
        ],
        phases=phases,
        knee=Knee(True, knee.users, knee.rps, knee.p95, steps),
        saturation=Saturation(
            resource="API concurrency",
            value=1.0,
            threshold=0.9,
            phase="find-knee",
            detail="API concurrency reached 100% in find-knee; peaks: machine CPU 61%",
        ),
    )
    verdict.write(run_dir / "verdict.json")
    with (run_dir / "events.jsonl").open("w", encoding="utf-8") as out:
        for event in events:
            out.write(event.to_json() + "\n")
    write_locust_csvs(run_dir, speed)
    return verdict


def write_locust_csvs(run_dir: Path, speed: float) -> None:
    pct = ["50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"]
    head = [
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
        *pct,
    ]
    rows = [
        ["GET", "/products/{product_id}", 40210, 0, 21, 34.2, 20, 912, 180, 268.1, 0.0],
        ["POST", "/orders", 1503, 3, 24, 39.0, 21, 1010, 60, 10.0, 0.02],
        ["", "Aggregated", 41713, 3, 21, 34.4, 20, 1010, 176, 278.1, 0.02],
    ]
    lines = [",".join(head)]
    percentiles = [21, 22, 25, 28, 90, 240, 400, 610, 900, 1000, 1010]
    lines += [",".join(map(str, [*r, *percentiles])) for r in rows]
    (run_dir / "locust_stats.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    hist_head = [
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
        *pct,
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]
    hist = [",".join(hist_head)]
    for s in range(int(PLAN[-1].end)):
        rps, p95 = load_model(s, speed)
        if s == 0:
            cells = ["N/A"] * len(pct)
        else:
            cells = [str(int(p95 * 600)), *["0"] * 4, str(int(p95 * 1000)), *["0"] * 5]
        head_cells = [str(int(STARTED) + s), str(users_at(s)), "", "Aggregated", f"{rps:2f}", "0"]
        hist.append(",".join([*head_cells, *cells, *["0"] * 7]))
    (run_dir / "locust_stats_history.csv").write_text("\n".join(hist) + "\n", encoding="utf-8")
    (run_dir / "locust_failures.csv").write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "POST,/orders,\"HTTPError('503 Server Error')\",3,,\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Verdict]:
    run_dir = tmp_path_factory.mktemp("runs") / "20251124-160000-scale-out"
    verdict = write_run_folder(run_dir, orders_ok=False)
    render_run(run_dir)
    return run_dir, verdict


def test_render_writes_every_run_file(rendered: tuple[Path, Verdict]) -> None:
    run_dir, _ = rendered
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    assert len(list((run_dir / "plots").glob("*.png"))) == N_PLOTS
    assert not list(run_dir.rglob("*.tmp"))


def test_junit_has_one_case_per_check_and_fails_the_failed(
    rendered: tuple[Path, Verdict],
) -> None:
    run_dir, verdict = rendered
    root = ET.parse(run_dir / "junit.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [c.name for c in verdict.checks]
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert list(failed) == ["every order processed"]
    failure = failed["every order processed"]
    assert failure is not None and failure.get("message") == "1,458 of 1,503 processed"
    assert root.get("failures") == "1"


def test_html_embeds_every_plot_and_nothing_external(rendered: tuple[Path, Verdict]) -> None:
    run_dir, _ = rendered
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r"src='([^']*)'", page)
    assert len(sources) == N_PLOTS
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page
    assert "<b>&" not in page and "&lt;b&gt;&amp;" in page  # narratives are escaped
    assert "FAILED" in page and "every order processed" in page
    assert "no data in this run" not in page
    for src in sources:
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert png[:8] == PNG_SIGNATURE
        width, height = struct.unpack(">II", png[16:24])  # IHDR
        assert width > 600 and height > 200
        assert len(png) > 15_000


def test_summary_tells_the_story(rendered: tuple[Path, Verdict]) -> None:
    run_dir, verdict = rendered
    summary = (run_dir / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith(f"# {verdict.title}")
    assert "**FAILED**" in summary
    assert "| scale-4 | 200 users | api=4, worker=2 |" in summary
    assert verdict.knee is not None
    assert f"within the SLO of 250 ms) is at {verdict.knee.users} users" in summary
    assert "API concurrency reached 100%" in summary


def test_run_folder_reads_back_what_was_written(rendered: tuple[Path, Verdict]) -> None:
    run_dir, verdict = rendered
    run = read_run(run_dir)
    assert run.verdict.to_json() == json.loads((run_dir / "verdict.json").read_text())
    assert run.verdict.to_json() == verdict.to_json()
    assert [s.name for s in run.spans()] == [p.name for p in PLAN]
    assert [m.label for m in run.markers()] == ["api 1 → 2", "api 2 → 4", "kill worker-1"]
    assert run.locust.total is not None and run.locust.total.requests == 41713
    assert len(run.locust.history) == PLAN[-1].end - 1 + 1


def test_timeseries_columns_follow_the_contract(tmp_path: Path) -> None:
    columns = {"api_requests_rate10s": [None, 1.5, 2.25], "cpu_api": [0.1, None, 0.3]}
    path = tmp_path / "timeseries.csv"
    write_timeseries(path, [STARTED, STARTED + 1, STARTED + 2], columns)
    assert path.read_text().splitlines() == [
        "t,api_requests_rate10s,cpu_api",
        f"{STARTED:.3f},,0.1",
        f"{STARTED + 1:.3f},1.5,",
        f"{STARTED + 2:.3f},2.25,0.3",
    ]
    series = read_timeseries(path)
    assert series.get("lab:api_requests:rate10s") is not None
    cpu = series.by_prefix("cpu")["api"]
    assert cpu[0] == 0.1 and math.isnan(cpu[1]) and cpu[2] == 0.3
    names = {c.name for c in COLUMNS}
    assert {"api_latency_seconds_p95_10s", "queue_depth", "locust_users"} <= names


def test_missing_timeseries_and_locust_files_still_render(tmp_path: Path) -> None:
    run_dir = tmp_path / "20251124-170000-scale-out"
    write_run_folder(run_dir)
    for name in (
        "timeseries.csv",
        "locust_stats.csv",
        "locust_stats_history.csv",
        "locust_failures.csv",
        "events.jsonl",
    ):
        (run_dir / name).unlink()
    from lab.report.plots import render_plots

    plots = {p.name: p.has_data for p in render_plots(read_run(run_dir), tmp_path / "p")}
    # replicas fall back to what each phase measured; throughput vs replicas is per phase,
    # the knee plot per probe (both from verdict.json)
    assert plots == {name: name in ("replicas", "scaling", "knee") for name in plots}
    page = render_run(run_dir).read_text(encoding="utf-8")
    assert page.count("no data in this run") == N_PLOTS - 3
    assert page.count("data:image/png;base64,") == N_PLOTS


def test_aborted_run_fails_in_junit(tmp_path: Path) -> None:
    run_dir = tmp_path / "20251124-180000-scale-out"
    write_run_folder(run_dir)
    raw = json.loads((run_dir / "verdict.json").read_text())
    raw.update(aborted="interrupted (Ctrl-C)", passed=False, ended=0.0)
    raw["phases"][-1]["end"] = 0.0
    (run_dir / "verdict.json").write_text(json.dumps(raw))
    render_run(run_dir)
    cases = ET.parse(run_dir / "junit.xml").getroot().findall("./testsuite/testcase")
    assert cases[-1].get("name") == "run completed"
    assert cases[-1].find("failure") is not None
    assert "ABORTED" in (run_dir / "report.html").read_text()


def test_list_and_resolve_runs(tmp_path: Path) -> None:
    write_run_folder(tmp_path / "20251124-160000-scale-out")
    write_run_folder(tmp_path / "20251124-170000-scale-out", orders_ok=False)
    (tmp_path / "20251124-180000-worker-failure").mkdir()  # interrupted before its verdict
    (tmp_path / "compare-a-vs-b.html").write_text("")
    runs = list_runs(tmp_path)
    assert [r.status for r in runs] == ["passed", "failed", "incomplete"]
    assert runs[2].scenario == "worker-failure"
    assert runs[0].peak_rps is not None and runs[0].peak_rps > 700
    assert resolve_run(tmp_path, "latest").name == "20251124-180000-worker-failure"
    assert resolve_run(tmp_path, "20251124-16").name == "20251124-160000-scale-out"
    with pytest.raises(LabError) as err:
        resolve_run(tmp_path, "20251124")
    assert "lab runs" in (err.value.hint or "")
    assert list_runs(tmp_path / "nowhere") == []


def test_cli_runs_json_and_compare(tmp_path: Path) -> None:
    write_run_folder(tmp_path / "20251124-160000-scale-out")
    write_run_folder(tmp_path / "20251124-170000-scale-out", speed=0.8, orders_ok=False)
    env = {"LAB_RUNS_DIR": str(tmp_path), "LAB_HOME": str(tmp_path / ".lab")}
    runner = CliRunner()

    result = runner.invoke(app, ["runs", "--json"], env=env)
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert [r["name"] for r in runs] == ["20251124-160000-scale-out", "20251124-170000-scale-out"]
    assert [r["passed"] for r in runs] == [True, False]

    result = runner.invoke(app, ["compare", runs[0]["name"], "latest"], env=env)
    assert result.exit_code == 0, result.output
    assert "every order processed" in result.stdout and "scale-4" in result.stdout
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path == tmp_path / "compare-20251124-160000-scale-out-vs-20251124-170000-scale-out.html"
    page = path.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "https://" not in page and "http://" not in page


@pytest.mark.e2e
def test_lab_report_subprocess(tmp_path: Path) -> None:
    run_dir = tmp_path / "20251124-160000-scale-out"
    write_run_folder(run_dir)
    env = {"PATH": "/usr/bin:/bin", "LAB_RUNS_DIR": str(tmp_path), "LAB_HOME": str(tmp_path)}
    lab = str(PROJECT / ".venv" / "bin" / "lab")
    done = subprocess.run([lab, "report", "latest"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(run_dir / "report.html")
    shutil.rmtree(run_dir / "plots")
    done = subprocess.run([lab, "report", "nope"], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "no run 'nope'" in done.stderr and "lab runs" in done.stderr


def test_columns_cover_exactly_the_recording_rules() -> None:
    rules = yaml.safe_load((PROJECT / "services/prometheus/rules.yml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    assert {c.rule for c in COLUMNS} == recorded


def test_verdict_json_reads_back_as_written(rendered: tuple[Path, Verdict]) -> None:
    run_dir, verdict = rendered
    assert Verdict.from_json(json.loads((run_dir / "verdict.json").read_text())) == verdict
