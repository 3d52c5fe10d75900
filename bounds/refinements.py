"""Refinements of T1 ([HMDO] section 5): each tightens the slope C of consequence A.

- Cone: the support lies in a cone of opening angle theta (0 < theta <= pi). The count is multiplied by
  the volume fraction of the ball inside the cone, the spherical sector
  (1/2) * I_{sin^2(theta/2)}((d-1)/2, 1/2) (regularized incomplete beta), per prompt vector, but never
  taken below 1 + r/eps per vector: the cone's axis, a segment of length r, holds a packing of
  ceil(r/eps) points whatever theta (the volume estimate falls below that for theta below about eps/r).
- Box: per-coordinate ranges l_i instead of one radius: prod_i (1 + l_i/eps) per prompt vector.
- Non-uniform cells: next-token cells of unequal volume; the n-fold product of cell volumes drawn
  from their distribution D has a median; once that median falls below 1/Pk a typical sequence of
  length n no longer owns an eps-cell, so n* = min{n : median(prod_{j<=n} v_j) < 1/Pk}.
  `nonuniform_threshold` evaluates it numerically from a sample of cell volumes, on a lattice of log2
  volumes rounded up (so its answer is never below the exact n*, and exact for equal cells).

This module holds each refinement three ways: its evaluator (mpmath for the cone and the box, numpy for the
non-uniform cells; named in `__all__`, exported by `bounds`; `log2_cone_floor`, the cone's floor, beside them),
the numpy fast forms `fast_NAME` of the cone (exported by `bounds.fast` as NAME), and the sympy `Result`s,
which load on first use of `RESULTS`, `CONE`, `BOX`, `NONUNIFORM`, the expressions (`CONE_FRACTION`, ...,
`NONUNIFORM_CONDITION`) or `latex`, so that importing `bounds` imports neither sympy nor scipy.

>>> import sympy
>>> from bounds.symbols import d, theta
>>> from bounds.refinements import CONE_FRACTION
>>> CONE_FRACTION.subs({d: 3, theta: sympy.pi}).rewrite(sympy.Integral).doit()
1/2
"""
from __future__ import annotations

import math

import numpy as np

from . import validate
from .evaluate import (LN2, _array_eps, _at_precision, _cancelling_sum, _eps, _guarded, _log2_one_plus_ratio,
                       _positive, _positive_integer, _size, _size_at_least_2)
from .formula import lazy_results
from .precision import MP
from .t1 import fast_log2_prompts_ball

# What `bounds` exports from here (and `bounds.fast` too, from the `fast_` functions of the same names).
__all__ = ["log2_cone_fraction", "tokens_per_vector_cone", "log2_prompts_cone", "log2_prompts_box",
           "median_log2_volume_product", "nonuniform_threshold"]


# ----------------------------------------------------------------------------------------- mpmath
def _check_theta(theta) -> MP.mpf:
    return validate.angle("theta", theta)


@_at_precision
def log2_cone_fraction(d, theta) -> MP.mpf:
    """Cone refinement: log2 of (1/2) I_{sin^2(theta/2)}((d-1)/2, 1/2), the ball fraction in the cone.

    >>> float(log2_cone_fraction(2, MP.pi / 2))   # a quarter of the disc
    -2.0
    """
    d_ = _positive_integer("d", d)
    if d_ < 2:
        raise ValueError("the cone refinement needs d >= 2")
    x = MP.sin(_check_theta(theta) / 2) ** 2
    # mpmath.betainc (a 2F1 series) fails to converge for d ~ 1e5 and theta ~ 2.4, so the continued
    # fraction is used throughout; tests check it against mpmath.betainc and the d = 2, 3 closed forms.
    return (_log_betainc_cf((d_ - 1) / 2, MP.mpf(1) / 2, x) - MP.log(2)) / MP.log(2)


def _log_betainc_cf(a, b, x) -> MP.mpf:
    """ln I_x(a, b) by the continued fraction (modified Lentz) at the working precision.

    Used where x < (a+1)/(a+b+2); otherwise through I_x(a, b) = 1 - I_{1-x}(b, a).
    """
    if x >= (a + 1) / (a + b + 2):
        return MP.log1p(-MP.exp(_log_betainc_cf(b, a, 1 - x)))
    tiny, tol = MP.mpf(10) ** (-10 * MP.dps), MP.mpf(10) ** (-MP.dps - 5)
    c, dd = MP.mpf(1), 1 - (a + b) * x / (a + 1)
    dd = 1 / (dd if abs(dd) > tiny else tiny)
    h = dd
    for step in range(1, 10 ** 6):
        for aa in (step * (b - step) * x / ((a - 1 + 2 * step) * (a + 2 * step)),
                   -(a + step) * (a + b + step) * x / ((a + 2 * step) * (a + 1 + 2 * step))):
            dd = 1 + aa * dd
            dd = 1 / (dd if abs(dd) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= dd * c
        if abs(dd * c - 1) < tol:
            break
    else:
        raise ValueError("incomplete beta continued fraction did not converge")
    return a * MP.log(x) + b * MP.log1p(-x) - MP.log(MP.beta(a, b)) - MP.log(a) + MP.log(h)


def log2_cone_floor(radius, eps) -> MP.mpf:
    """log2(1 + r/eps): the cone refinement never counts fewer prompts per vector than this.

    A cone of any opening angle holds its axis, a segment of length r inside B(0, r); points on it at
    spacing just above eps are a valid packing of ceil(r/eps) <= 1 + r/eps points (at least one cell).
    The sector-volume estimate drops below that when theta is narrower than about eps/r, so the refined
    count is the larger of the two: still at most the ball form, never below a packing count, never < 0.

    >>> float(log2_cone_floor(1, 1))
    1.0
    """
    with _guarded():
        return _log2_cone_floor(radius, eps)


def _log2_cone_floor(radius, eps) -> MP.mpf:
    return MP.log1p(_positive("radius", radius) / _eps(eps)) / MP.log(2)


def _log2_cone_per_vector(d, radius, eps, theta) -> MP.mpf:
    d_ = _positive_integer("d", d)
    # the two terms cancel for a narrow cone: the precision grows with the digits lost (_cancelling_sum)
    estimate = _cancelling_sum(lambda: [d_ * _log2_one_plus_ratio(radius, eps), log2_cone_fraction.__wrapped__(d, theta)])
    return max(estimate, _log2_cone_floor(radius, eps))


@_at_precision
def tokens_per_vector_cone(d, vocab, radius, eps, theta) -> MP.mpf:
    """Cone-refined C: max(d*log2(1 + 2r/eps) + log2 cone fraction, log2(1 + r/eps))/log2|V|.

    >>> float(tokens_per_vector_cone(2, 4, 0.5, 1, MP.pi))   # (2 - 1)/2
    0.5
    >>> round(float(tokens_per_vector_cone(768, 50304, 63.62, "fp16", 1e-5)), 4)   # the floor: narrow cone
    1.0239
    """
    log2_vocab = MP.log(_size_at_least_2("vocab", vocab), 2)
    return _log2_cone_per_vector(d, radius, eps, theta) / log2_vocab


@_at_precision
def log2_prompts_cone(d, m, radius, eps, theta) -> MP.mpf:
    """Cone-refined T1: m*max(d*log2(1 + 2r/eps) + log2 cone fraction, log2(1 + r/eps)) (`log2_cone_floor`).

    >>> float(log2_prompts_cone(2, 3, 0.5, 1, MP.pi))
    3.0
    """
    return _positive_integer("m", m) * _log2_cone_per_vector(d, radius, eps, theta)


@_at_precision
def log2_prompts_box(sides, m, eps) -> MP.mpf:
    """Box refinement: m * sum_i log2(1 + l_i/eps), coordinate i ranging over an interval of length l_i.

    >>> log2_prompts_box([1, 3], 1, 1) == 3
    True
    """
    eps_ = _eps(eps)
    if isinstance(sides, (str, bytes)) or not hasattr(sides, "__iter__"):
        raise ValueError(f"sides must be a non-empty list of positive numbers, got {sides!r}")
    sides = list(sides)
    if not sides:
        raise ValueError("sides must be non-empty")
    total = MP.fsum(MP.log1p(_positive("side", s) / eps_) / MP.log(2) for s in sides)
    return _positive_integer("m", m) * total


# ----------------------------------------------------------------------------------------- non-uniform cells (numpy)
MAX_LATTICE = 1 << 22  # points of the lattice of a sum of n log2 volumes (32 MiB of float64 at most)


def _check_volumes(cell_volumes) -> np.ndarray:
    volumes = np.asarray(cell_volumes, dtype=float).ravel()
    if volumes.size == 0 or not np.all(np.isfinite(volumes)) or np.any(volumes <= 0) or np.any(volumes > 1):
        raise ValueError("cell volumes must be a non-empty array of fractions in (0, 1]")
    return volumes


# Float log2 of a volume (and the volume itself) is within a few ulps of the exact value: every log2
# volume but an exact power of two is moved up by this relative margin before it is rounded up, so no
# lattice value is below it.
_UP = 1e-12
# The FFT's cumulative sums are within ~1e-13 of the exact ones (4M-point lattice); the median is taken where
# the computed CDF exceeds 1/2 by more than this, so it is never below the exact (upper) median.
_CDF_SLACK = 1e-9


def _check_bin_bits(bin_bits) -> float:
    try:
        step = float(bin_bits)
    except (TypeError, ValueError):
        raise ValueError(f"bin_bits must be a positive finite number, got {bin_bits!r}") from None
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"bin_bits must be a positive finite number, got {bin_bits!r}")
    return step


def _check_n(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float)) or not float(n).is_integer() or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _lattice(volumes: np.ndarray, bin_bits: float):
    """Round log2 volumes UP onto the lattice top + k*bin_bits (k <= 0), top = the largest of them.

    Returns (top, mass), mass[j] the probability of k = j - (mass.size - 1). Each lattice value is >= its
    exact log2 volume (the margin _UP covers float error), and the largest volume is on the lattice
    exactly, so equal cells are represented without error.
    """
    log2v = np.log2(volumes)
    exact = np.frexp(volumes)[0] == 0.5                         # powers of two: np.log2 is exact there
    up = np.where(exact, log2v, log2v + _UP * np.maximum(1.0, np.abs(log2v)))
    top = float(up.max())
    k = np.ceil((up - top) / bin_bits).astype(np.int64)      # <= 0; ceil: towards larger volumes
    low = int(k.min())
    mass = np.bincount(k - low).astype(float)
    return top, mass / mass.sum()


def _convolve_power(mass: np.ndarray, n: int) -> np.ndarray:
    """Distribution of the sum of n iid lattice variables (FFT, exact up to float rounding)."""
    size = (mass.size - 1) * n + 1
    fft_size = 1 << max(1, (size - 1).bit_length())
    spectrum = np.fft.rfft(mass, fft_size) ** n
    dist = np.fft.irfft(spectrum, fft_size)[:size]
    dist = np.clip(dist, 0.0, None)  # FFT rounding can leave -1e-17 where the mass is 0
    return dist / dist.sum()


def median_log2_volume_product(cell_volumes, n: int, *, bin_bits: float = 1 / 64) -> float:
    """Median of log2 of the product of n iid cell volumes drawn from the sample `cell_volumes`, never
    below the exact one: an upper bound within n*bin_bits of it.

    Each log2 volume is rounded UP to a lattice of step `bin_bits` anchored at the largest volume (exact
    for that one, hence for equal cells), so the lattice sum is >= the exact sum for every draw and its
    median >= the exact median. The n-fold convolution is exact on the lattice (FFT, float rounding
    absorbed by a 1e-9 slack on the CDF). The median is the upper one: the smallest lattice value with
    more than half the mass at or below it. The step grows, if needed, so that the lattice of the sum
    has at most MAX_LATTICE points (memory); the error bound n*step then uses the larger step.

    >>> median_log2_volume_product([0.25] * 4, 3)
    -6.0
    """
    n = _check_n("n", n)
    bin_bits = _check_bin_bits(bin_bits)
    volumes = _check_volumes(cell_volumes)
    log2v = np.log2(volumes)
    bin_bits = max(bin_bits, float(log2v.max() - log2v.min()) * n / MAX_LATTICE)
    top, mass = _lattice(volumes, bin_bits)
    dist = _convolve_power(mass, n)
    median_index = int(np.searchsorted(np.cumsum(dist), 0.5 + _CDF_SLACK, side="right"))
    median_index = min(median_index, dist.size - 1)
    return float(top * n + (median_index - (dist.size - 1)) * bin_bits)


def nonuniform_threshold(cell_volumes, log2_pk: float, *, bin_bits: float = 1 / 64, max_n: int = 1 << 20) -> int:
    """Smallest n with median(log2 prod of n cell volumes) < -log2_pk (non-uniform-cell refinement).

    The median is non-increasing in n (each extra factor is <= 1), so n* is found by bracketing and bisection.
    The median comes from `median_log2_volume_product`, which never falls below the exact median (log2
    volumes rounded up on its lattice): the lattice error can only make n* larger than the exact answer,
    by at most the n needed to absorb n*bin_bits bits. With all volumes 1/|V| it is exact, T1's threshold
    floor(log2_pk/log2|V|) + 1 (up to a 1e-12 relative margin at exact ties, again upwards).

    >>> nonuniform_threshold([1 / 16] * 16, log2_pk=10.0)
    3
    """
    try:
        log2_pk = float(log2_pk)
    except (TypeError, ValueError):
        raise ValueError(f"log2_pk must be a finite number >= 0, got {log2_pk!r}") from None
    if not (log2_pk >= 0 and math.isfinite(log2_pk)):
        raise ValueError(f"log2_pk must be a finite number >= 0, got {log2_pk!r}")
    bin_bits = _check_bin_bits(bin_bits)
    max_n = _check_n("max_n", max_n)
    volumes = _check_volumes(cell_volumes)
    if np.all(volumes == 1.0):
        raise ValueError("all cell volumes are 1: the median never falls below 1/Pk")

    def below(k: int) -> bool:
        return median_log2_volume_product(volumes, k, bin_bits=bin_bits) < -log2_pk

    # Start next to the law-of-large-numbers guess log2_pk / E|log2 v| (the median of the sum is within
    # O(1) terms of it), bracket by doubling steps, then bisect: a few convolutions instead of ~2 log2 n.
    mean_bits = float(-np.mean(np.log2(volumes)))
    guess = int(min(max(1, math.ceil(log2_pk / mean_bits)), max_n))
    step = 1
    if below(guess):
        hi, lo = guess, guess - 1
        while lo >= 1 and below(lo):
            hi, step = lo, step * 2
            lo = max(0, hi - step)
    else:
        lo, hi = guess, guess + 1
        while not below(hi):
            lo, step = hi, step * 2
            hi = lo + step
            if hi > max_n:
                raise ValueError(f"median stays above 1/Pk up to n = {max_n}")
    while hi - lo > 1:  # invariant: below(hi) holds, below(lo) does not (or lo == 0)
        mid = (lo + hi) // 2
        if below(mid):
            hi = mid
        else:
            lo = mid
    return hi


# ----------------------------------------------------------------------------------------- numpy fast path
def gammaln(x):
    """scipy.special.gammaln, imported on first use: importing `bounds` does not load scipy (0.3 s)."""
    from scipy.special import gammaln as scipy_gammaln
    return scipy_gammaln(x)


def _stirling_correction(x):
    """ln Gamma(x) - [(x - 1/2) ln x - x + ln(2 pi)/2], for x >= 100 (next term < 1e-17)."""
    return 1.0 / (12.0 * x) - 1.0 / (360.0 * x ** 3) + 1.0 / (1260.0 * x ** 5)


def _betaln(a, b):
    """ln B(a, b) without the cancellation of gammaln(a) - gammaln(a + b) for large a (scipy's betaln
    loses ~1e-11 at a = 4e4, b = 1/2)."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    big, small = np.maximum(a, b), np.minimum(a, b)
    safe_big = np.maximum(big, 100.0)
    # ln Gamma(big) - ln Gamma(big + small) by Stirling, written with log1p so that nothing cancels
    ratio = (-small * np.log(safe_big) - (safe_big + small - 0.5) * np.log1p(small / safe_big) + small
             + _stirling_correction(safe_big) - _stirling_correction(safe_big + small))
    direct = gammaln(big) - gammaln(big + small)
    return gammaln(small) + np.where(big >= 100.0, ratio, direct)


def _log_betacf(a, b, x, ln_x, ln_1mx, max_iter=100000, tol=1e-16):
    """ln I_x(a, b) by the continued fraction (modified Lentz), valid for x < (a+1)/(a+b+2).

    Front factor x^a (1-x)^b / (a B(a,b)) is taken in log space, so tiny values do not underflow.
    """
    a, b, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float), np.asarray(x, float))
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    dd = 1.0 - qab * x / qap
    dd = np.where(np.abs(dd) < tiny, tiny, dd)
    dd = 1.0 / dd
    h = dd.copy()
    active = np.ones(x.shape, dtype=bool)
    for step in range(1, max_iter + 1):
        m2 = 2.0 * step
        aa = step * (b - step) * x / ((qam + m2) * (a + m2))
        dd = 1.0 + aa * dd
        dd = np.where(np.abs(dd) < tiny, tiny, dd)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        dd = 1.0 / dd
        h = np.where(active, h * dd * c, h)
        aa = -(a + step) * (qab + step) * x / ((a + m2) * (qap + m2))
        dd = 1.0 + aa * dd
        dd = np.where(np.abs(dd) < tiny, tiny, dd)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        dd = 1.0 / dd
        delta = dd * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) > tol
        if not active.any():
            break
    return a * ln_x + b * ln_1mx - _betaln(a, b) - np.log(a) + np.log(h)


def fast_log2_cone_fraction(d, theta) -> np.ndarray:
    """Cone refinement: log2((1/2) I_{sin^2(theta/2)}((d-1)/2, 1/2)), vectorized, d >= 2, 0 < theta <= pi.

    >>> round(float(fast_log2_cone_fraction(2, np.pi / 2)), 12)
    -2.0
    """
    d, theta = np.broadcast_arrays(validate.array_integer_at_least("d", d, 2), validate.array_angle("theta", theta))
    a, b = (d - 1.0) / 2.0, np.full(d.shape, 0.5)
    half = theta / 2.0
    x, one_minus_x = np.sin(half) ** 2, np.cos(half) ** 2   # cos^2 keeps 1 - x accurate near theta = pi
    # ln x and ln(1-x) via log1p where the argument is near 1: log(0.9998...) would lose ~4 digits.
    # The branch not taken may hit log(0) at theta = pi; np.where drops it.
    with np.errstate(divide="ignore"):
        ln_x = np.where(x > 0.5, np.log1p(-one_minus_x), 2.0 * np.log(np.sin(half)))
        ln_1mx = np.where(x < 0.5, np.log1p(-x), 2.0 * np.log(np.cos(half)))
    direct = x < (a + 1.0) / (a + b + 2.0)
    out = np.empty(d.shape)
    if direct.any():
        out[direct] = _log_betacf(a[direct], b[direct], x[direct], ln_x[direct], ln_1mx[direct])
    flip = ~direct
    if flip.any():  # I_x(a, b) = 1 - I_{1-x}(b, a)
        ln_comp = _log_betacf(b[flip], a[flip], one_minus_x[flip], ln_1mx[flip], ln_x[flip])
        out[flip] = np.log1p(-np.exp(ln_comp))
    return (out - np.log(2.0)) / LN2


def fast_tokens_per_vector_cone(d, vocab, radius, eps, theta) -> np.ndarray:
    """Cone-refined C: max(d*log2(1 + 2r/eps) + log2 cone fraction, log2(1 + r/eps))/log2|V|, vectorized
    (the floor is `log2_cone_floor`: a narrow cone still holds the cells along its axis).

    >>> round(float(fast_tokens_per_vector_cone(2, 4, 0.5, 1.0, np.pi)), 12)
    0.5
    >>> round(float(fast_tokens_per_vector_cone(768, 50304, 63.62, 2.0 ** -10, 1e-5)), 4)
    1.0239
    """
    floor = np.log1p(validate.array_positive("radius", radius) / _array_eps(eps)) / LN2
    per_vector = np.maximum(fast_log2_prompts_ball(d, 1, radius, eps) + fast_log2_cone_fraction(d, theta), floor)
    return validate.finite_result("tokens_per_vector_cone", per_vector / np.log2(_size("vocab", vocab)))


# ----------------------------------------------------------------------------------------- sympy (lazy)
def _build_results() -> tuple[dict, dict]:
    import sympy as sp

    from .symbols import Column, Result, d, eps, i, log2, m, n, r, side, theta

    cone_fraction = sp.Rational(1, 2) * sp.betainc_regularized((d - 1) / sp.Integer(2), sp.Rational(1, 2), 0,
                                                               sp.sin(theta / 2) ** 2)
    log2_cone_fraction_expr = log2(cone_fraction)
    cone_floor = log2(1 + r / eps)   # the axis of the cone: a segment of length r, ceil(r/eps) <= 1 + r/eps points
    cone = m * sp.Max(d * log2(1 + 2 * r / eps) + log2_cone_fraction_expr, cone_floor)
    box = m * sp.Sum(log2(1 + side[i] / eps), (i, 1, d))
    median_log2_product = sp.Function("M")  # M(n) = median of log2 prod_{j<=n} v_j, v_j iid ~ D
    condition = sp.Lt(median_log2_product(n), -sp.Symbol("ell_Pk", positive=True))  # ell_Pk = log2 Pk
    results = {
        "cone": Result(
            name="Cone refinement",
            expr=cone,
            source="[HMDO] section 5 (cone refinement); sector volume fraction by the regularized incomplete beta",
            assumptions=("each prompt vector (or representation) lies in a cone of opening angle theta <= pi",
                         "d >= 2", "T1 ball-form assumptions",
                         "floor derived here: the cone's axis (length r) holds ceil(r/eps) <= 1 + r/eps separated points"),
            meaning="log2 Npr(m) <= m*max(d*log2(1 + 2r/eps) + log2((1/2) I_{sin^2(theta/2)}((d-1)/2, 1/2)), "
                    "log2(1 + r/eps))",
            evaluator=log2_prompts_cone, arguments=("d", "m", "r", "epsilon", "theta"),
            columns=(Column("tokens_per_vector_cone", "C cone", r"$C_{cone}$", 190),),   # per vector, in tokens
        ),
        "box": Result(
            name="Box refinement",
            expr=box,
            source="[HMDO] section 5 (box/ellipsoid refinement)",
            assumptions=("coordinate i of each prompt vector ranges over an interval of length l_i",
                         "T1 eps-cube assumption"),
            meaning="log2 Npr(m) <= m*sum_i log2(1 + l_i/eps)",
            evaluator=log2_prompts_box, arguments=("sides", "m", "epsilon"),      # sides = [l_1, ..., l_d]
        ),
        "nonuniform": Result(
            name="Non-uniform cells refinement",
            expr=condition,
            source="[HMDO] section 5 (non-uniform next-token cells)",
            assumptions=("next-token cell volumes (fractions of the prompt set) iid from a distribution D",
                         "a sequence is accessible only if its cell holds an eps-cube: volume >= 1/Pk"),
            meaning="n* = min{n : median log2 prod_{j<=n} v_j < -log2 Pk}; evaluated on a lattice of log2 volumes "
                    "rounded up (anchored at the largest volume), so the computed n* is never below the exact one and "
                    "is exact for equal cells",
            evaluator=nonuniform_threshold, arguments=("cell_volumes", "ell_Pk"),
        ),
    }
    names = {"CONE_FRACTION": cone_fraction, "LOG2_CONE_FRACTION": log2_cone_fraction_expr,
             "LOG2_CONE_FLOOR": cone_floor, "LOG2_PROMPTS_CONE": cone, "LOG2_PROMPTS_BOX": box,
             "median_log2_product": median_log2_product, "NONUNIFORM_CONDITION": condition,
             "CONE": results["cone"], "BOX": results["box"], "NONUNIFORM": results["nonuniform"],
             "side": side, "i": i}
    return results, names


# RESULTS, the `Result`s and the sympy expressions, built on first use
__getattr__ = lazy_results(__name__, _build_results, (
    "CONE_FRACTION", "LOG2_CONE_FRACTION", "LOG2_CONE_FLOOR", "LOG2_PROMPTS_CONE", "LOG2_PROMPTS_BOX",
    "median_log2_product", "NONUNIFORM_CONDITION", "CONE", "BOX", "NONUNIFORM", "side", "i"
))


def latex(name: str = "cone") -> str:
    """LaTeX of one refinement: 'cone', 'box' or 'nonuniform'.

    >>> "theta" in latex("cone")
    True
    """
    return __getattr__("RESULTS")[name].latex()
