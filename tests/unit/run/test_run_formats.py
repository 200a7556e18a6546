"""The run folder's formats: the typed verdict (with its saturation) reads back as written,
run folders get unique names, timeseries tables round-trip, old verdicts still load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.events import Event
from lab.run.folder import RunFolder, run_dirs
from lab.run.reader import read_events, read_run, read_verdict
from lab.run.timeseries import Table
from lab.run.verdict import CheckResult, Knee, KneeStep, PhaseResult, Saturation, Verdict

T0 = 1_764_000_000.0


def verdict(saturation: Saturation | None) -> Verdict:
    return Verdict(
        scenario="scale-out",
        title="Scaling out",
        concept="horizontal scaling",
        profile="quick",
        runtime="native",
        started=T0,
        ended=T0 + 60,
        slo_seconds=0.25,
        checks=[CheckResult("knee found", True, 40.0, "> 0", "knee at 40 users")],
        phases=[PhaseResult("find-knee", "more users", T0, T0 + 30, 40, {"api": 1}, rps=100.0)],
        knee=Knee(True, 40, 100.0, 0.44, (KneeStep(40, 100.0, 0.44, 0.43, 0.44),)),
        saturation=saturation,
    )


@pytest.mark.parametrize(
    "saturation",
    [
        Saturation("load generator CPU", 0.96, 0.9, "scale-4", "load generator CPU reached 96%"),
        Saturation(None, None, 0.9, None, "no resource ran full; peaks: machine CPU 30%"),
        None,
    ],
)
def test_the_verdict_reads_back_typed(tmp_path: Path, saturation: Saturation | None) -> None:
    folder = RunFolder.create(tmp_path, "scale-out", T0)
    written = verdict(saturation)
    folder.write_verdict(written)
    raw = json.loads((folder.dir / "verdict.json").read_text())
    assert raw["saturation"] == (None if saturation is None else saturation.__dict__)
    back = read_verdict(folder.dir / "verdict.json")
    assert back == written and isinstance(back.saturation, Saturation | None)


def test_a_verdict_written_before_saturation_had_a_threshold_still_loads(tmp_path: Path) -> None:
    raw = verdict(None).to_json()
    raw["saturation"] = {"resource": "API CPU", "value": 0.95, "phase": "scale-4", "detail": "x"}
    del raw["aborted"]
    (tmp_path / "verdict.json").write_text(json.dumps(raw))
    back = read_verdict(tmp_path / "verdict.json")
    assert back.saturation == Saturation("API CPU", 0.95, 0.0, "scale-4", "x")
    assert back.aborted is None


def test_a_broken_verdict_is_a_lab_error(tmp_path: Path) -> None:
    (tmp_path / "verdict.json").write_text('{"scenario": "x"}')
    with pytest.raises(LabError, match="not a valid verdict"):
        read_verdict(tmp_path / "verdict.json")


def test_run_folders_get_unique_names_and_are_listed_oldest_first(tmp_path: Path) -> None:
    first = RunFolder.create(tmp_path, "scale-out", T0)
    second = RunFolder.create(tmp_path, "scale-out", T0)
    later = RunFolder.create(tmp_path, "scale-out", T0 + 3600)
    (tmp_path / "not-a-run").mkdir()
    assert second.dir.name == f"{first.dir.name}-2"
    assert run_dirs(tmp_path) == [first.dir, second.dir, later.dir]


def test_a_run_folder_reads_back_its_events_and_timeseries(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "scale-out", T0)
    folder.write_scenario("name: scale-out\n")
    events = [Event("phase", "phase warm-up", T0 + 1, {"name": "warm-up"}, ("phase",))]
    for event in events:
        folder.append_event(event)
    with folder.events_path.open("a") as out:
        out.write('{"kind": "torn')  # a crash mid-write
    folder.write_timeseries(Table([T0, T0 + 1], {"api_requests_rate10s": [None, 12.5]}))
    folder.write_verdict(verdict(None))
    run = read_run(folder.dir)
    assert list(run.events) == events == read_events(folder.events_path)
    assert run.series is not None and run.series.t == (T0, T0 + 1)
    values = run.series.get("lab:api_requests:rate10s")
    assert values is not None and math.isnan(values[0]) and values[1] == 12.5
    assert run.locust.requests == () and run.verdict == verdict(None)
