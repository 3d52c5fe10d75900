"""The machinery every evaluator of `bounds` shares: its precision, its guard digits and the cancelling sum
(`bounds.formula` builds the evaluators on them), and the argument rules of the evaluators written by hand.
The evaluators themselves live beside their results, in the theorem modules (`bounds/t1.py`,
`consequences.py`, `t2.py`, `refinements.py`, `prefix.py`), which import this module; it imports none of
them at import time.

Every evaluator computes in the private mpmath context of `bounds` (`bounds.precision.MP`) and returns one of
its mpf, right to the digits asked for: the context's precision, 50 (DEFAULT_DPS) unless an enclosing
`with_precision(dps)` block or the call's own `dps=` keyword sets it (`_at_precision`, the decorator of every
evaluator). That is the one source: the precision of mpmath's global context (mpmath.mp) is neither read nor
changed. Arguments may be Python numbers, mpf of any mpmath context (taken exactly), or (for eps) strings such
as '2^-10', '1e-3' or a dtype name ('fp16'). The mpf returned carries every digit it was computed with, and
arithmetic on it runs at the bounds context's precision whatever mpmath's global one is: `bound - measured`,
`float(bound)`.

Each evaluator is still found here under its name (`bounds.evaluate.log2_prompts_ball` is
`bounds.t1.log2_prompts_ball`): a module `__getattr__` looks it up in the theorem modules on first use.

>>> from bounds.evaluate import log2_prompts_ball        # bounds.t1's
>>> round(float(log2_prompts_ball(768, 1, 63.62, "fp16")), 2)   # pythia-160m, one prompt vector, fp16
13049.41
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib

import numpy as np

from . import precision, validate
from .precision import MP

# What `bounds` exports from here (`from .evaluate import *`): the precision controls. Each theorem module names
# its own evaluators in its `__all__`.
__all__ = ["DEFAULT_DPS", "current_dps", "with_precision"]

DEFAULT_DPS = precision.DEFAULT_DPS
# While an evaluator runs, MP works GUARD_DIGITS beyond the digits asked for; those digits are kept here so
# that an evaluator called by another asks for them again, not for the guard digits as well. None outside.
_ASKED_DPS: contextvars.ContextVar[int | None] = contextvars.ContextVar("bounds_asked_dps", default=None)


def with_precision(dps: int):
    """Set the bounds context's precision to `dps` significant digits for the block: every bound evaluated
    inside, and arithmetic on the mpf they return, uses it. mpmath's global precision is not touched.

    >>> from bounds import log2_prompts_bits
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
_positive = validate.positive
_size_at_least_2 = validate.size
_eps = validate.eps

# The float64 constants of the fast forms (`bounds.fast` gathers those forms).
LN2 = np.log(2.0)
LOG2_E = 1.0 / LN2


# ----------------------------------------------------------------------------------------- the evaluators' old home
# Helpers that are no evaluator of `bounds` but were reached here: the theorem module that holds each one.
_HELPERS = {"net_grid_steps": "t2", "log2_cone_floor": "refinements"}


def __getattr__(name):
    """An evaluator by its name, from the theorem module that holds it (a name of its `__all__`, or a helper of
    `_HELPERS`): `bounds.evaluate.log2_prompts_ball` is `bounds.t1.log2_prompts_ball`. Looked up on first use,
    so that this module imports no theorem module at import time.

    >>> import bounds.evaluate, bounds.t2
    >>> bounds.evaluate.net_grid_steps is bounds.t2.net_grid_steps
    True
    """
    if not name.startswith("_"):
        for module_name in importlib.import_module(__package__).RESULT_MODULES:
            module = importlib.import_module(f".{module_name}", __package__)
            if name in module.__all__ or _HELPERS.get(name) == module_name:
                value = globals()[name] = getattr(module, name)
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
