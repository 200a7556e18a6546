"""Exact client-side latency percentiles: HDR histograms, one per second of wall time.

Prometheus histograms interpolate inside a bucket; an HDR histogram keeps every value to
three significant digits, so a p95 read from it is the p95 that was measured. Each Locust
process records into the histogram of the current second; workers ship what they
recorded (encoded, a few hundred bytes) with their stats report, and the master adds it
into the same second. Any range of seconds can then be merged and asked for quantiles:
the last 10 s for the live ``locust_latency_hdr_seconds`` gauge, or a whole phase when the
lab asks ``/hdr?start=..&end=..`` after it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour, in microseconds
DIGITS = 3
KEEP_SECONDS = 3_600  # an hour of history on the master: a long run's phases stay readable


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


class LatencyWindow:
    """Per-second HDR histograms, thread-safe (the scrape handler reads concurrently)."""

    def __init__(self, keep_seconds: int = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._seconds: OrderedDict[int, HdrHistogram] = OrderedDict()
        self._lock = threading.Lock()

    def record(self, at: float, seconds: float) -> None:
        """A latency of ``seconds``, measured for a request that ended at unix time ``at``."""
        micros = min(HIGHEST_US, max(LOWEST_US, round(seconds * 1_000_000)))
        with self._lock:
            self._histogram(int(at)).record_value(micros)

    def drain(self) -> list[tuple[int, str]]:
        """Everything recorded so far, encoded per second, and forget it (a worker's report)."""
        with self._lock:
            wire = [(second, h.encode().decode("ascii")) for second, h in self._seconds.items()]
            self._seconds.clear()
        return wire

    def merge(self, wire: Iterable[tuple[int, str]]) -> None:
        """Add a worker's report."""
        with self._lock:
            for second, encoded in wire:
                self._histogram(int(second)).add(HdrHistogram.decode(encoded.encode("ascii")))

    def quantiles(
        self, start: float, end: float, quantiles: Iterable[float]
    ) -> tuple[int, dict[float, float]]:
        """How many latencies were recorded in ``[start, end)`` and, when any were, their
        quantiles in seconds."""
        merged = new_histogram()
        with self._lock:
            for second, histogram in self._seconds.items():
                if start <= second < end:
                    merged.add(histogram)
        count = merged.get_total_count()
        if count == 0:
            return 0, {}
        return count, {q: merged.get_value_at_percentile(q * 100) / 1_000_000 for q in quantiles}

    def _histogram(self, second: int) -> HdrHistogram:
        histogram = self._seconds.get(second)
        if histogram is None:
            histogram = self._seconds[second] = new_histogram()
            while len(self._seconds) > self.keep_seconds:
                self._seconds.popitem(last=False)
        return histogram
