"""Demand by averages, the Zipf working set, and the TTL cache's hit ratio."""

from __future__ import annotations

import numpy as np
import pytest

from lab.capacity.demand import (
    hit_ratio_needed,
    ttl_hit_ratio,
    working_set,
    zipf_shares,
)


def test_one_product_misses_once_per_ttl() -> None:
    # 2 reads/s, TTL 10 s: one miss, then 20 hits on average: 20 / 21
    assert ttl_hit_ratio(1, 1.1, reads_per_s=2.0, ttl_s=10.0) == pytest.approx(20 / 21)
    assert ttl_hit_ratio(1, 1.1, reads_per_s=2.0, ttl_s=0.0) == 0.0


@pytest.mark.parametrize("products", [999, 5_000, 200_000])
def test_the_bucketed_hit_ratio_matches_the_sum_over_every_product(products: int) -> None:
    shares = zipf_shares(products, 1.1)
    held = shares * 300.0 * 30.0
    exact = float(np.sum(shares * held / (1 + held)))
    assert ttl_hit_ratio(products, 1.1, reads_per_s=300.0, ttl_s=30.0) == pytest.approx(exact)


def test_the_working_set_covers_the_share_of_reads() -> None:
    assert working_set(100, 0.0, 0.9) == 90  # uniform: 90 % of the products
    shares = zipf_shares(10_000, 1.1)
    n = working_set(10_000, 1.1, 0.9)
    assert shares[:n].sum() >= 0.9 > shares[: n - 1].sum()


def test_the_needed_hit_ratio() -> None:
    assert hit_ratio_needed(100.0, 50.0, budget_qps=100.0) == pytest.approx(0.5)
    assert hit_ratio_needed(100.0, 0.0, budget_qps=500.0) == 0.0
    assert hit_ratio_needed(100.0, 150.0, budget_qps=100.0) > 1  # no cache is enough
