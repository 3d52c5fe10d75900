"""bounds: the results of docs/theory.md (what soft prompts can store) as sympy expressions, evaluated at high
precision with mpmath (50 digits by default, in log space) and by a vectorized numpy fast path.

Modules: t1, consequences, t2, refinements, prefix (the theorem modules: each holds its results whole, each
bound's formula, written once for mpmath and numpy alike, from which come the mpmath evaluator named in its
`__all__` and the numpy fast form `fast_NAME`, and its sympy `Result`s with expression, source, assumptions
and `latex()`, built on first use so that `import bounds` does not import sympy), formula (`@bound`, which
makes both forms from one formula), symbols (sympy symbols with assumptions, the `Result` and `Column`
records), evaluate (the precision machinery the evaluators share: DEFAULT_DPS, with_precision, guard digits),
fast (every fast form, under its evaluator's name), precision (dtype conventions), validate (one rule per
argument, for all of them), rounding (printing a bound outward), presets (architectures with sourced facts),
table and bench (CLIs), theory_doc (writes docs/theory.md from `all_results()`).

Every evaluator computes in one private mpmath context, `bounds.precision.MP`, and returns its mpf right to
the digits asked for. One source sets them: that context's precision, 50 digits (DEFAULT_DPS) unless an
enclosing `with with_precision(dps):` block, or the call's own `dps=` keyword, sets it (`current_dps()`
reads it). An evaluator works with 10 guard digits more, and raises its precision further where its terms
cancel. mpmath's global precision is neither read nor changed by bounds, and arithmetic on a returned value
(`bound - measured`, `float(bound)`) runs at the bounds context's precision, so the digits are kept.

>>> import bounds
>>> round(float(bounds.tokens_per_vector(768, 50304, radius=63.62, eps="fp16")), 2)   # pythia-160m C
835.52
"""
# The modules that declare results (each a RESULTS dict of `Result`), in the order of docs/theory.md.
RESULT_MODULES = ("t1", "consequences", "t2", "refinements", "prefix")

from . import consequences, evaluate, prefix, refinements, t1, t2  # noqa: E402
from .consequences import *  # noqa: E402,F401,F403  (each theorem module's __all__: its evaluators)
from .evaluate import *  # noqa: E402,F401,F403  (its __all__: the precision controls)
from .precision import bits_per_value, count_representable, eps_of_dtype, parse_eps  # noqa: E402
from .prefix import *  # noqa: E402,F401,F403
from .presets import PRESETS, Preset, get_preset  # noqa: E402
from .refinements import *  # noqa: E402,F401,F403
from .t1 import *  # noqa: E402,F401,F403
from .t2 import *  # noqa: E402,F401,F403


def __getattr__(name):
    """`bounds.symbols` (sympy takes ~0.5 s to import) loads on first use, so the CLIs start fast."""
    if name == "symbols":
        import importlib
        return importlib.import_module(".symbols", __name__)
    raise AttributeError(f"module 'bounds' has no attribute {name!r}")


def all_results() -> dict:
    """Every symbolic result by key: {'t1_ball': Result, ..., 'cone': Result, ...}.

    >>> sorted(all_results())[:3]
    ['box', 'cone', 'cross_entropy_floor']
    """
    import importlib
    merged = {}
    for name in RESULT_MODULES:
        merged.update(importlib.import_module(f".{name}", __name__).RESULTS)
    return merged


class UnknownResult(ValueError, KeyError):
    """A result key that `all_results` does not hold (a ValueError, and a KeyError for older callers)."""

    __str__ = ValueError.__str__


def latex(name: str) -> str:
    """LaTeX of any result by key (see `all_results`).

    >>> latex("t1_bits")
    'd m p'
    """
    results = all_results()
    if not isinstance(name, str) or name not in results:
        raise UnknownResult(f"unknown result {name!r}; known: {', '.join(sorted(results))}")
    return results[name].latex()


__all__ = [
    *evaluate.__all__,
    *(name for module in (t1, consequences, t2, refinements, prefix) for name in module.__all__),
    "PRESETS", "Preset", "all_results", "bits_per_value", "count_representable", "eps_of_dtype", "get_preset",
    "latex", "parse_eps",
]
