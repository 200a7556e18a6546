"""The runs folder: list the run folders in it and find one by name, path or ``latest``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.run.folder import RUN_NAME, VERDICT_FILE, run_dirs
from lab.run.reader import read_verdict


@dataclass(frozen=True)
class RunSummary:
    name: str
    path: Path
    scenario: str
    profile: str | None
    runtime: str | None
    passed: bool | None  # None: no verdict.json (interrupted while writing, or running)
    aborted: str | None
    started: float | None
    duration: float | None
    peak_rps: float | None
    checks: int
    failed_checks: int

    @property
    def status(self) -> str:
        if self.passed is None:
            return "incomplete"
        if self.aborted:
            return "aborted"
        return "passed" if self.passed else "failed"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["status"] = self.status
        return data


def summarize(run_dir: Path) -> RunSummary:
    match = RUN_NAME.match(run_dir.name)
    scenario = match["scenario"] if match else run_dir.name
    if not (run_dir / VERDICT_FILE).is_file():
        return RunSummary(
            run_dir.name, run_dir, scenario, None, None, None, None, None, None, None, 0, 0
        )
    try:
        v = read_verdict(run_dir / VERDICT_FILE)
    except LabError:
        return RunSummary(
            run_dir.name,
            run_dir,
            scenario,
            None,
            None,
            None,
            "unreadable verdict",
            None,
            None,
            None,
            0,
            0,
        )
    measured = [p.rps for p in v.phases if p.rps is not None]
    return RunSummary(
        name=run_dir.name,
        path=run_dir,
        scenario=v.scenario,
        profile=v.profile,
        runtime=v.runtime,
        passed=v.passed,
        aborted=v.aborted,
        started=v.started,
        duration=v.ended - v.started if v.ended > v.started else None,
        peak_rps=max(measured) if measured else None,
        checks=len(v.checks),
        failed_checks=sum(1 for c in v.checks if not c.passed),
    )


def list_runs(runs_dir: Path) -> list[RunSummary]:
    """Every run in ``runs_dir``, oldest first."""
    return [summarize(d) for d in run_dirs(runs_dir)]


def resolve_run(runs_dir: Path, ref: str) -> Path:
    """``latest``, a folder name in ``runs_dir`` (or its unique prefix), or a path."""
    dirs = run_dirs(runs_dir)
    if ref == "latest":
        if not dirs:
            raise LabError(
                f"no runs in {runs_dir}", hint="run a scenario first: `lab scenario scale-out`"
            )
        return dirs[-1]
    as_path = Path(ref).expanduser()
    if as_path.is_dir() and (as_path / "verdict.json").exists():
        return as_path.resolve()
    if (runs_dir / ref).is_dir():
        return runs_dir / ref
    matches = [d for d in dirs if d.name.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(d.name for d in dirs[-3:]) or "none yet"
    why = f"{len(matches)} runs start with {ref!r}" if matches else f"no run {ref!r}"
    raise LabError(
        f"{why} in {runs_dir}",
        hint=f"`lab runs` lists them (latest: {known}); `latest` names the newest",
    )
