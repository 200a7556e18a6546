"""Shared pieces of the CLI: building the ``Lab`` from settings and flags."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from lab.lab import Lab
from lab.settings import Settings

console = Console()


def make_lab(**flags: Any) -> Lab:
    """Settings (defaults < lab.toml < LAB_* < flags) and the Lab built from them."""
    return annotated(Lab(Settings.load(**flags)))


def annotated(lab: Lab) -> Lab:
    """``lab`` with its events posted to Grafana as annotations (where Grafana runs)."""
    from lab.annotations import GrafanaAnnotator, grafana_access

    lab.events.subscribe(GrafanaAnnotator(lambda: grafana_access(lab.runtime)).on_event)
    return lab
