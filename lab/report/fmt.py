"""Moved to ``lab.fmt`` (one formatting module for CLI, watch and report)."""

from lab.fmt import NONE, change, duration, ms, num, pct, replicas, rps, verdict, when

__all__ = ["NONE", "change", "duration", "ms", "num", "pct", "replicas", "rps", "verdict", "when"]
