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
`cos`, `minimum`, `maximum`, `softplus(y) = ln(1 + e^y)` (overflow-safe in float64) and `cancelling_sum(terms_at)`:
a sum of terms that may cancel, which on the mpmath side is evaluated again with more digits until few are
lost (`bounds.evaluate._cancelling_sum`, Ziv's strategy) and in float64 is the plain sum. Where a bound needs
another algorithm per backend it is a primitive of the namespaces; a bound with no numpy form (an exact count,
an integer result) is declared with `fast=False`, or kept as a plain evaluator (docs/design.md).

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
"""
from __future__ import annotations

import inspect

import numpy as np

from . import validate
from .evaluate import _at_precision, _cancelling_sum
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


def _kind(kind: str) -> tuple:
    checks = KINDS.get(kind.rstrip("?"))
    if checks is None:
        raise ValueError(f"unknown argument kind {kind!r}; known: {', '.join(KINDS)} (optional: a trailing ?)")
    return checks


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

    @staticmethod
    def softplus(y):
        """ln(1 + e^y) without overflow."""
        return np.maximum(y, 0.0) + np.log1p(np.exp(-np.abs(y)))

    @staticmethod
    def cancelling_sum(terms_at):
        """The plain float64 sum, left to right (float64 has no digits to add)."""
        terms = terms_at()
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def __repr__(self) -> str:
        return "NUMPY"


MPMATH = _Mpmath()
NUMPY = _Numpy()


# ----------------------------------------------------------------------------------------- the generator
def bound(*, arguments, check=None, fast=True):
    """Make a bound's evaluator (returned) and, with `fast`, its vectorized form `fast_NAME` (put in the
    formula's module) from one formula `f(math, *args)`.

    `arguments`: (name, kind) for each argument after `math`, in order (kinds: `KINDS`; a kind ending in '?'
    lets None through). Arguments are checked in that order, optional ones (kind '...?') after `check`, if
    given: `check(**raw_arguments)` raises on a combination the kinds cannot express."""
    def decorate(formula):
        name = formula.__name__
        signature = inspect.signature(formula)
        parameters = list(signature.parameters.values())[1:]      # less `math`
        public = signature.replace(parameters=parameters)
        kinds = dict(arguments)
        if list(kinds) != [p.name for p in parameters]:
            raise ValueError(f"{name}: arguments {list(kinds)} are not its parameters {[p.name for p in parameters]}")
        checks = {argument: _kind(kind) for argument, kind in kinds.items()}
        optional = {argument for argument, kind in kinds.items() if kind.endswith("?")}

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
            return formula(MPMATH, **checked(args, kwargs, 0))

        def fast_form(*args, **kwargs):
            return validate.finite_result(name, formula(NUMPY, **checked(args, kwargs, 1)))

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
