"""The Universal Scalability Law (Gunther), fitted to measured knees.

    X(N) = λN / (1 + σ(N − 1) + κN(N − 1))

λ is one replica's throughput, σ the share of the work that serialises (contention: X
levels off towards λ/σ, Amdahl's law) and κ the cost of keeping replicas coherent
(crosstalk: X peaks at N* = √((1 − σ)/κ) and falls after it, the retrograde region).

    fitted = fit([(1, 95.0), (2, 180.0), (3, 262.0), (4, 330.0), (6, 450.0), (8, 540.0)])
    fitted.sigma, fitted.kappa, fitted.lam, fitted.r_squared
    fitted.peak_n         # None when κ = 0: no retrograde region
    fitted.predict(16)
    check = validate(points, held_out_n=6)   # fit without N = 6, predict it
    check.error, check.within()               # relative error; within 15 %?

Like usl4j, a fit needs at least six measured points: three parameters from fewer is a
curve through the noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_POINTS = 6
"""Fewest measurements a fit accepts (usl4j's rule)."""
HELD_OUT_TOLERANCE = 0.15
"""A held-out point predicted within this relative error validates the fit."""
KAPPA_ZERO = 1e-8
"""κ at or below this is no crosstalk (N* would be past 10,000 replicas): a fit of data
without a retrograde region ends a rounding error above 0."""

Point = tuple[int, float]


def usl(n: float, sigma: float, kappa: float, lam: float) -> float:
    """Throughput of ``n`` replicas."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


@dataclass(frozen=True)
class UslFit:
    sigma: float
    kappa: float
    lam: float
    r_squared: float
    points: tuple[Point, ...]
    sigma_err: float | None = None  # one standard error of σ (the fit's covariance)
    kappa_err: float | None = None

    @property
    def sigma_within_noise(self) -> bool:
        """σ is less than two standard errors from 0: the points cannot tell it from none,
        so λ/σ says where the measured range stops telling, not where throughput stops."""
        return self.sigma_err is not None and self.sigma < 2 * self.sigma_err

    def predict(self, n: float) -> float:
        return usl(n, self.sigma, self.kappa, self.lam)

    @property
    def peak_n(self) -> float | None:
        """N* = √((1 − σ)/κ), the replica count of the most throughput; None when κ = 0."""
        if self.kappa <= KAPPA_ZERO:
            return None
        return max(1.0, math.sqrt(max(0.0, 1 - self.sigma) / self.kappa))

    @property
    def peak_x(self) -> float | None:
        """X(N*), the most this design serves, or None when there is no peak."""
        peak = self.peak_n
        return None if peak is None else self.predict(peak)

    @property
    def best_n(self) -> int | None:
        """The whole replica count nearest N* that serves the most; None when κ = 0."""
        peak = self.peak_n
        if peak is None:
            return None
        return max((math.floor(peak), math.ceil(peak)), key=self.predict)

    @property
    def ceiling(self) -> float:
        """The throughput no replica count goes past: X at the best whole count near N*,
        or λ/σ without crosstalk (infinite when σ = κ = 0: linear scaling)."""
        best = self.best_n
        if best is not None:
            return self.predict(best)
        return self.lam / self.sigma if self.sigma > 0 else math.inf

    def replicas_for(self, target: float) -> int | None:
        """The fewest replicas whose throughput reaches ``target``; None when no count
        does (past the peak, or past λ/σ)."""
        if target <= self.predict(1):
            return 1
        best = self.best_n
        if best is not None:
            if self.predict(best) < target:
                return None
            low, high = 1, best
        else:
            if target >= self.ceiling:
                return None
            low, high = 1, 2
            while self.predict(high) < target:
                low, high = high, high * 2
        while high - low > 1:  # X rises on [low, high]; X(low) < target ≤ X(high)
            mid = (low + high) // 2
            low, high = (low, mid) if self.predict(mid) >= target else (mid, high)
        return high

    def describe(self) -> str:
        """One line: the parameters, the fit's quality and the peak (or why none)."""
        head = (
            f"USL σ = {self.sigma:.4f}{_err(self.sigma_err, 4)}, "
            f"κ = {self.kappa:.6f}{_err(self.kappa_err, 6)}, λ = {self.lam:.1f} req/s "
            f"(R² = {self.r_squared:.3f}, {len(self.points)} points)"
        )
        if self.sigma_within_noise:
            head += "; σ is within two standard errors of 0 (linear within the noise)"
        peak, top = self.peak_n, self.peak_x
        if peak is None or top is None:
            limit = f"throughput levels off towards λ/σ = {self.ceiling:,.0f} req/s"
            if math.isinf(self.ceiling):
                limit = "throughput grows linearly"
            return f"{head}; κ = 0: no retrograde region, {limit}"
        return f"{head}; peak N* = {peak:.1f} replicas at {top:,.0f} req/s"


def fit(points: Sequence[Point]) -> UslFit:
    """Least-squares fit of σ, κ ≥ 0 (σ ≤ 1) and λ > 0 to ``(replicas, req/s)`` points."""
    from scipy.optimize import curve_fit

    _check(points)
    n = np.array([float(p[0]) for p in points])
    x = np.array([float(p[1]) for p in points])
    guess = _initial_guess(n, x)
    try:
        params, covariance = curve_fit(
            lambda nn, s, k, lam: lam * nn / (1 + s * (nn - 1) + k * nn * (nn - 1)),
            n,
            x,
            p0=guess,
            bounds=([0.0, 0.0, 1e-9], [1.0, np.inf, np.inf]),
            maxfev=20_000,
        )
    except RuntimeError as exc:  # curve_fit's "optimal parameters not found"
        raise ValueError(f"the USL fit did not converge on {len(points)} points: {exc}") from exc
    sigma, kappa, lam = (float(v) for v in params)
    errors = [float(e) for e in np.sqrt(np.abs(np.diag(covariance)))]
    sigma_err, kappa_err = (e if math.isfinite(e) else None for e in errors[:2])
    predicted = np.array([usl(v, sigma, kappa, lam) for v in n])
    residual = float(np.sum((x - predicted) ** 2))
    total = float(np.sum((x - np.mean(x)) ** 2))
    r_squared = 1.0 - residual / total if total > 0 else (1.0 if residual == 0 else 0.0)
    ordered = tuple(sorted((int(p[0]), float(p[1])) for p in points))
    return UslFit(sigma, kappa, lam, r_squared, ordered, sigma_err, kappa_err)


@dataclass(frozen=True)
class Validation:
    """A fit without the points at ``held_out_n``, and how well it predicts them."""

    held_out_n: int
    measured: float  # the mean of the held-out measurements
    predicted: float
    fit: UslFit

    @property
    def error(self) -> float:
        """|predicted − measured| / measured."""
        return abs(self.predicted - self.measured) / self.measured

    def within(self, tolerance: float = HELD_OUT_TOLERANCE) -> bool:
        return self.error <= tolerance

    def describe(self) -> str:
        verdict = "within" if self.within() else "outside"
        return (
            f"held out N = {self.held_out_n}: measured {self.measured:,.1f} req/s, predicted "
            f"{self.predicted:,.1f} ({self.error:.1%}, {verdict} {HELD_OUT_TOLERANCE:.0%})"
        )


def validate(points: Sequence[Point], held_out_n: int) -> Validation:
    """Fit without every point at ``held_out_n`` and predict it. The rest must still be
    at least ``MIN_POINTS`` points."""
    held = [float(x) for n, x in points if n == held_out_n]
    if not held:
        have = ", ".join(str(n) for n in sorted({n for n, _ in points}))
        raise ValueError(f"no point at N = {held_out_n} to hold out (have N = {have})")
    rest = [p for p in points if p[0] != held_out_n]
    fitted = fit(rest)
    measured = sum(held) / len(held)
    return Validation(held_out_n, measured, fitted.predict(held_out_n), fitted)


def _err(error: float | None, digits: int) -> str:
    return "" if error is None else f" ± {error:.{digits}f}"


def _check(points: Sequence[Point]) -> None:
    if len(points) < MIN_POINTS:
        raise ValueError(
            f"the USL needs at least {MIN_POINTS} measured points to fit σ, κ and λ "
            f"(got {len(points)}): measure the knee at more replica counts"
        )
    for n, x in points:
        if n < 1 or not math.isfinite(x) or x <= 0:
            raise ValueError(f"a point needs N ≥ 1 and a throughput > 0 (got N = {n}, X = {x})")
    if len({n for n, _ in points}) < 3:
        raise ValueError("the USL needs points at three or more distinct replica counts")


def _initial_guess(n: np.ndarray, x: np.ndarray) -> list[float]:
    """λ from the N = 1 points (else the best per-replica rate); σ, κ from the linear form
    N·λ/X − 1 = σ(N − 1) + κN(N − 1), solved by least squares and kept positive."""
    ones = x[n == 1]
    lam = float(np.mean(ones)) if ones.size else float(np.max(x / n))
    y = n * lam / x - 1
    design = np.column_stack([n - 1, n * (n - 1)])
    (sigma, kappa), *_ = np.linalg.lstsq(design, y, rcond=None)
    return [min(max(float(sigma), 1e-6), 0.99), max(float(kappa), 1e-9), lam]
