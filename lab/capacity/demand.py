"""What a number of users asks of the system, and what the cache does about it.

    d = demand(model, users=1_000_000)            # peak req/s by kind, orders/s, concurrency
    working_set(10_000, 1.1, share=0.9)           # products that take 90 % of the reads
    ttl_hit_ratio(10_000, 1.1, reads_per_s=500, ttl_s=30)

Averages and Little's law: a day's requests spread over 86,400 s, times the peak-to-average
factor; concurrent users = throughput × (response time + think time).

The cache model is a TTL cache shared by every replica (one Redis), loaded on a miss and
expiring ``ttl_s`` later whatever the hits (the lab's API sets the key with an expiry and
never extends it). A product read at rate r then misses once per cycle of ``ttl_s + 1/r``
seconds (Poisson arrivals) and hits ``r·ttl_s`` times: its hit ratio is r·T / (1 + r·T),
and the cache's is the read-weighted mean over the Zipf popularity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from lab.capacity.model import UserModel

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Demand:
    users: int
    average_rps: float
    peak_rps: float
    browse_rps: float
    list_rps: float
    order_rps: float
    check_rps: float
    concurrent_users: float  # at the peak, by Little's law

    def basis(self, model: UserModel, response_s: float) -> list[str]:
        return [
            f"peak req/s: {self.users:,} users × {model.sessions_per_user_per_day:g} sessions"
            f" × {model.requests_per_session:g} requests / {SECONDS_PER_DAY:,} s"
            f" × {model.peak_to_average:g} peak/average = {self.peak_rps:,.1f} (user model)",
            f"orders/s: {self.peak_rps:,.1f} req/s × {model.mix.order:.0%} orders"
            f" = {self.order_rps:,.2f} (user model)",
            f"concurrent users at the peak (Little): {self.peak_rps:,.1f} req/s"
            f" × ({response_s:g} s response + {model.think_time_s:g} s think)"
            f" = {self.concurrent_users:,.0f}",
        ]


def demand(model: UserModel, users: int, response_s: float = 0.0) -> Demand:
    """The peak load ``users`` daily active users put on the system."""
    per_day = users * model.sessions_per_user_per_day * model.requests_per_session
    average = per_day / SECONDS_PER_DAY
    peak = average * model.peak_to_average
    mix = model.mix
    return Demand(
        users=users,
        average_rps=average,
        peak_rps=peak,
        browse_rps=peak * mix.browse,
        list_rps=peak * mix.list,
        order_rps=peak * mix.order,
        check_rps=peak * mix.check,
        concurrent_users=peak * (response_s + model.think_time_s),
    )


@lru_cache(maxsize=2)
def zipf_shares(products: int, exponent: float) -> npt.NDArray[np.float64]:
    """Share of reads of products 1..``products``: weight 1/k**s, normalised (the lab's
    load generator draws product ids this way). Do not modify the array: it is cached."""
    ranks = np.arange(1, products + 1, dtype=np.float64)
    weights = ranks**-exponent
    shares: npt.NDArray[np.float64] = weights / weights.sum()
    shares.flags.writeable = False
    return shares


@lru_cache(maxsize=32)
def working_set(products: int, exponent: float, share: float) -> int:
    """The fewest most popular products whose reads add up to ``share`` of all reads."""
    cumulative = np.cumsum(zipf_shares(products, exponent))
    return min(products, int(np.searchsorted(cumulative, share - 1e-12)) + 1)


def ttl_hit_ratio(products: int, exponent: float, reads_per_s: float, ttl_s: float) -> float:
    """The share of product reads a TTL cache answers at ``reads_per_s`` (module doc)."""
    if ttl_s <= 0 or reads_per_s <= 0:
        return 0.0
    total, mean = _buckets(products, exponent)
    held = mean * reads_per_s * ttl_s  # r·T of a product in the bucket
    return float(np.sum(total * held / (1 + held)))


@lru_cache(maxsize=8)
def _buckets(
    products: int, exponent: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The Zipf shares in buckets of ranks: one rank each up to 1,000, then ranges whose
    ends differ by 0.1 % (shares within one differ by s × 0.1 % at most), so a hit ratio
    costs thousands of terms, not one per product. Each bucket's total share and its
    products' mean share."""
    shares = zipf_shares(products, exponent)
    head = np.arange(min(products, 1000))
    steps = max(2, int(math.log(max(products, 2)) / math.log(1.001)))
    tail = np.geomspace(1000, products, steps).astype(np.int64) if products > 1000 else head
    starts = np.unique(np.concatenate([head, tail[tail < products]]))
    total = np.add.reduceat(shares, starts)
    counts = np.diff(np.append(starts, products))
    return total, total / counts


def hit_ratio_needed(browse_rps: float, other_queries_per_s: float, budget_qps: float) -> float:
    """The hit ratio that keeps ``browse_rps × (1 − h) + other`` within ``budget_qps``: 0 when
    the database takes every read, above 1 when even a perfect cache cannot."""
    if browse_rps <= 0:
        return 0.0 if other_queries_per_s <= budget_qps else float("inf")
    return max(0.0, 1 - (budget_qps - other_queries_per_s) / browse_rps)
