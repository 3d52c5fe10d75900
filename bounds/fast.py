"""Vectorized fast path (numpy, float64, log space) for large parameter grids.

Same names and meanings as the mpmath evaluators of `bounds`, but arguments broadcast as numpy arrays and
results are float64 arrays. Each fast form lives beside its evaluator, as `fast_NAME` in the theorem module
that holds it (`bounds/t1.py`, `consequences.py`, `t2.py`, `refinements.py`, `prefix.py`), made with the
evaluator from the bound's one formula (`bounds.formula.bound`). This module gathers every `fast_NAME` of every theorem module's `__all__` under NAME,
with numpy's overflow warnings silenced (`_quiet`), so a new fast form is found here without an edit.

Formulations avoid overflow: log1p for log2(1 + 2r/eps), a softplus for log2(1 + (2r/eps)^q), and a
log-space continued fraction for the incomplete beta of the cone. They agree with the 50-digit mpmath
evaluators to 1e-12 relative for d <= 1e5, m <= 1e6, eps >= 2^-64, q <= 8, |V| <= 1e7
(tests/test_bounds_properties.py), and never return inf or nan there. Arguments are checked by the same rules
as the mpmath side (bounds/validate.py): a NaN, an inf, a non-integral d, m or |V|, an angle outside (0, pi] or
a result that overflows float64 raises ValueError.

>>> float(log2_prompts_ball(2, 3, 0.5, 1.0))
6.0
"""
from __future__ import annotations

import functools
import importlib

import numpy as np

from . import RESULT_MODULES
from .evaluate import LN2, LOG2_E  # noqa: F401  (the constants of the fast forms, reached here before)


def _quiet(func):
    """numpy's overflow and invalid warnings silenced: a result that overflowed is refused with a
    ValueError by validate.finite_result, so a warning would only repeat it."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            return func(*args, **kwargs)
    return wrapper


# Every evaluator of a theorem module with a vectorized form beside it, under the evaluator's name.
for _module_name in RESULT_MODULES:
    _module = importlib.import_module(f"bounds.{_module_name}")
    for _name in _module.__all__:
        if hasattr(_module, f"fast_{_name}"):
            globals()[_name] = _quiet(getattr(_module, f"fast_{_name}"))
del _module_name, _module, _name
