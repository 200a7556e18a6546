"""How numbers read in reports, tables and the terminal (one place, so they agree)."""

from __future__ import annotations

import time
from collections.abc import Mapping

NONE = "—"


def rps(value: float | None) -> str:
    return NONE if value is None else f"{value:,.0f} req/s"


def ms(seconds: float | None) -> str:
    return NONE if seconds is None else f"{seconds * 1000:,.0f} ms"


def pct(ratio: float | None) -> str:
    if ratio is None:
        return NONE
    return f"{ratio:.1%}" if ratio < 0.1 else f"{ratio:.0%}"


def num(value: float | None) -> str:
    return NONE if value is None else f"{value:,.3g}"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


def replicas(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{service}={n}" for service, n in sorted(counts.items())) or NONE


def verdict(passed: bool, aborted: str | None) -> str:
    if aborted:
        return "ABORTED"
    return "PASSED" if passed else "FAILED"


def change(a: float | None, b: float | None) -> str:
    """``b`` relative to ``a``: ``+12%``, ``×3.4``, or ``—`` when either is missing."""
    if a is None or b is None:
        return NONE
    if a == 0:
        return NONE if b == 0 else "new"
    ratio = b / a
    if ratio >= 2 or ratio <= 0.5:
        return f"×{ratio:.2g}"
    return f"{ratio - 1:+.0%}"
