"""High-precision evaluation (mpmath, 50 significant digits by default) of every bound, in log space.

Every function computes in the private mpmath context of `bounds` (`bounds.precision.MP`) and returns one of
its mpf, right to the digits asked for: the context's precision, 50 (DEFAULT_DPS) unless an enclosing
`with_precision(dps)` block or the call's own `dps=` keyword sets it. That is the one source: the precision
of mpmath's global context (mpmath.mp) is neither read nor changed. Arguments may be Python numbers, mpf
of any mpmath context (taken exactly), or (for eps) strings such as '2^-10', '1e-3' or a dtype name ('fp16').
The mpf returned carries every digit it was computed with, and arithmetic on it runs at the bounds
context's precision whatever mpmath's global one is: `bound - measured`, `float(bound)`.

>>> round(float(log2_prompts_ball(768, 1, 63.62, "fp16")), 2)   # pythia-160m, one prompt vector, fp16
13049.41
"""
from __future__ import annotations

import contextlib
import contextvars
import functools

from . import precision, validate
from .precision import MP

# What `bounds` exports from here (`from .evaluate import *`): a new evaluator is named here, next to its code.
__all__ = [
    "DEFAULT_DPS", "current_dps", "with_precision",
    "log2_prompts_ball", "log2_prompts_bits", "log2_prompts_grid", "log2_prompts_float",
    "tokens_per_vector", "log2_accessible_fraction", "n_max_dataset", "cross_entropy_floor_bits",
    "log2_meanfield", "log2_log2_meanfield", "log2_meanfield_vocab", "tokens_meanfield_vocab", "log2_vocab_net_size",
    "log2_cone_fraction", "tokens_per_vector_cone", "log2_prompts_cone", "log2_prompts_box",
]

DEFAULT_DPS = precision.DEFAULT_DPS
# While an evaluator runs, MP works GUARD_DIGITS beyond the digits asked for; those digits are kept here so
# that an evaluator called by another asks for them again, not for the guard digits as well. None outside.
_ASKED_DPS: contextvars.ContextVar[int | None] = contextvars.ContextVar("bounds_asked_dps", default=None)


def with_precision(dps: int):
    """Set the bounds context's precision to `dps` significant digits for the block: every bound evaluated
    inside, and arithmetic on the mpf they return, uses it. mpmath's global precision is not touched.

    >>> with with_precision(80):
    ...     x = log2_prompts_bits(10, 2, 16)
    ...     current_dps()
    80
    >>> int(x), current_dps()
    (320, 50)
    """
    return _precision_block(validate.dps(dps))


@contextlib.contextmanager
def _precision_block(dps: int):
    """with_precision without its range check: for callers that add digits to a checked --dps."""
    token = _ASKED_DPS.set(None)
    try:
        with MP.workdps(dps):
            yield
    finally:
        _ASKED_DPS.reset(token)


def current_dps() -> int:
    """The digits asked for: the bounds context's precision, as set by with_precision or an evaluator's dps=
    (DEFAULT_DPS otherwise); inside an evaluator, the digits its caller asked for, not its guard digits.

    >>> current_dps()
    50
    >>> with with_precision(70):
    ...     current_dps()
    70
    >>> from mpmath import workdps
    >>> with workdps(70):   # mpmath's global precision is not a source
    ...     current_dps()
    50
    """
    asked = _ASKED_DPS.get()
    return asked if asked is not None else MP.dps


GUARD_DIGITS = 10   # evaluated with this many digits beyond the requested ones


@contextlib.contextmanager
def _guarded():
    """MP at the digits asked for plus GUARD_DIGITS, for one evaluation (an inner evaluator asks for as many)."""
    asked = current_dps()
    token = _ASKED_DPS.set(asked)
    try:
        with MP.workdps(asked + GUARD_DIGITS):
            yield
    finally:
        _ASKED_DPS.reset(token)


def _at_precision(func):
    @functools.wraps(func)
    def wrapper(*args, dps=None, **kwargs):
        if dps is not None:                      # a with_precision for this one call
            with with_precision(dps):
                return wrapper(*args, **kwargs)
        with _guarded():
            return func(*args, **kwargs)
    return wrapper


def _lost_digits(total, *terms) -> int:
    """Decimal digits lost when `terms` (of either sign) add up to `total`: log10(max|term|/|total|)."""
    largest = max(abs(t) for t in terms)
    if largest == 0:
        return 0
    if total == 0:
        return MP.dps                     # all cancelled at this precision: ask for as many digits again
    return max(0, int(MP.ceil(MP.log10(largest / abs(total)))))


def _cancelling_sum(terms_at, limit: int = 20000):
    """sum(terms_at()) to the working precision where the terms cancel: evaluated again with the lost
    digits added (Ziv's strategy) until fewer than GUARD_DIGITS/2 are lost. A sum that is exactly 0 at
    the working precision and again at twice as many digits is taken as an exact cancellation (log2 8 = 3)."""
    base = MP.dps
    extra = 0
    while True:
        with MP.workdps(base + extra):
            terms = terms_at()
            total = MP.fsum(terms)
            if total == 0:
                if extra >= base:
                    return MP.mpf(0)
                extra = base + GUARD_DIGITS
                continue
            lost = _lost_digits(total, *terms)
        if lost <= extra + GUARD_DIGITS // 2 or base + extra >= limit:
            return +total
        extra = min(lost + GUARD_DIGITS, limit - base)


# ----------------------------------------------------------------------------------------- validation
# One rule per quantity, shared with the fast path and the command lines: bounds/validate.py.
_positive_integer = validate.positive_integer
_positive = validate.positive
_size_at_least_2 = validate.size
_eps = validate.eps


def _log2_one_plus_ratio(radius, eps) -> MP.mpf:
    """log2(1 + 2r/eps): the bits one coordinate can carry at precision eps."""
    # log1p: with eps >> r the ratio is below the working precision, and log(1 + ratio) would give 0
    return MP.log1p(2 * _positive("radius", radius) / _eps(eps)) / MP.log(2)


# ----------------------------------------------------------------------------------------- T1
@_at_precision
def log2_prompts_ball(d, m, radius, eps) -> MP.mpf:
    """T1 ball form: log2 Npr(m) <= d*m*log2(1 + 2r/eps) bits ([MLPT] claim 1; [HMDO] Thm 4.5).

    >>> log2_prompts_ball(2, 3, 0.5, 1) == 6
    True
    """
    return _positive_integer("d", d) * _positive_integer("m", m) * _log2_one_plus_ratio(radius, eps)


@_at_precision
def log2_prompts_bits(d, m, bits) -> MP.mpf:
    """T1 p-bit form: log2 Npr(m) <= p*d*m bits.

    >>> log2_prompts_bits(768, 2, 16) == 24576
    True
    """
    return _positive("bits", bits) * _positive_integer("d", d) * _positive_integer("m", m)


@_at_precision
def log2_prompts_grid(d, m, levels) -> MP.mpf:
    """T1 exact grid form: Npr(m) = Q^(d*m), log2 Npr(m) = d*m*log2 Q (prompt quantized to Q levels).

    >>> log2_prompts_grid(4, 2, 256) == 64
    True
    """
    q_levels = _size_at_least_2("levels", levels)
    return _positive_integer("d", d) * _positive_integer("m", m) * MP.log(q_levels, 2)


@_at_precision
def log2_prompts_float(d, m, radius, dtype) -> MP.mpf:
    """T1 float form: d*m*log2(number of values of `dtype` in [-r, r]) (exact count, bounds.precision).

    >>> round(float(log2_prompts_float(1, 1, 1, "fp16")), 4)   # log2(30721)
    14.9069
    """
    count = precision.count_representable(dtype, _positive("radius", radius))
    return _positive_integer("d", d) * _positive_integer("m", m) * MP.log(count, 2)


# ----------------------------------------------------------------------------------------- consequences
@_at_precision
def tokens_per_vector(d, vocab, radius=None, eps=None, bits=None) -> MP.mpf:
    """Consequence A: C, tokens of V one prompt vector can pin down.

    Ball form (radius and eps): C = d*ln(1 + 2r/eps)/ln|V|. Bit form (bits=p): C = p*d/log2|V|.

    >>> round(float(tokens_per_vector(768, 50304, bits=16)), 2)   # Kuratov et al.'s maximum capacity
    786.77
    """
    d_ = _positive_integer("d", d)
    log2_vocab = MP.log(_size_at_least_2("vocab", vocab), 2)
    if bits is not None:
        if radius is not None or eps is not None:
            raise ValueError("give either bits, or radius and eps, not both")
        return _positive("bits", bits) * d_ / log2_vocab
    if radius is None or eps is None:
        raise ValueError("tokens_per_vector needs radius and eps (ball form) or bits (p-bit form)")
    return d_ * _log2_one_plus_ratio(radius, eps) / log2_vocab


@_at_precision
def log2_accessible_fraction(log2_prompts, n, vocab) -> MP.mpf:
    """Consequence A: log2 of the accessible fraction of V^n is at most min(0, log2 Npr - n*log2|V|).

    >>> log2_accessible_fraction(100, 20, 32) == -0.0 and log2_accessible_fraction(100, 30, 32) == -50
    True
    """
    prompts, n_, vocab_ = (validate.finite("log2_prompts", log2_prompts), _positive_integer("n", n),
                           _size_at_least_2("vocab", vocab))
    value = _cancelling_sum(lambda: [prompts, -n_ * MP.log(vocab_, 2)])
    return min(MP.mpf(0), value)


def n_max_dataset(log2_prompts, k, alphabet) -> int:
    """Consequence B: N_max = floor(log2 Npr/(k*log2|A|)) inputs whose every k-token labelling fits.

    >>> n_max_dataset(100, 2, 4)
    25
    """
    with MP.workdps(current_dps()):
        ratio = validate.finite("log2_prompts", log2_prompts) / (_positive_integer("k", k) * MP.log(_size_at_least_2("alphabet", alphabet), 2))
        # exact powers of two land on integers; guard against a last-digit rounding below them
        nearest = MP.nint(ratio)
        if abs(ratio - nearest) < MP.mpf(10) ** (-(MP.dps * 4 // 5)) * max(1, abs(nearest)):
            ratio = nearest
        return max(0, int(MP.floor(ratio)))


@_at_precision
def cross_entropy_floor_bits(log2_prompts, n, alphabet) -> MP.mpf:
    """Soft T1: mean residual cross-entropy (bits over n tokens) >= n*log2|A| - log2 Npr (may be < 0).

    >>> cross_entropy_floor_bits(10, 8, 4) == 6
    True
    """
    n_, alphabet_, prompts = (_positive_integer("n", n), _size_at_least_2("alphabet", alphabet),
                              validate.finite("log2_prompts", log2_prompts))
    return _cancelling_sum(lambda: [n_ * MP.log(alphabet_, 2), -prompts])


# ----------------------------------------------------------------------------------------- T2
def _check_q(q) -> MP.mpf:
    return validate.order("q", q)


@_at_precision
def log2_meanfield(d, radius, eps, q) -> MP.mpf:
    """T2: log2 Bw = (1 + 2r/eps)^d * log2(e + e*(2r/eps)^q) bits, for any context length.

    >>> round(float(log2_meanfield(1, 0.5, 1, 1)), 4)   # 2 * log2(2e)
    4.8854
    """
    ratio = 2 * _positive("radius", radius) / _eps(eps)
    n_eps = (1 + ratio) ** _positive_integer("d", d)
    return n_eps * MP.log(MP.e * (1 + ratio ** _check_q(q)), 2)


@_at_precision
def log2_log2_meanfield(d, radius, eps, q) -> MP.mpf:
    """T2: log2 log2 Bw = d*log2(1 + 2r/eps) + log2 log2(e + e*(2r/eps)^q).

    >>> round(float(log2_log2_meanfield(1, 0.5, 1, 1)), 4)   # 1 + log2(log2(2e))
    2.2885
    """
    ratio = 2 * _positive("radius", radius) / _eps(eps)
    inner = MP.log(MP.e * (1 + ratio ** _check_q(q)), 2)
    return _positive_integer("d", d) * MP.log1p(ratio) / MP.log(2) + MP.log(inner, 2)


def _check_last_token(last_token) -> bool:
    if not isinstance(last_token, bool):
        raise ValueError(f"last_token must be True or False, got {last_token!r}")
    return last_token


@_at_precision
def log2_meanfield_vocab(vocab, radius, eps, q, *, last_token=False) -> MP.mpf:
    """T2, finite vocabulary (derived here): log2 Bw_V = log2 e + (|V|-1)*log2(e + (e/4)(2r/eps)^q) bits.

    last_token=True: a single causal layer read at the last position, whose output is F(x_n, mu_X): the
    count carries the factor |V| (log2|V| bits more).

    >>> round(float(log2_meanfield_vocab(2, 0.5, 1, 1)), 4)   # log2 e + log2(5e/4)
    3.2073
    >>> round(float(log2_meanfield_vocab(2, 0.5, 1, 1, last_token=True)), 4)   # one bit more: |V| = 2
    4.2073
    """
    vocab_ = _size_at_least_2("vocab", vocab)
    ratio = 2 * _positive("radius", radius) / _eps(eps)
    log2_e = MP.log(MP.e, 2)
    value = log2_e + (vocab_ - 1) * (log2_e + MP.log(1 + ratio ** _check_q(q) / 4, 2))
    return value + MP.log(vocab_, 2) if _check_last_token(last_token) else value


@_at_precision
def tokens_meanfield_vocab(vocab, radius, eps, q, *, last_token=False) -> MP.mpf:
    """T2, finite vocabulary, in tokens' worth: log2 Bw_V / log2|V| (last_token: see log2_meanfield_vocab).

    >>> round(float(tokens_meanfield_vocab(50304, 63.62, "fp16", 1)))   # pythia-160m, fp16, q = 1
    52930
    """
    return (log2_meanfield_vocab(vocab, radius, eps, q, last_token=last_token)
            / MP.log(_size_at_least_2("vocab", vocab), 2))


def net_grid_steps(vocab, radius, eps, q) -> MP.mpf:
    """K = ceil(floor(|V|/2)*ceil(|V|/2)/|V| * (2r/eps)^q), exact (the working precision follows K's size):
    the grid steps of the weight net behind log2_meanfield_vocab.

    >>> net_grid_steps(3, 0.5, 1, 1)   # ceil(2/3)
    mpf('1.0')
    """
    with _guarded():
        vocab_ = _size_at_least_2("vocab", vocab)
        radius_, eps_, q_ = _positive("radius", radius), _eps(eps), _check_q(q)
        constant = MP.floor(vocab_ / 2) * MP.ceil(vocab_ / 2) / vocab_
        with MP.workdps(30):
            digits = int(MP.log10(constant) + q_ * MP.log10(2 * radius_ / eps_)) + 1
        with MP.workdps(max(MP.dps, digits + 2 * GUARD_DIGITS)):
            return MP.ceil(constant * (2 * radius_ / eps_) ** q_)


@_at_precision
def log2_vocab_net_size(vocab, radius, eps, q) -> MP.mpf:
    """The exact count behind log2_meanfield_vocab: log2 C(K + |V| - 1, |V| - 1), K = net_grid_steps,
    the number of multisets of length K, which form a W_q-net of radius eps of every context's measure.
    The working precision grows with K (the log-gammas cancel to about log10 K digits).

    >>> float(log2_vocab_net_size(2, 0.5, 1, 1)) == 1.0   # K = 1: the two contexts of length 1
    True
    """
    vocab_ = _size_at_least_2("vocab", vocab)
    k = net_grid_steps(vocab, radius, eps, q)
    with MP.workdps(30):
        lost = int(MP.log10(k + vocab_)) + 1
    with MP.workdps(MP.dps + lost + GUARD_DIGITS):
        log_binomial = MP.loggamma(k + vocab_) - MP.loggamma(k + 1) - MP.loggamma(vocab_)
        return log_binomial / MP.log(2)



# ----------------------------------------------------------------------------------------- refinements
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
