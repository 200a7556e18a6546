"""The USL fit: known parameters come back, too few points are refused, κ = 0 has no peak,
and a held-out point tells a good fit from a bad one."""

from __future__ import annotations

import random

import pytest

from lab.capacity.usl import MIN_POINTS, UslFit, fit, usl, validate

COUNTS = (1, 2, 3, 4, 6, 8, 12, 16)


def points(sigma: float, kappa: float, lam: float, noise: float = 0.0) -> list[tuple[int, float]]:
    rng = random.Random(7)
    return [(n, usl(n, sigma, kappa, lam) * (1 + rng.gauss(0, noise))) for n in COUNTS]


def test_the_fit_recovers_known_parameters_from_noisy_points() -> None:
    fitted = fit(points(0.05, 0.002, 95.0, noise=0.01))
    assert fitted.sigma == pytest.approx(0.05, abs=0.015)
    assert fitted.kappa == pytest.approx(0.002, rel=0.25)
    assert fitted.lam == pytest.approx(95.0, rel=0.03)
    assert fitted.r_squared > 0.99
    assert fitted.peak_n == pytest.approx((0.95 / 0.002) ** 0.5, rel=0.15)
    assert fitted.peak_x == pytest.approx(fitted.predict(fitted.peak_n or 0))


def test_fewer_than_six_points_are_refused() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_POINTS} measured points"):
        fit(points(0.05, 0.002, 95.0)[: MIN_POINTS - 1])


def test_without_crosstalk_there_is_no_peak() -> None:
    fitted = fit(points(0.05, 0.0, 95.0))
    assert fitted.peak_n is None
    assert fitted.peak_x is None
    assert fitted.ceiling == pytest.approx(95.0 / 0.05, rel=0.01)  # Amdahl: λ/σ
    assert "no retrograde region" in fitted.describe()


def test_replicas_for_a_target_stop_at_the_peak() -> None:
    fitted = UslFit(sigma=0.1, kappa=0.0, lam=100.0, r_squared=1.0, points=())
    assert fitted.replicas_for(300.0) == 4  # X(3) = 250, X(4) = 307.7
    assert fitted.replicas_for(1000.0) is None  # λ/σ is never reached
    peaked = UslFit(sigma=0.0, kappa=0.01, lam=100.0, r_squared=1.0, points=())
    assert peaked.peak_n == pytest.approx(10.0)
    assert peaked.replicas_for(peaked.predict(10)) == 10
    assert peaked.replicas_for(peaked.predict(10) + 1) is None


def test_a_held_out_point_is_predicted_on_clean_data_and_missed_when_off() -> None:
    clean = points(0.05, 0.002, 95.0)
    good = validate(clean, held_out_n=12)
    assert good.error < 0.01
    assert good.within()
    off = [(n, x * 1.5 if n == 12 else x) for n, x in clean]
    bad = validate(off, held_out_n=12)
    assert bad.error > 0.3
    assert not bad.within()
    assert "outside 15%" in bad.describe()


def test_holding_out_a_point_that_is_not_there_says_so() -> None:
    with pytest.raises(ValueError, match="no point at N = 5"):
        validate(points(0.05, 0.002, 95.0), held_out_n=5)


def test_the_ceiling_is_what_a_whole_replica_count_serves() -> None:
    """Between two whole counts the curve's peak is unreachable: a target there has no
    replica count and the API tier's utilisation (target / ceiling) says so too."""
    peaked = UslFit(sigma=0.0, kappa=0.01, lam=100.0, r_squared=1.0, points=())
    shifted = UslFit(sigma=0.0, kappa=0.008, lam=100.0, r_squared=1.0, points=())  # N* ≈ 11.2
    assert peaked.best_n == 10
    assert peaked.ceiling == pytest.approx(peaked.predict(10))
    assert shifted.peak_x is not None and shifted.best_n == 11
    assert shifted.ceiling < shifted.peak_x
    between = (shifted.ceiling + shifted.peak_x) / 2
    assert shifted.replicas_for(between) is None
    assert between / shifted.ceiling > 1
