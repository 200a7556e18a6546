"""lab/rules.py names every recording rule of services/prometheus/rules.yml, in order."""

from __future__ import annotations

from pathlib import Path

import yaml

from lab import rules

RULES_FILE = Path(__file__).resolve().parents[2] / "services" / "prometheus" / "rules.yml"


def test_catalogue_matches_rules_file() -> None:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    recorded = [r["record"] for group in data["groups"] for r in group["rules"] if "record" in r]
    assert list(rules.ALL) == recorded


def test_catalogue_has_no_duplicates() -> None:
    assert len(set(rules.ALL)) == len(rules.ALL)
