"""Consequences A and B of T1, and the soft (cross-entropy) form of T1.

Source: docs/theory.md. Consequence A (accessible sequences) and B (dataset memorization) follow [HMDO]
section 4 / [MLPT]; the cross-entropy floor is derived here by a coding (Gibbs) argument.
`log2_packing` (ell) stands for log2 Npr(m) from any T1 form.

>>> from bounds.consequences import CROSS_ENTROPY_FLOOR
>>> CROSS_ENTROPY_FLOOR
-ell + n*log(A)/log(2)
"""
from __future__ import annotations

import sympy as sp

from . import evaluate
from .symbols import Column, Result, alphabet, d, eps, k, log2, log2_packing, m, n, p, r, vocab
from .t1 import LOG2_PROMPTS_BALL

TOKENS_PER_VECTOR = d * sp.log(1 + 2 * r / eps) / sp.log(vocab)
TOKENS_PER_VECTOR_BITS = p * d / log2(vocab)
THRESHOLD_TOKENS = TOKENS_PER_VECTOR * m
ACCESSIBLE_FRACTION = (1 + 2 * r / eps) ** (d * m) / vocab ** n   # Npr(m)/|V|^n, before capping at 1
LOG2_ACCESSIBLE_FRACTION = sp.Min(0, log2_packing - n * log2(vocab))   # ell from any T1 form
N_MAX = sp.floor(log2_packing / (k * log2(alphabet)))
CROSS_ENTROPY_FLOOR = n * log2(alphabet) - log2_packing

CONSEQUENCE_A_C = Result(
    name="Consequence A: tokens per prompt vector",
    expr=TOKENS_PER_VECTOR,
    source="[HMDO] Cor 4.6-4.7 via T1: Npr(m) >= |V|^n is needed for all of V^n to be accessible",
    assumptions=("T1 ball form", "|V| >= 2"),
    meaning="C = d*ln(1 + 2r/eps)/ln|V|; all sequences of length n accessible only if n <= C*m",
    evaluator=evaluate.tokens_per_vector, arguments=("d", "V", "radius=r", "eps=epsilon"),
    columns=(Column("tokens_per_vector", "C (tok/vec)", r"$C$", 110),),
)
CONSEQUENCE_A_C_BITS = Result(
    name="Consequence A (p-bit form): tokens per prompt vector",
    expr=TOKENS_PER_VECTOR_BITS,
    source="T1 p-bit form; p = 16 is Kuratov et al. 2025's 'maximum capacity' d*16/log2|V|",
    assumptions=("T1 p-bit form", "|V| >= 2"),
    meaning="C = p*d/log2|V|",
    evaluator=evaluate.tokens_per_vector, arguments=("d", "V", "bits=p"),
    columns=(Column("tokens_per_vector_16bit", "C 16-bit", r"$16d/\log_2|V|$", 200),),   # at p = 16
)
CONSEQUENCE_A_THRESHOLD = Result(
    name="Consequence A: threshold length",
    expr=THRESHOLD_TOKENS,
    source="[HMDO] via T1",
    assumptions=("T1 ball form", "|V| >= 2"),
    meaning="n* = C*m: past it the accessible fraction decays like |V|^-n",
    columns=(Column("threshold_tokens", "C*m", r"$Cm$", 120),),
)
CONSEQUENCE_A_FRACTION = Result(
    name="Consequence A: accessible fraction",
    expr=LOG2_ACCESSIBLE_FRACTION,
    source="[HMDO] via T1: at most Npr(m) of the |V|^n sequences are accessible",
    assumptions=("any T1 form gives ell = log2 Npr(m)", "|V| >= 2"),
    meaning="log2 (accessible fraction of V^n) <= min(0, log2 Npr(m) - n*log2|V|)",
    evaluator=evaluate.log2_accessible_fraction, arguments=("ell", "n", "V"),
)
CONSEQUENCE_B = Result(
    name="Consequence B: dataset memorization",
    expr=N_MAX,
    source="[MLPT]/[HMDO] via T1: every labelling of N inputs with k tokens from A needs N*k*log2|A| <= log2 Npr",
    assumptions=("any T1 form gives ell = log2 Npr(m)", "|A| >= 2"),
    meaning="N_max(m) = floor(log2 Npr(m)/(k*log2|A|))",
    evaluator=evaluate.n_max_dataset, arguments=("ell", "k", "A"),
)
SOFT_T1 = Result(
    name="T1 soft form: cross-entropy floor",
    expr=CROSS_ENTROPY_FLOOR,
    source="derived here (coding argument, Gibbs' inequality); not seen in [HMDO]",
    assumptions=("prompts range over a finite set of size Npr(m) (quantized grid or float format)",
                 "targets uniform on A^n, each with its own best prompt", "teacher-forced probabilities"),
    meaning="mean residual cross-entropy (bits, summed over n tokens) >= n*log2|A| - log2 Npr(m)",
    evaluator=evaluate.cross_entropy_floor_bits, arguments=("ell", "n", "A"), direction="lower",
)

RESULTS = {
    "tokens_per_vector": CONSEQUENCE_A_C,
    "tokens_per_vector_bits": CONSEQUENCE_A_C_BITS,
    "threshold_tokens": CONSEQUENCE_A_THRESHOLD,
    "log2_accessible_fraction": CONSEQUENCE_A_FRACTION,
    "n_max_dataset": CONSEQUENCE_B,
    "cross_entropy_floor": SOFT_T1,
}


def latex(name: str = "tokens_per_vector") -> str:
    """LaTeX of one consequence (a key of `RESULTS`).

    >>> latex("cross_entropy_floor")
    '- \\\\ell + n \\\\log_{2}{\\\\left(A \\\\right)}'
    """
    return RESULTS[name].latex()
