"""An error is printed as it is: one line, whatever brackets it holds (a path such as
``[.../haproxy.cfg:21]`` once crashed the printer as unbalanced rich markup)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_an_error_with_brackets_is_printed_verbatim(tmp_path: Path) -> None:
    odd = "[/tmp/x/haproxy.cfg:21] [/]"
    done = subprocess.run(
        [sys.executable, "-m", "lab.cli", "report", odd],
        env={"PATH": "/usr/bin:/bin", "LAB_HOME": str(tmp_path / ".lab"),
             "LAB_RUNS_DIR": str(tmp_path / "runs"), "COLUMNS": "250"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"error: no run '{odd}'" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
