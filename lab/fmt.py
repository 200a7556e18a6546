"""How numbers read in the CLI, ``lab watch`` and the reports: one place, so they agree."""

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


def rate(value: float | None) -> str:
    """A rate with one decimal (``312.3``), for live views where the unit is a heading."""
    return NONE if value is None else f"{value:,.1f}"


def pct1(ratio: float | None) -> str:
    """A ratio as a percentage with one decimal (``0.4%``)."""
    return NONE if ratio is None else f"{ratio * 100:.1f}%"


def size(value: float) -> str:
    """Bytes in binary units: ``512 B``, ``126.4 MiB``."""
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    step = 0
    while value >= 1024 and step < len(units) - 1:
        value /= 1024
        step += 1
    return f"{value:,.0f} B" if step == 0 else f"{value:,.1f} {units[step]}"
