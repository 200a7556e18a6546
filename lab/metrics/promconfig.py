"""Prometheus configuration for a native lab (one file_sd job per service), and the
file_sd target files both runtimes write.

Targets live in ``<targets_dir>/<job>.json`` and are rewritten atomically (write a temp
file, then rename) whenever an instance starts, stops or is scaled, so Prometheus picks
up new replicas within a second or two without a restart or reload. The files are
world-readable: the compose Prometheus reads them through a bind mount as ``nobody``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lab.fsio import atomic_write_text

# Every job the lab scrapes (docs/contracts.md); natively all come from file_sd.
JOBS = ("api", "worker", "lb", "postgres", "redis", "lab", "locust", "prometheus")
# The lab exporter reports on other instances: its own `service`/`instance` labels win.
HONOR_LABELS = frozenset({"lab"})

TargetList = list[tuple[str, dict[str, str]]]


def render_native_config(*, scrape_interval_s: float, targets_dir: Path, rules_file: Path) -> str:
    """prometheus.yml text for a native lab."""
    interval = _duration(scrape_interval_s)
    config = {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "scrape_timeout": _duration(min(scrape_interval_s, 1.0) * 0.9),
            "external_labels": {"lab": "prodlab"},
        },
        "rule_files": [str(rules_file)],
        "scrape_configs": [
            {
                "job_name": job,
                "honor_labels": job in HONOR_LABELS,
                "file_sd_configs": [
                    {"files": [str(targets_dir / f"{job}.json")], "refresh_interval": "5s"}
                ],
            }
            for job in JOBS
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_targets(folder: Path, job: str, targets: TargetList) -> None:
    """Atomically (re)write ``<folder>/<job>.json`` in Prometheus' file_sd format."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    groups = [{"targets": [address], "labels": labels} for address, labels in targets]
    text = json.dumps(groups, indent=2, sort_keys=True)
    path = folder / f"{job}.json"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        path.chmod(0o644)
        return  # unchanged: no needless file_sd refresh
    atomic_write_text(path, text, mode=0o644)


def _duration(seconds: float) -> str:
    millis = max(round(seconds * 1000), 100)
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
