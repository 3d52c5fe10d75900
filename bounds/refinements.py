"""Refinements of T1 ([HMDO] section 5): each tightens the slope C of consequence A.

- Cone: the support lies in a cone of opening angle theta (0 < theta <= pi). The count is multiplied by
  the volume fraction of the ball inside the cone, the spherical sector
  (1/2) * I_{sin^2(theta/2)}((d-1)/2, 1/2) (regularized incomplete beta), per prompt vector.
- Box: per-coordinate ranges l_i instead of one radius: prod_i (1 + l_i/eps) per prompt vector.
- Non-uniform cells: next-token cells of unequal volume; the n-fold product of cell volumes drawn
  from their distribution D has a median; once that median falls below 1/Pk a typical sequence of
  length n no longer owns an eps-cell, so n* = min{n : median(prod_{j<=n} v_j) < 1/Pk}.
  `nonuniform_threshold` evaluates it numerically from a sample of cell volumes.

>>> import sympy
>>> from bounds.symbols import d, theta
>>> CONE_FRACTION.subs({d: 3, theta: sympy.pi}).rewrite(sympy.Integral).doit()
1/2
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from .symbols import Result, d, eps, i, log2, m, n, r, side, theta

CONE_FRACTION = sp.Rational(1, 2) * sp.betainc_regularized((d - 1) / sp.Integer(2), sp.Rational(1, 2), 0,
                                                            sp.sin(theta / 2) ** 2)
LOG2_CONE_FRACTION = log2(CONE_FRACTION)
LOG2_PROMPTS_CONE = m * (d * log2(1 + 2 * r / eps) + LOG2_CONE_FRACTION)
LOG2_PROMPTS_BOX = m * sp.Sum(log2(1 + side[i] / eps), (i, 1, d))
median_log2_product = sp.Function("M")  # M(n) = median of log2 prod_{j<=n} v_j, v_j iid ~ D
NONUNIFORM_CONDITION = sp.Lt(median_log2_product(n), -sp.Symbol("ell_Pk", positive=True))  # ell_Pk = log2 Pk

CONE = Result(
    name="Cone refinement",
    expr=LOG2_PROMPTS_CONE,
    source="[HMDO] section 5 (cone refinement); sector volume fraction by the regularized incomplete beta",
    assumptions=("each prompt vector (or representation) lies in a cone of opening angle theta <= pi",
                 "d >= 2", "T1 ball-form assumptions"),
    meaning="log2 Npr(m) <= m*(d*log2(1 + 2r/eps) + log2((1/2) I_{sin^2(theta/2)}((d-1)/2, 1/2)))",
)
BOX = Result(
    name="Box refinement",
    expr=LOG2_PROMPTS_BOX,
    source="[HMDO] section 5 (box/ellipsoid refinement)",
    assumptions=("coordinate i of each prompt vector ranges over an interval of length l_i",
                 "T1 eps-cube assumption"),
    meaning="log2 Npr(m) <= m*sum_i log2(1 + l_i/eps)",
)
NONUNIFORM = Result(
    name="Non-uniform cells refinement",
    expr=NONUNIFORM_CONDITION,
    source="[HMDO] section 5 (non-uniform next-token cells)",
    assumptions=("next-token cell volumes (fractions of the prompt set) iid from a distribution D",
                 "a sequence is accessible only if its cell holds an eps-cube: volume >= 1/Pk"),
    meaning="n* = min{n : median log2 prod_{j<=n} v_j < -log2 Pk}",
)

RESULTS = {"cone": CONE, "box": BOX, "nonuniform": NONUNIFORM}


def latex(name: str = "cone") -> str:
    """LaTeX of one refinement: 'cone', 'box' or 'nonuniform'.

    >>> "theta" in latex("cone")
    True
    """
    return RESULTS[name].latex()


MAX_LATTICE = 1 << 22  # points of the lattice of a sum of n log2 volumes (32 MiB of float64 at most)


def _check_volumes(cell_volumes) -> np.ndarray:
    volumes = np.asarray(cell_volumes, dtype=float).ravel()
    if volumes.size == 0 or not np.all(np.isfinite(volumes)) or np.any(volumes <= 0) or np.any(volumes > 1):
        raise ValueError("cell volumes must be a non-empty array of fractions in (0, 1]")
    return volumes


def _lattice(cell_volumes, bin_bits: float):
    """Round log2 volumes to a lattice of step bin_bits; return (offset index, probability mass)."""
    log2v = np.log2(_check_volumes(cell_volumes))
    idx = np.rint(log2v / bin_bits).astype(np.int64)
    low = idx.min()
    mass = np.bincount(idx - low).astype(float)
    return int(low), mass / mass.sum()


def _convolve_power(mass: np.ndarray, n: int) -> np.ndarray:
    """Distribution of the sum of n iid lattice variables (FFT, exact up to float rounding)."""
    size = (mass.size - 1) * n + 1
    fft_size = 1 << max(1, (size - 1).bit_length())
    spectrum = np.fft.rfft(mass, fft_size) ** n
    dist = np.fft.irfft(spectrum, fft_size)[:size]
    dist = np.clip(dist, 0.0, None)  # FFT rounding can leave -1e-17 where the mass is 0
    return dist / dist.sum()


def median_log2_volume_product(cell_volumes, n: int, bin_bits: float = 1 / 64) -> float:
    """Median of log2 of the product of n iid cell volumes drawn from the sample `cell_volumes`.

    The log2 volumes are rounded to a lattice of step `bin_bits` (error at most n*bin_bits/2 bits) and
    the n-fold convolution is exact on that lattice. The step grows, if needed, so that the lattice of the
    sum has at most MAX_LATTICE points (memory); the error bound n*step/2 then uses the larger step.

    >>> median_log2_volume_product([0.25] * 4, 3)
    -6.0
    """
    if int(n) != n or n < 1:
        raise ValueError("n must be a positive integer")
    log2v = np.log2(_check_volumes(cell_volumes))
    bin_bits = max(bin_bits, float(log2v.max() - log2v.min()) * int(n) / MAX_LATTICE)
    low, mass = _lattice(cell_volumes, bin_bits)
    dist = _convolve_power(mass, int(n))
    cdf = np.cumsum(dist)
    median_index = int(np.searchsorted(cdf, 0.5 - 1e-12))
    return float((low * int(n) + median_index) * bin_bits)


def nonuniform_threshold(cell_volumes, log2_pk: float, bin_bits: float = 1 / 64, max_n: int = 1 << 20) -> int:
    """Smallest n with median(log2 prod of n cell volumes) < -log2_pk (non-uniform-cell refinement).

    The median is non-increasing in n (each extra factor is <= 1), so n* is found by bracketing and bisection.
    With all volumes 1/|V| this is floor(log2_pk/log2|V|) + 1, T1's threshold.

    >>> nonuniform_threshold([1 / 16] * 16, log2_pk=10.0)
    3
    """
    if not (log2_pk >= 0 and math.isfinite(log2_pk)):
        raise ValueError("log2_pk must be a finite number >= 0")
    volumes = _check_volumes(cell_volumes)
    if np.all(volumes == 1.0):
        raise ValueError("all cell volumes are 1: the median never falls below 1/Pk")

    def below(k: int) -> bool:
        return median_log2_volume_product(volumes, k, bin_bits) < -log2_pk

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
