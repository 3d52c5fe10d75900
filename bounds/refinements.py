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

This module holds the cone's and the box's bounds as formulas, written once for mpmath and numpy alike
(bounds/formula.py; the incomplete beta is the namespaces' `log_betainc`), from which `bound` makes the mpmath
evaluator (named in `__all__`, exported by `bounds`; `log2_cone_floor`, the cone's floor, beside them) and the
numpy fast form `fast_NAME` (exported by `bounds.fast` as NAME); the non-uniform cells' numpy evaluators; and
the sympy `Result`s, which load on first use of `RESULTS`, `CONE`, `BOX`, `NONUNIFORM`, the expressions
(`CONE_FRACTION`, ..., `NONUNIFORM_CONDITION`) or `latex`, so that importing `bounds` imports neither sympy
nor scipy.

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
from .formula import bound, lazy_results
from .precision import MP
from .t1 import log2_prompts_ball

# What `bounds` exports from here (and `bounds.fast` too, from the `fast_` functions of the same names).
__all__ = ["log2_cone_fraction", "tokens_per_vector_cone", "log2_prompts_cone", "log2_prompts_box",
           "median_log2_volume_product", "nonuniform_threshold"]


# ----------------------------------------------------------------------------------------- the cone's formulas
# Each bound once, for mpmath and numpy alike (bounds/formula.py): `bound` makes the evaluator NAME and its
# vectorized form fast_NAME (exported by `bounds.fast` as NAME) from it.
def _cone_dimension(name, value) -> MP.mpf:
    d = validate.positive_integer(name, value)
    if d < 2:
        raise ValueError("the cone refinement needs d >= 2")
    return d


# the cone's d, a kind of its own: the scalar check, and the array check of the fast forms
_CONE_DIMENSION = (_cone_dimension, lambda name, value: validate.array_integer_at_least(name, value, 2))


@bound(arguments=(("d", _CONE_DIMENSION), ("theta", "angle")))
def log2_cone_fraction(math, d, theta):
    """Cone refinement: log2 of (1/2) I_{sin^2(theta/2)}((d-1)/2, 1/2), the ball fraction in the cone.

    >>> float(log2_cone_fraction(2, MP.pi / 2))   # a quarter of the disc
    -2.0
    >>> round(float(fast_log2_cone_fraction(2, np.pi / 2)), 12)
    -2.0
    """
    # 1 - x as cos^2(theta/2): accurate near theta = pi. Tests check the continued fraction of
    # math.log_betainc against mpmath.betainc and the d = 2, 3 closed forms.
    x, x_complement = math.sin(theta / 2) ** 2, math.cos(theta / 2) ** 2
    return (math.log_betainc((d - 1) / 2, 0.5, x, x_complement) - math.ln2) / math.ln2


@bound(arguments=(("radius", "positive"), ("eps", "eps")), fast=False)
def log2_cone_floor(math, radius, eps):
    """log2(1 + r/eps): the cone refinement never counts fewer prompts per vector than this.

    A cone of any opening angle holds its axis, a segment of length r inside B(0, r); points on it at
    spacing just above eps are a valid packing of ceil(r/eps) <= 1 + r/eps points (at least one cell).
    The sector-volume estimate drops below that when theta is narrower than about eps/r, so the refined
    count is the larger of the two: still at most the ball form, never below a packing count, never < 0.

    >>> float(log2_cone_floor(1, 1))
    1.0
    """
    return math.log1p(radius / eps) / math.ln2


def _log2_cone_per_vector(math, d, radius, eps, theta):
    # the two terms cancel for a narrow cone: on the mpmath side the precision grows with the digits lost
    estimate = math.cancelling_sum(lambda: [log2_prompts_ball.formula(math, d, 1, radius, eps),
                                            log2_cone_fraction.formula(math, d, theta)])
    return math.maximum(estimate, log2_cone_floor.formula(math, radius, eps))


@bound(arguments=(("d", _CONE_DIMENSION), ("vocab", "integer>=2"), ("radius", "positive"), ("eps", "eps"),
                  ("theta", "angle")))
def tokens_per_vector_cone(math, d, vocab, radius, eps, theta):
    """Cone-refined C: max(d*log2(1 + 2r/eps) + log2 cone fraction, log2(1 + r/eps))/log2|V| (the floor is
    `log2_cone_floor`: a narrow cone still holds the cells along its axis).

    >>> float(tokens_per_vector_cone(2, 4, 0.5, 1, MP.pi))   # (2 - 1)/2
    0.5
    >>> round(float(tokens_per_vector_cone(768, 50304, 63.62, "fp16", 1e-5)), 4)   # the floor: narrow cone
    1.0239
    >>> round(float(fast_tokens_per_vector_cone(2, 4, 0.5, 1.0, np.pi)), 12)
    0.5
    >>> round(float(fast_tokens_per_vector_cone(768, 50304, 63.62, 2.0 ** -10, 1e-5)), 4)
    1.0239
    """
    return _log2_cone_per_vector(math, d, radius, eps, theta) / math.log2(vocab)


@bound(arguments=(("d", _CONE_DIMENSION), ("m", "integer>=1"), ("radius", "positive"), ("eps", "eps"),
                  ("theta", "angle")))
def log2_prompts_cone(math, d, m, radius, eps, theta):
    """Cone-refined T1: m*max(d*log2(1 + 2r/eps) + log2 cone fraction, log2(1 + r/eps)) (`log2_cone_floor`).

    >>> float(log2_prompts_cone(2, 3, 0.5, 1, MP.pi))
    3.0
    >>> float(fast_log2_prompts_cone(2, 3, 0.5, 1.0, np.pi))
    3.0
    """
    return m * _log2_cone_per_vector(math, d, radius, eps, theta)


# ----------------------------------------------------------------------------------------- the box's formula
def _sides(check):
    """The sides' rule: a non-empty list of sides, each checked by `check` (a scalar or an array check)."""
    def checked(name, sides) -> list:
        if isinstance(sides, (str, bytes)) or not hasattr(sides, "__iter__"):
            raise ValueError(f"sides must be a non-empty list of positive numbers, got {sides!r}")
        sides = list(sides)
        if not sides:
            raise ValueError("sides must be non-empty")
        return [check("side", side) for side in sides]
    return checked


_SIDES = (_sides(validate.positive), _sides(validate.array_positive))


@bound(arguments=(("sides", _SIDES), ("m", "integer>=1"), ("eps", "eps")))
def log2_prompts_box(math, sides, m, eps):
    """Box refinement: m * sum_i log2(1 + l_i/eps), coordinate i ranging over an interval of length l_i.

    On the fast path each side is a number or an array (broadcast with m and eps).

    >>> log2_prompts_box([1, 3], 1, 1) == 3
    True
    >>> fast_log2_prompts_box([1.0, np.array([3.0, 7.0])], 1, 1.0).tolist()
    [3.0, 4.0]
    """
    return m * math.fsum([math.log1p(side / eps) / math.ln2 for side in sides])


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
