"""T1 - fixed prompt length: the memory of a soft prompt is at most linear in its length m.

Sources: [MLPT] claim 1 (arXiv 2509.00421); [HMDO] Thm/Cor 4.5-4.7 (arXiv 2605.22223).
All forms count distinguishable prompts Npr(m) and are stated as log2 Npr(m) (bits).

This module holds each form of T1 twice: its formula, written once for mpmath and numpy alike
(bounds/formula.py), from which `bound` makes the mpmath evaluator (50 digits, log space; named in `__all__`,
exported by `bounds`) and the numpy fast form `fast_NAME` (exported by `bounds.fast` as NAME); and its sympy
`Result` (keys 't1_ball', 't1_bits', 't1_grid', 't1_float'), which loads on first use of `RESULTS`, `T1_BALL`,
..., the expressions `LOG2_PROMPTS_*`, `latex` or `slope_in_m`, so that importing `bounds` does not import sympy.

>>> from bounds.t1 import LOG2_PROMPTS_BITS
>>> LOG2_PROMPTS_BITS
d*m*p
"""
from __future__ import annotations

import numpy as np  # noqa: F401  (the doctests of the fast forms use it)

from . import precision
from .formula import bound, lazy_results

# What `bounds` exports from here (and `bounds.fast` too, from the `fast_` functions of the same names).
__all__ = ["log2_prompts_ball", "log2_prompts_bits", "log2_prompts_grid", "log2_prompts_float"]


# ----------------------------------------------------------------------------------------- the formulas
# Each bound once, for mpmath and numpy alike (bounds/formula.py): `bound` makes the evaluator NAME and its
# vectorized form fast_NAME (exported by `bounds.fast` as NAME) from it.
@bound(arguments=(("d", "integer>=1"), ("m", "integer>=1"), ("radius", "positive"), ("eps", "eps")))
def log2_prompts_ball(math, d, m, radius, eps):
    """T1 ball form: log2 Npr(m) <= d*m*log2(1 + 2r/eps) bits ([MLPT] claim 1; [HMDO] Thm 4.5).

    >>> log2_prompts_ball(2, 3, 0.5, 1) == 6
    True
    >>> fast_log2_prompts_ball(np.array([1, 2]), 1, 0.5, 1.0).tolist()
    [1.0, 2.0]
    """
    # log1p: with eps >> r the ratio is below the working precision, and log(1 + ratio) would give 0
    return d * m * math.log1p(2 * radius / eps) / math.ln2


@bound(arguments=(("d", "integer>=1"), ("m", "integer>=1"), ("bits", "positive")))
def log2_prompts_bits(math, d, m, bits):
    """T1 p-bit form: log2 Npr(m) <= p*d*m bits.

    >>> log2_prompts_bits(768, 2, 16) == 24576
    True
    >>> float(fast_log2_prompts_bits(768, 1, 16))
    12288.0
    """
    return bits * d * m


@bound(arguments=(("d", "integer>=1"), ("m", "integer>=1"), ("levels", "integer>=2")))
def log2_prompts_grid(math, d, m, levels):
    """T1 exact grid form: Npr(m) = Q^(d*m), log2 Npr(m) = d*m*log2 Q (prompt quantized to Q levels).

    >>> log2_prompts_grid(4, 2, 256) == 64
    True
    >>> float(fast_log2_prompts_grid(4, 2, 256))
    64.0
    """
    return d * m * math.log2(levels)


@bound(arguments=(("d", "integer>=1"), ("m", "integer>=1"), ("radius", "positive"), ("dtype", "any")), fast=False)
def log2_prompts_float(math, d, m, radius, dtype):
    """T1 float form: d*m*log2(number of values of `dtype` in [-r, r]) (exact count, bounds.precision).

    >>> round(float(log2_prompts_float(1, 1, 1, "fp16")), 4)   # log2(30721)
    14.9069
    """
    return d * m * math.log2(precision.count_representable(dtype, radius))   # an exact count: no numpy form


# ----------------------------------------------------------------------------------------- sympy (lazy)
def _build_results() -> tuple[dict, dict]:
    from .symbols import Column, Result, d, eps, float_count, levels, log2, m, p, r

    ball = d * m * log2(1 + 2 * r / eps)
    bits = p * d * m
    grid = d * m * log2(levels)
    float_form = d * m * log2(float_count)
    results = {
        "t1_ball": Result(
            name="T1 (ball form)",
            expr=ball,
            source="[MLPT] claim 1; [HMDO] Thm/Cor 4.5-4.7 (packing number of B_{d x m}(0, r))",
            assumptions=(
                "prompt P in R^{d x m} lies in the ball B(0, r) (l_inf by default; l_2 gives the same bound)",
                "output constant on every eps-cube ([HMDO] precision assumption)",
                "greedy decoding, frozen transformer",
                "Pk(B_D(0, r), eps) <= (1 + 2r/eps)^D with D = d*m",
            ),
            meaning="log2 Npr(m) <= d*m*log2(1 + 2r/eps): memorized bits, linear in m",
            evaluator=log2_prompts_ball, arguments=("d", "m", "r", "epsilon"),
            columns=(Column("log2_prompts", "log2 Npr (bits)", r"$\log_2 N_{pr}$", 100),),
        ),
        "t1_bits": Result(
            name="T1 (p-bit form)",
            expr=bits,
            source="[MLPT]/[HMDO] counting argument with p bits per stored value; Kuratov et al. 2025 for p = 16, m = 1",
            assumptions=("each of the d*m prompt values is stored in p bits", "greedy decoding, frozen transformer"),
            meaning="log2 Npr(m) <= p*d*m",
            evaluator=log2_prompts_bits, arguments=("d", "m", "p"),
        ),
        "t1_grid": Result(
            name="T1 (exact grid form)",
            expr=grid,
            source="derived here: a prompt quantized to Q levels per coordinate takes exactly Q^(d*m) values",
            assumptions=("prompt quantized to Q >= 2 levels per coordinate",),
            meaning="Npr(m) = Q^(d*m) exactly; log2 Npr(m) = d*m*log2 Q",
            evaluator=log2_prompts_grid, arguments=("d", "m", "Q"),
        ),
        "t1_float": Result(
            name="T1 (float form)",
            expr=float_form,
            source="derived here: count of representable values of the float format in [-r, r] (bounds.precision)",
            assumptions=("prompt stored in a float format (fp64/fp32/bf16/fp16) and kept in [-r, r]",
                         "no eps-cube modelling assumption needed"),
            meaning="log2 Npr(m) <= d*m*log2 N_fmt(r), N_fmt(r) <= 2^p",
            evaluator=log2_prompts_float, arguments=("d", "m", "r", "dtype"),   # N_fmt = count_representable(dtype, r)
        ),
    }
    names = {"LOG2_PROMPTS_BALL": ball, "LOG2_PROMPTS_BITS": bits, "LOG2_PROMPTS_GRID": grid,
             "LOG2_PROMPTS_FLOAT": float_form, "T1_BALL": results["t1_ball"], "T1_BITS": results["t1_bits"],
             "T1_GRID": results["t1_grid"], "T1_FLOAT": results["t1_float"]}
    return results, names


# RESULTS, the `Result`s and the sympy expressions, built on first use
__getattr__ = lazy_results(__name__, _build_results, (
    "LOG2_PROMPTS_BALL", "LOG2_PROMPTS_BITS", "LOG2_PROMPTS_GRID", "LOG2_PROMPTS_FLOAT", "T1_BALL",
    "T1_BITS", "T1_GRID", "T1_FLOAT"
))


def latex(name: str = "t1_ball") -> str:
    """LaTeX of one T1 form: 't1_ball', 't1_bits', 't1_grid' or 't1_float'.

    >>> latex("t1_bits")
    'd m p'
    """
    return __getattr__("RESULTS")[name].latex()


def slope_in_m(expr=None):
    """d/dm of a T1 form (the ball form by default): the bits each extra prompt vector can add.

    >>> from bounds.t1 import LOG2_PROMPTS_GRID
    >>> slope_in_m(LOG2_PROMPTS_GRID)
    d*log(Q)/log(2)
    """
    import sympy as sp

    from .symbols import m
    return sp.diff(__getattr__("LOG2_PROMPTS_BALL") if expr is None else expr, m)
