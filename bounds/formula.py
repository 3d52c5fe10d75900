"""One formula per bound, for mpmath and numpy alike: `@bound` makes both forms of a bound from it.

A bound's formula is written once, as a function of a numeric namespace `math` and of its arguments, as
mpmath's @defun serves several contexts:

    @bound(arguments=(("d", "integer>=1"), ("m", "integer>=1"), ("radius", "positive"), ("eps", "eps")))
    def log2_prompts_ball(math, d, m, radius, eps):
        return d * m * math.log1p(2 * radius / eps) / math.ln2

From it `bound` makes

- the public evaluator, named as the formula, with its signature (less `math`) and its docstring:
  each argument checked as a scalar by its kind (bounds/validate.py), the formula run with `math = MPMATH`
  (mpmath over `bounds.precision.MP`) inside `@_at_precision` (the digits asked for plus the guard digits,
  the call's `dps=`), an mpf of MP returned;
- its vectorized form `fast_NAME`, put in the formula's module beside it (`bounds.fast` exports it as NAME):
  each argument checked as an array by the same kind, the formula run with `math = NUMPY` (float64), the
  result refused by `validate.finite_result` if it overflowed (`bounds.fast` quiets numpy's warnings).

The namespaces hold what the formulas need, one name for both: `log`, `log1p`, `log2`, `ln2`, `exp`, `sin`,
`cos`, `minimum`, `maximum`, `softplus(y) = ln(1 + e^y)` (overflow-safe in float64), `cancelling_sum(terms_at)`:
a sum of terms that may cancel, which on the mpmath side is evaluated again with more digits until few are
lost (`bounds.evaluate._cancelling_sum`, Ziv's strategy) and in float64 is the plain sum, `fsum(terms)`: a
sum of a list of terms (mpmath's fsum, rounded once; the plain sum in float64), and
`log_betainc(a, b, x, 1 - x)`: ln of the regularized incomplete beta I_x(a, b), by a scalar continued fraction
at the working precision on the mpmath side and a vectorized Lentz one (with a Stirling ln B(a, b), scipy's
gammaln imported on first use) in float64. Where a bound needs another algorithm per backend it is a primitive
of the namespaces; a bound with no numpy form (an exact count) is declared with `fast=False`, or kept as a
plain evaluator (docs/design.md). An integer bound (`integer='floor'` or `'ceil'`, `at_least=`) is its
formula's value rounded so: at the digits asked for with a tie guard on the mpmath side, in float64 on the
fast path.

An argument's kind is a name of `KINDS` or, for a rule of one bound, a pair (scalar check, array check).

>>> @bound(arguments=(("n", "integer>=1"), ("radius", "positive")))
... def _demo(math, n, radius):
...     '''n*log2(1 + r).'''
...     return n * math.log2(1 + radius)
>>> float(_demo(3, 1)), fast__demo([1, 2], 1).tolist()
(3.0, [1.0, 2.0])
>>> _demo(0, 1)
Traceback (most recent call last):
...
ValueError: n must be a positive integer, got 0
>>> @bound(arguments=(("bits", "positive"),), integer="ceil", at_least=1)
... def _demo_tokens(math, bits):
...     '''ceil(bits/16), at least 1.'''
...     return bits / 16
>>> _demo_tokens(96), _demo_tokens(97), fast__demo_tokens([96, 97, 1e-3]).tolist()
(6, 7, [6.0, 7.0, 1.0])
"""
from __future__ import annotations

import inspect

import numpy as np

from . import validate
from .evaluate import _at_precision, _cancelling_sum, current_dps
from .precision import MP

# ----------------------------------------------------------------------------------------- argument kinds
def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


# kind: (scalar check -> mpf of MP, array check -> float64 array); a kind ending in "?" also takes None.
KINDS = {
    "integer>=1": (validate.positive_integer, lambda name, value: validate.array_integer_at_least(name, value, 1)),
    "integer>=2": (validate.size, lambda name, value: validate.array_integer_at_least(name, value, 2)),
    "positive": (validate.positive, validate.array_positive),
    "eps": (lambda name, value: validate.eps(value), lambda name, value: validate.array_eps(value)),
    "finite": (validate.finite, validate.array_finite),
    "order": (validate.order, validate.array_order),
    "angle": (validate.angle, validate.array_angle),
    "bool": (_flag, _flag),
    "any": (lambda name, value: value, lambda name, value: value),   # checked by the formula itself
}


def _kind(kind) -> tuple:
    if isinstance(kind, tuple):      # a bound's own (scalar check, array check)
        return kind
    checks = KINDS.get(kind.rstrip("?"))
    if checks is None:
        raise ValueError(f"unknown argument kind {kind!r}; known: {', '.join(KINDS)} (optional: a trailing ?)")
    return checks


# ----------------------------------------------------------------------------------------- the incomplete beta
# ln I_x(a, b), the regularized incomplete beta, by its continued fraction: one algorithm per backend, a
# scalar one carried to the working precision and a vectorized one in float64. mpmath.betainc (a 2F1 series)
# fails to converge for a ~ 5e4 and x ~ 0.9, so the continued fraction is used throughout. The caller gives
# 1 - x as well, computed without cancellation (cos^2(theta/2) for x = sin^2(theta/2) near theta = pi).
def _mp_log_betainc(a, b, x, x_complement) -> MP.mpf:
    """ln I_x(a, b) at the working precision."""
    if x < (a + 1) / (a + b + 2):
        return _mp_betacf(a, b, x)
    return MP.log1p(-MP.exp(_mp_betacf(b, a, x_complement)))   # I_x(a, b) = 1 - I_{1-x}(b, a)


def _mp_betacf(a, b, x) -> MP.mpf:
    """ln I_x(a, b) by the continued fraction (modified Lentz) at the working precision, for
    x < (a+1)/(a+b+2)."""
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


def _gammaln(x):
    """scipy.special.gammaln, imported on first use: importing `bounds` does not load scipy (0.3 s)."""
    from scipy.special import gammaln as scipy_gammaln
    return scipy_gammaln(x)


def _stirling_correction(x):
    """ln Gamma(x) - [(x - 1/2) ln x - x + ln(2 pi)/2], for x >= 100 (next term < 1e-17)."""
    return 1.0 / (12.0 * x) - 1.0 / (360.0 * x ** 3) + 1.0 / (1260.0 * x ** 5)


def _np_betaln(a, b):
    """ln B(a, b) without the cancellation of gammaln(a) - gammaln(a + b) for large a (scipy's betaln
    loses ~1e-11 at a = 4e4, b = 1/2)."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    big, small = np.maximum(a, b), np.minimum(a, b)
    safe_big = np.maximum(big, 100.0)
    # ln Gamma(big) - ln Gamma(big + small) by Stirling, written with log1p so that nothing cancels
    ratio = (-small * np.log(safe_big) - (safe_big + small - 0.5) * np.log1p(small / safe_big) + small
             + _stirling_correction(safe_big) - _stirling_correction(safe_big + small))
    direct = _gammaln(big) - _gammaln(big + small)
    return _gammaln(small) + np.where(big >= 100.0, ratio, direct)


def _np_betacf(a, b, x, ln_x, ln_1mx, max_iter=100000, tol=1e-16):
    """ln I_x(a, b) by the continued fraction (modified Lentz), valid for x < (a+1)/(a+b+2).

    Front factor x^a (1-x)^b / (a B(a,b)) is taken in log space, so tiny values do not underflow.
    """
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    dd = 1.0 - qab * x / qap
    dd = np.where(np.abs(dd) < tiny, tiny, dd)
    dd = 1.0 / dd
    h = dd.copy()
    active = np.ones(x.shape, dtype=bool)

    def lentz(aa, dd, c):
        """One term aa of the fraction: the modified Lentz recurrence's new D and C (kept off zero)."""
        dd = 1.0 + aa * dd
        c = 1.0 + aa / c
        return 1.0 / np.where(np.abs(dd) < tiny, tiny, dd), np.where(np.abs(c) < tiny, tiny, c)

    for step in range(1, max_iter + 1):
        m2 = 2.0 * step
        dd, c = lentz(step * (b - step) * x / ((qam + m2) * (a + m2)), dd, c)            # even term
        h = np.where(active, h * dd * c, h)
        dd, c = lentz(-(a + step) * (qab + step) * x / ((a + m2) * (qap + m2)), dd, c)   # odd term
        delta = dd * c
        h = np.where(active, h * delta, h)
        active &= np.abs(delta - 1.0) > tol
        if not active.any():
            break
    return a * ln_x + b * ln_1mx - _np_betaln(a, b) - np.log(a) + np.log(h)


def _np_log_betainc(a, b, x, x_complement) -> np.ndarray:
    """ln I_x(a, b), elementwise in float64 (a vectorized Lentz continued fraction)."""
    a, b, x, x_complement = np.broadcast_arrays(*(np.asarray(v, float) for v in (a, b, x, x_complement)))
    # ln x and ln(1-x) via log1p where the argument is near 1: log(0.9998...) would lose ~4 digits.
    # The branch not taken may hit log(0) at x = 1; np.where drops it.
    with np.errstate(divide="ignore"):
        ln_x = np.where(x > 0.5, np.log1p(-x_complement), np.log(x))
        ln_1mx = np.where(x < 0.5, np.log1p(-x), np.log(x_complement))
    direct = x < (a + 1.0) / (a + b + 2.0)
    out = np.empty(x.shape)
    if direct.any():
        out[direct] = _np_betacf(a[direct], b[direct], x[direct], ln_x[direct], ln_1mx[direct])
    flip = ~direct
    if flip.any():  # I_x(a, b) = 1 - I_{1-x}(b, a)
        ln_comp = _np_betacf(b[flip], a[flip], x_complement[flip], ln_1mx[flip], ln_x[flip])
        out[flip] = np.log1p(-np.exp(ln_comp))
    return out


# ----------------------------------------------------------------------------------------- namespaces
class _Mpmath:
    """mpmath over `bounds.precision.MP`, at the working precision of the call (each name read when used)."""

    log = staticmethod(lambda x: MP.log(x))
    log1p = staticmethod(lambda x: MP.log1p(x))
    log2 = staticmethod(lambda x: MP.log(x, 2))
    exp = staticmethod(lambda x: MP.exp(x))
    sin = staticmethod(lambda x: MP.sin(x))
    cos = staticmethod(lambda x: MP.cos(x))
    minimum = staticmethod(lambda a, b: min(MP.mpf(a), b))
    maximum = staticmethod(lambda a, b: max(MP.mpf(a), b))
    softplus = staticmethod(lambda y: max(y, 0) + MP.log1p(MP.exp(-abs(y))))   # as NUMPY.softplus
    log_betainc = staticmethod(_mp_log_betainc)
    fsum = staticmethod(lambda terms: MP.fsum(terms))       # rounded once
    # terms that cancel: evaluated again with more digits until fewer than GUARD_DIGITS/2 are lost
    cancelling_sum = staticmethod(_cancelling_sum)

    @property
    def ln2(self):
        return MP.log(2)

    @property
    def e(self):
        return MP.e

    @property
    def log2e(self):
        return MP.log(MP.e, 2)

    def __repr__(self) -> str:
        return "MPMATH"


class _Numpy:
    """numpy, float64, elementwise."""

    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    log2 = staticmethod(np.log2)
    exp = staticmethod(np.exp)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    ln2 = np.log(2.0)
    log2e = 1.0 / np.log(2.0)
    e = np.e
    log_betainc = staticmethod(_np_log_betainc)

    @staticmethod
    def softplus(y):
        """ln(1 + e^y) without overflow."""
        return np.maximum(y, 0.0) + np.log1p(np.exp(-np.abs(y)))

    @staticmethod
    def fsum(terms):
        """The plain float64 sum of a list of arrays, left to right."""
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    @staticmethod
    def cancelling_sum(terms_at):
        """The plain float64 sum, left to right (float64 has no digits to add)."""
        return _Numpy.fsum(terms_at())

    def __repr__(self) -> str:
        return "NUMPY"


MPMATH = _Mpmath()
NUMPY = _Numpy()


# ----------------------------------------------------------------------------------------- the generator
# an integer bound's rounding: mpmath's and numpy's
ROUNDINGS = {"floor": (lambda x: MP.floor(x), np.floor), "ceil": (lambda x: MP.ceil(x), np.ceil)}


def _integer(value, rounding: str, at_least: int) -> int:
    """`value` rounded by `rounding`, at least `at_least`; a value within 10^(-4/5 of the digits) of an
    integer is taken as that integer (an exact power of two or an exact multiple, which rounding may have
    left a last digit off: floor(log2 1024 / log2 4) is 5, not 4)."""
    nearest = MP.nint(value)
    if abs(value - nearest) < MP.mpf(10) ** (-(MP.dps * 4 // 5)) * max(1, abs(nearest)):
        value = nearest
    return max(at_least, int(ROUNDINGS[rounding][0](value)))


def bound(*, arguments, check=None, fast=True, integer=None, at_least=0):
    """Make a bound's evaluator (returned) and, with `fast`, its vectorized form `fast_NAME` (put in the
    formula's module) from one formula `f(math, *args)`.

    `arguments`: (name, kind) for each argument after `math`, in order (kinds: `KINDS`, a kind ending in '?'
    lets None through; or a bound's own pair (scalar check, array check), each called as check(name, value)).
    Arguments are checked in that order, optional ones (kind '...?') after `check`, if given:
    `check(**raw_arguments)` raises on a combination the kinds cannot express.

    `integer` ('floor' or 'ceil'): the bound is the formula's value so rounded, and never below `at_least`.
    Its evaluator returns an int, computed at the digits asked for without guard digits (an integer has no
    digits to guard: what decides it is the tie guard of `_integer`, whose width those digits set). Its fast
    form rounds in float64 with no tie guard (at an exact tie it may be one off)."""
    if integer is not None and integer not in ROUNDINGS:
        raise ValueError(f"integer must be one of {', '.join(ROUNDINGS)}, got {integer!r}")

    def decorate(formula):
        name = formula.__name__
        signature = inspect.signature(formula)
        parameters = list(signature.parameters.values())[1:]      # less `math`
        public = signature.replace(parameters=parameters)
        kinds = dict(arguments)
        if list(kinds) != [p.name for p in parameters]:
            raise ValueError(f"{name}: arguments {list(kinds)} are not its parameters {[p.name for p in parameters]}")
        checks = {argument: _kind(kind) for argument, kind in kinds.items()}
        optional = {argument for argument, kind in kinds.items() if isinstance(kind, str) and kind.endswith("?")}

        def checked(args, kwargs, which: int) -> dict:
            given = public.bind(*args, **kwargs)
            given.apply_defaults()
            raw = dict(given.arguments)
            values = {argument: checks[argument][which](argument, raw[argument])
                      for argument in kinds if argument not in optional}
            if check is not None:
                check(**raw)
            for argument in optional:
                values[argument] = None if raw[argument] is None else checks[argument][which](argument, raw[argument])
            return {argument: values[argument] for argument in kinds}

        def evaluator(*args, **kwargs):
            if integer is None:
                return formula(MPMATH, **checked(args, kwargs, 0))
            with MP.workdps(current_dps()):
                return _integer(formula(MPMATH, **checked(args, kwargs, 0)), integer, at_least)

        def fast_form(*args, **kwargs):
            value = formula(NUMPY, **checked(args, kwargs, 1))
            if integer is not None:
                value = np.maximum(float(at_least), ROUNDINGS[integer][1](value))
            return validate.finite_result(name, value)

        for function, function_name in ((evaluator, name), (fast_form, f"fast_{name}")):
            function.__name__ = function.__qualname__ = function_name
            function.__module__ = formula.__module__
            function.__signature__ = public
        evaluator.__doc__ = formula.__doc__
        first_line = (formula.__doc__ or name).strip().splitlines()[0]
        fast_form.__doc__ = f"`{name}`, vectorized (numpy, float64; `bounds.fast.{name}`): {first_line}"
        public_evaluator = _at_precision(evaluator)
        public_evaluator.formula = formula
        if fast:
            public_evaluator.fast = fast_form
            formula.__globals__[f"fast_{name}"] = fast_form   # beside the evaluator, where bounds.fast finds it
        return public_evaluator

    return decorate


def lazy_results(module: str, build, names: tuple[str, ...]):
    """A theorem module's `__getattr__`: `RESULTS` and the sympy objects named in `names`, from
    `build() -> (results, {name: object})` on first use, so that importing the module imports no sympy.

    >>> getter = lazy_results("demo", lambda: ({"r": 1}, {"X": 2}), ("X",))
    >>> getter("RESULTS"), getter("X")
    ({'r': 1}, 2)
    """
    built = {}
    known = ("RESULTS", *names)

    def __getattr__(name):
        if name not in known:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        if not built:
            results, objects = build()
            built.update(objects, RESULTS=results)
        return built[name]
    return __getattr__
