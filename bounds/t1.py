"""T1 - fixed prompt length: the memory of a soft prompt is at most linear in its length m.

Sources: [MLPT] claim 1 (arXiv 2509.00421); [HMDO] Thm/Cor 4.5-4.7 (arXiv 2605.22223).
All forms count distinguishable prompts Npr(m) and are stated as log2 Npr(m) (bits).

>>> from bounds.t1 import LOG2_PROMPTS_BITS
>>> LOG2_PROMPTS_BITS
d*m*p
"""
from __future__ import annotations

import sympy as sp

from . import evaluate
from .symbols import Column, Result, d, eps, float_count, levels, log2, m, p, r

LOG2_PROMPTS_BALL = d * m * log2(1 + 2 * r / eps)
LOG2_PROMPTS_BITS = p * d * m
LOG2_PROMPTS_GRID = d * m * log2(levels)
LOG2_PROMPTS_FLOAT = d * m * log2(float_count)

T1_BALL = Result(
    name="T1 (ball form)",
    expr=LOG2_PROMPTS_BALL,
    source="[MLPT] claim 1; [HMDO] Thm/Cor 4.5-4.7 (packing number of B_{d x m}(0, r))",
    assumptions=(
        "prompt P in R^{d x m} lies in the ball B(0, r) (l_inf by default; l_2 gives the same bound)",
        "output constant on every eps-cube ([HMDO] precision assumption)",
        "greedy decoding, frozen transformer",
        "Pk(B_D(0, r), eps) <= (1 + 2r/eps)^D with D = d*m",
    ),
    meaning="log2 Npr(m) <= d*m*log2(1 + 2r/eps): memorized bits, linear in m",
    evaluator=evaluate.log2_prompts_ball, arguments=("d", "m", "r", "epsilon"),
    columns=(Column("log2_prompts", "log2 Npr (bits)", r"$\log_2 N_{pr}$", 100),),
)

T1_BITS = Result(
    name="T1 (p-bit form)",
    expr=LOG2_PROMPTS_BITS,
    source="[MLPT]/[HMDO] counting argument with p bits per stored value; Kuratov et al. 2025 for p = 16, m = 1",
    assumptions=("each of the d*m prompt values is stored in p bits", "greedy decoding, frozen transformer"),
    meaning="log2 Npr(m) <= p*d*m",
    evaluator=evaluate.log2_prompts_bits, arguments=("d", "m", "p"),
)

T1_GRID = Result(
    name="T1 (exact grid form)",
    expr=LOG2_PROMPTS_GRID,
    source="derived here: a prompt quantized to Q levels per coordinate takes exactly Q^(d*m) values",
    assumptions=("prompt quantized to Q >= 2 levels per coordinate",),
    meaning="Npr(m) = Q^(d*m) exactly; log2 Npr(m) = d*m*log2 Q",
    evaluator=evaluate.log2_prompts_grid, arguments=("d", "m", "Q"),
)

T1_FLOAT = Result(
    name="T1 (float form)",
    expr=LOG2_PROMPTS_FLOAT,
    source="derived here: count of representable values of the float format in [-r, r] (bounds.precision)",
    assumptions=("prompt stored in a float format (fp64/fp32/bf16/fp16) and kept in [-r, r]",
                 "no eps-cube modelling assumption needed"),
    meaning="log2 Npr(m) <= d*m*log2 N_fmt(r), N_fmt(r) <= 2^p",
    evaluator=evaluate.log2_prompts_float, arguments=("d", "m", "r", "dtype"),   # N_fmt = count_representable(dtype, r)
)

RESULTS = {"t1_ball": T1_BALL, "t1_bits": T1_BITS, "t1_grid": T1_GRID, "t1_float": T1_FLOAT}


def latex(name: str = "t1_ball") -> str:
    """LaTeX of one T1 form: 't1_ball', 't1_bits', 't1_grid' or 't1_float'.

    >>> latex("t1_bits")
    'd m p'
    """
    return RESULTS[name].latex()


def slope_in_m(expr: sp.Expr = LOG2_PROMPTS_BALL) -> sp.Expr:
    """d/dm of a T1 form: the bits each extra prompt vector can add.

    >>> slope_in_m(LOG2_PROMPTS_GRID)
    d*log(Q)/log(2)
    """
    return sp.diff(expr, m)
