"""Confidence bounds and the family-wise error budget shared by every statistical check.

A statistical check compares a confidence bound (not a point estimate) with a theorem's bound or a
requirement, so a correct implementation can still fail it by chance. ``verify.all`` gives all the
statistical checks of a run one family-wise error budget, :data:`FAMILY_WISE_ERROR`, split evenly
(Bonferroni): with K statistical checks each uses the confidence level ``1 - FAMILY_WISE_ERROR / K``, so
the probability that any of them fails by chance is at most :data:`FAMILY_WISE_ERROR`, whatever their
dependence.

Example:
    >>> per_check_confidence(checks=10)
    0.9999
    >>> lo = clopper_pearson_lower(8, 64, confidence=0.9999)
    >>> 0.02 < lo < 0.125
    True
"""
from __future__ import annotations

import math

import numpy as np

FAMILY_WISE_ERROR = 1e-3   # a correct implementation fails a profile with probability at most this
METHOD = "bonferroni"


def per_check_confidence(*, checks: int, family_wise_error: float = FAMILY_WISE_ERROR) -> float:
    """Bonferroni: the confidence level of each of ``checks`` statistical checks (1 - error if none).

    Example:
        >>> per_check_confidence(checks=0)
        0.999
        >>> per_check_confidence(checks=4, family_wise_error=0.01)
        0.9975
    """
    if checks < 0 or not 0 < family_wise_error < 1:
        raise ValueError(f"need checks >= 0 and 0 < family_wise_error < 1 (got {checks}, {family_wise_error})")
    return 1 - family_wise_error / max(checks, 1)


def _binomial_args(successes: int, trials: int, confidence: float) -> None:
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, trials > 0 (got {successes}/{trials})")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1) (got {confidence})")


def clopper_pearson_lower(successes: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided lower confidence bound on a binomial proportion (exact, Clopper-Pearson).

    Example:
        >>> round(clopper_pearson_lower(10, 10), 4)
        0.7411
        >>> clopper_pearson_lower(0, 10)
        0.0
    """
    from scipy.stats import beta

    _binomial_args(successes, trials, confidence)
    if successes == 0:
        return 0.0
    return float(beta.ppf(1 - confidence, successes, trials - successes + 1))


def clopper_pearson_upper(successes: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound on a binomial proportion.

    Example:
        >>> clopper_pearson_upper(10, 10)
        1.0
        >>> round(clopper_pearson_upper(0, 10), 4)
        0.2589
    """
    from scipy.stats import beta

    _binomial_args(successes, trials, confidence)
    if successes == trials:
        return 1.0
    return float(beta.ppf(confidence, successes + 1, trials - successes))


def mean_upper_bound(values, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound on a mean (Student t; the sample mean itself for one value).

    Example:
        >>> round(mean_upper_bound([1.0, 2.0, 3.0]), 3)
        3.686
    """
    from scipy.stats import t as student_t

    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float(v.mean()) if v.size else float("nan")
    return float(v.mean() + student_t.ppf(confidence, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))


def hoeffding_bound(mean: float, count: int, *, width: float, confidence: float = 0.95, side: str = "upper") -> float:
    """One-sided Hoeffding confidence bound on the mean of ``count`` independent values in an interval of
    length ``width``: ``mean +- width * sqrt(ln(1/(1-confidence)) / (2*count))`` (any distribution).

    Example:
        >>> round(hoeffding_bound(0.5, 200, width=1.0, confidence=0.95), 4)
        0.5865
        >>> round(hoeffding_bound(0.5, 200, width=1.0, confidence=0.95, side="lower"), 4)
        0.4135
    """
    if side not in ("upper", "lower"):
        raise ValueError(f"side must be 'upper' or 'lower', got {side!r}")
    if count < 1 or not 0 < confidence < 1:
        raise ValueError(f"need count >= 1 and 0 < confidence < 1, got {count}, {confidence}")
    deviation = width * math.sqrt(math.log(1 / (1 - confidence)) / (2 * count))
    return mean + deviation if side == "upper" else mean - deviation


def bootstrap_bound(values, statistic=np.mean, *, confidence: float = 0.95, side: str = "lower",
                    resamples: int = 4000, seed: int = 0) -> float:
    """One-sided percentile-bootstrap confidence bound on ``statistic(values)`` (seeded, so reproducible).

    ``side="lower"``: a value the statistic exceeds with probability about ``confidence``; ``"upper"``: the
    reverse. For statistics with no exact interval (a median, a ratio, a fitted slope over samples).

    Example:
        >>> x = np.random.default_rng(0).normal(10.0, 1.0, 400)
        >>> 9.8 < bootstrap_bound(x, confidence=0.99) < 10.0 < bootstrap_bound(x, side="upper") < 10.2
        True
    """
    if side not in ("lower", "upper"):
        raise ValueError("side must be 'lower' or 'upper'")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1) (got {confidence})")
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("bootstrap of an empty sample")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(v[rng.integers(0, v.size, v.size)]) for _ in range(resamples)])
    q = 1 - confidence if side == "lower" else confidence
    return float(np.quantile(stats, q))
