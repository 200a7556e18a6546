"""Shared pieces of the CLI: building the ``Lab`` from settings and flags."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from lab.lab import Lab
from lab.settings import Settings

console = Console()


def make_lab(**flags: Any) -> Lab:
    """Settings (defaults < lab.toml < LAB_* < flags) and the Lab built from them."""
    return Lab(Settings.load(**flags))
