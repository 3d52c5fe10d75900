"""Vectorized fast path (numpy, float64, log space) for large parameter grids.

Same names and meanings as `bounds.evaluate`, but arguments broadcast as numpy arrays and results are
float64 arrays. Formulations avoid overflow: log1p for log2(1 + 2r/eps), a softplus for
log2(1 + (2r/eps)^q), and a log-space continued fraction for the incomplete beta of the cone. They agree
with the 50-digit mpmath evaluators to 1e-12 relative for d <= 1e5, m <= 1e6, eps >= 2^-64, q <= 8,
|V| <= 1e7 (tests/test_bounds_properties.py), and never return inf or nan there. Arguments are checked
by the same rules as the mpmath side (bounds/validate.py): a NaN, an inf, a non-integral d, m or |V|, an
angle outside (0, pi] or a result that overflows float64 raises ValueError.

>>> float(log2_prompts_ball(2, 3, 0.5, 1.0))
6.0
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from . import validate

LN2 = np.log(2.0)
LOG2_E = 1.0 / LN2


def _eps(eps) -> np.ndarray:
    return validate.array_eps(eps)


def _d(d) -> np.ndarray:
    return validate.array_integer_at_least("d", d, 1)


def _m(m) -> np.ndarray:
    return validate.array_integer_at_least("m", m, 1)


def _size(name: str, value) -> np.ndarray:
    return validate.array_integer_at_least(name, value, 2)


def _ln_one_plus_ratio(radius, eps) -> np.ndarray:
    """ln(1 + 2r/eps), accurate when 2r/eps is tiny or huge."""
    return np.log1p(2.0 * validate.array_positive("radius", radius) / _eps(eps))


def log2_prompts_ball(d, m, radius, eps) -> np.ndarray:
    """T1 ball form d*m*log2(1 + 2r/eps), vectorized.

    >>> log2_prompts_ball(np.array([1, 2]), 1, 0.5, 1.0).tolist()
    [1.0, 2.0]
    """
    return validate.finite_result("log2_prompts_ball", _d(d) * _m(m) * _ln_one_plus_ratio(radius, eps) / LN2)


def log2_prompts_bits(d, m, bits) -> np.ndarray:
    """T1 p-bit form p*d*m, vectorized.

    >>> float(log2_prompts_bits(768, 1, 16))
    12288.0
    """
    return validate.finite_result("log2_prompts_bits", validate.array_positive("bits", bits) * _d(d) * _m(m))


def log2_prompts_grid(d, m, levels) -> np.ndarray:
    """T1 exact grid form d*m*log2 Q, vectorized.

    >>> float(log2_prompts_grid(4, 2, 256))
    64.0
    """
    return validate.finite_result("log2_prompts_grid", _d(d) * _m(m) * np.log2(_size("levels", levels)))


def tokens_per_vector(d, vocab, radius=None, eps=None, bits=None) -> np.ndarray:
    """Consequence A's C: d*ln(1 + 2r/eps)/ln|V| (or p*d/log2|V| with bits=p), vectorized.

    >>> round(float(tokens_per_vector(768, 50304, bits=16)), 2)
    786.77
    """
    ln_vocab = np.log(_size("vocab", vocab))
    if bits is not None:
        if radius is not None or eps is not None:
            raise ValueError("give either bits, or radius and eps, not both")
        return validate.finite_result("tokens_per_vector",
                                      validate.array_positive("bits", bits) * _d(d) * LN2 / ln_vocab)
    if radius is None or eps is None:
        raise ValueError("tokens_per_vector needs radius and eps (ball form) or bits (p-bit form)")
    return validate.finite_result("tokens_per_vector", _d(d) * _ln_one_plus_ratio(radius, eps) / ln_vocab)


def log2_accessible_fraction(log2_prompts, n, vocab) -> np.ndarray:
    """Consequence A: min(0, log2 Npr - n*log2|V|), vectorized.

    >>> float(log2_accessible_fraction(100.0, 30, 32))
    -50.0
    """
    value = (validate.array_finite("log2_prompts", log2_prompts)
             - validate.array_integer_at_least("n", n, 1) * np.log2(_size("vocab", vocab)))
    return validate.finite_result("log2_accessible_fraction", np.minimum(0.0, value))


def cross_entropy_floor_bits(log2_prompts, n, alphabet) -> np.ndarray:
    """Soft T1: n*log2|A| - log2 Npr, vectorized.

    >>> float(cross_entropy_floor_bits(10.0, 8, 4))
    6.0
    """
    value = (validate.array_integer_at_least("n", n, 1) * np.log2(_size("alphabet", alphabet))
             - validate.array_finite("log2_prompts", log2_prompts))
    return validate.finite_result("cross_entropy_floor_bits", value)


def _softplus(y: np.ndarray) -> np.ndarray:
    """ln(1 + e^y) without overflow."""
    return np.maximum(y, 0.0) + np.log1p(np.exp(-np.abs(y)))


def log2_log2_meanfield(d, radius, eps, q) -> np.ndarray:
    """T2: d*log2(1 + 2r/eps) + log2(log2(e) + log2(1 + (2r/eps)^q)), vectorized.

    >>> round(float(log2_log2_meanfield(1, 0.5, 1.0, 1)), 4)
    2.2885
    """
    radius = validate.array_positive("radius", radius)
    eps_ = _eps(eps)
    ln_ratio = np.log(2.0 * radius) - np.log(eps_)   # ln(2r/eps), no overflow of the ratio itself
    inner_bits = LOG2_E + _softplus(validate.array_order("q", q) * ln_ratio) / LN2  # log2(e(1 + x^q))
    value = _d(d) * _ln_one_plus_ratio(radius, eps_) / LN2 + np.log2(inner_bits)
    return validate.finite_result("log2_log2_meanfield", value)


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


def log2_cone_fraction(d, theta) -> np.ndarray:
    """Cone refinement: log2((1/2) I_{sin^2(theta/2)}((d-1)/2, 1/2)), vectorized, d >= 2, 0 < theta <= pi.

    >>> round(float(log2_cone_fraction(2, np.pi / 2)), 12)
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


def tokens_per_vector_cone(d, vocab, radius, eps, theta) -> np.ndarray:
    """Cone-refined C: max(d*log2(1 + 2r/eps) + log2 cone fraction, log2(1 + r/eps))/log2|V|, vectorized
    (the floor is `bounds.evaluate.log2_cone_floor`: a narrow cone still holds the cells along its axis).

    >>> round(float(tokens_per_vector_cone(2, 4, 0.5, 1.0, np.pi)), 12)
    0.5
    >>> round(float(tokens_per_vector_cone(768, 50304, 63.62, 2.0 ** -10, 1e-5)), 4)
    1.0239
    """
    floor = np.log1p(validate.array_positive("radius", radius) / _eps(eps)) / LN2
    per_vector = np.maximum(log2_prompts_ball(d, 1, radius, eps) + log2_cone_fraction(d, theta), floor)
    return validate.finite_result("tokens_per_vector_cone", per_vector / np.log2(_size("vocab", vocab)))


def log2_meanfield_vocab(vocab, radius, eps, q, *, last_token=False) -> np.ndarray:
    """T2 with a finite vocabulary: log2 e + (|V|-1)*(log2 e + log2(1 + (2r/eps)^q/4)), vectorized
    (last_token=True adds log2|V|: a causal layer read at the last position, see bounds.evaluate).

    >>> round(float(log2_meanfield_vocab(2, 0.5, 1.0, 1)), 4)
    3.2073
    """
    if not isinstance(last_token, bool):
        raise ValueError(f"last_token must be True or False, got {last_token!r}")
    vocab_ = _size("vocab", vocab)
    ln_ratio = np.log(2.0 * validate.array_positive("radius", radius)) - np.log(_eps(eps))
    ln_quarter_term = validate.array_order("q", q) * ln_ratio - 2 * LN2         # ln((2r/eps)^q / 4)
    per_token = LOG2_E + _softplus(ln_quarter_term) / LN2                      # log2(e(1 + x/4))
    value = LOG2_E + (vocab_ - 1.0) * per_token
    if last_token:
        value = value + np.log2(vocab_)
    return validate.finite_result("log2_meanfield_vocab", value)


def tokens_meanfield_vocab(vocab, radius, eps, q, *, last_token=False) -> np.ndarray:
    """T2 with a finite vocabulary in tokens' worth, log2 Bw_V / log2|V|, vectorized.

    >>> round(float(tokens_meanfield_vocab(50304, 63.62, 2.0 ** -10, 1)))
    52930
    """
    return log2_meanfield_vocab(vocab, radius, eps, q, last_token=last_token) / np.log2(_size("vocab", vocab))


def _quiet(func):
    """numpy's overflow and invalid warnings silenced: a result that overflowed is refused with a
    ValueError by validate.finite_result, so a warning would only repeat it."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return func(*args, **kwargs)
    return wrapper


for _name, _func in list(globals().items()):
    if not _name.startswith("_") and callable(_func) and getattr(_func, "__module__", None) == __name__:
        globals()[_name] = _quiet(_func)
del _name, _func


# Prefix tuning: its fast path lives beside its evaluators, in bounds/prefix.py.
from . import prefix as _prefix  # noqa: E402

for _name in _prefix.__all__:
    if hasattr(_prefix, f"fast_{_name}"):   # an evaluator with a vectorized form beside it
        globals()[_name] = _quiet(getattr(_prefix, f"fast_{_name}"))
del _name
