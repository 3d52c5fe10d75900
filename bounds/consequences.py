"""Consequences A and B of T1, and the soft (cross-entropy) form of T1.

Source: docs/theory.md. Consequence A (accessible sequences) and B (dataset memorization) follow [HMDO]
section 4 / [MLPT]; the cross-entropy floor is derived here by a coding (Gibbs) argument.
`log2_packing` (ell) stands for log2 Npr(m) from any T1 form.

This module holds each consequence three ways: its mpmath evaluator (named in `__all__`, exported by
`bounds`), its numpy fast form `fast_NAME` where it has one (exported by `bounds.fast` as NAME), and its sympy
`Result`, which loads on first use of `RESULTS`, the `Result`s (`CONSEQUENCE_A_C`, ..., `SOFT_T1`), the
expressions (`TOKENS_PER_VECTOR`, ..., `CROSS_ENTROPY_FLOOR`) or `latex`, so that importing `bounds` does not
import sympy.

>>> from bounds.consequences import CROSS_ENTROPY_FLOOR
>>> CROSS_ENTROPY_FLOOR
-ell + n*log(A)/log(2)
"""
from __future__ import annotations

import numpy as np  # noqa: F401  (the doctests of the fast forms use it)

from .formula import bound, lazy_results

# What `bounds` exports from here (and `bounds.fast` too, from the `fast_` functions of the same names).
__all__ = ["tokens_per_vector", "log2_accessible_fraction", "n_max_dataset", "cross_entropy_floor_bits"]


# ----------------------------------------------------------------------------------------- the formulas
# Each bound once, for mpmath and numpy alike (bounds/formula.py): `bound` makes the evaluator NAME and its
# vectorized form fast_NAME (exported by `bounds.fast` as NAME) from it.
def _one_form(d, vocab, radius, eps, bits):
    if bits is not None:
        if radius is not None or eps is not None:
            raise ValueError("give either bits, or radius and eps, not both")
    elif radius is None or eps is None:
        raise ValueError("tokens_per_vector needs radius and eps (ball form) or bits (p-bit form)")


@bound(arguments=(("d", "integer>=1"), ("vocab", "integer>=2"), ("radius", "positive?"), ("eps", "eps?"),
                  ("bits", "positive?")), check=_one_form)
def tokens_per_vector(math, d, vocab, radius=None, eps=None, bits=None):
    """Consequence A: C, tokens of V one prompt vector can pin down.

    Ball form (radius and eps): C = d*ln(1 + 2r/eps)/ln|V|. Bit form (bits=p): C = p*d/log2|V|.

    >>> round(float(tokens_per_vector(768, 50304, bits=16)), 2)   # Kuratov et al.'s maximum capacity
    786.77
    >>> round(float(fast_tokens_per_vector(768, 50304, bits=16)), 2)
    786.77
    """
    if bits is not None:
        return bits * d * math.ln2 / math.log(vocab)
    return d * math.log1p(2 * radius / eps) / math.log(vocab)


@bound(arguments=(("log2_prompts", "finite"), ("n", "integer>=1"), ("vocab", "integer>=2")))
def log2_accessible_fraction(math, log2_prompts, n, vocab):
    """Consequence A: log2 of the accessible fraction of V^n is at most min(0, log2 Npr - n*log2|V|).

    >>> log2_accessible_fraction(100, 20, 32) == -0.0 and log2_accessible_fraction(100, 30, 32) == -50
    True
    >>> float(fast_log2_accessible_fraction(100.0, 30, 32))
    -50.0
    """
    return math.minimum(0, math.cancelling_sum(lambda: [log2_prompts, -n * math.log2(vocab)]))


@bound(arguments=(("log2_prompts", "finite"), ("k", "integer>=1"), ("alphabet", "integer>=2")), fast=False,
       integer="floor", at_least=0)
def n_max_dataset(math, log2_prompts, k, alphabet):
    """Consequence B: N_max = floor(log2 Npr/(k*log2|A|)) inputs whose every k-token labelling fits.

    An integer, at the digits asked for (an exact power of two lands on its integer: `bounds.formula.bound`'s
    `integer=`), with no numpy form.

    >>> n_max_dataset(100, 2, 4)
    25
    """
    return log2_prompts / (k * math.log2(alphabet))


@bound(arguments=(("log2_prompts", "finite"), ("n", "integer>=1"), ("alphabet", "integer>=2")))
def cross_entropy_floor_bits(math, log2_prompts, n, alphabet):
    """Soft T1: mean residual cross-entropy (bits over n tokens) >= n*log2|A| - log2 Npr (may be < 0).

    >>> cross_entropy_floor_bits(10, 8, 4) == 6
    True
    >>> float(fast_cross_entropy_floor_bits(10.0, 8, 4))
    6.0
    """
    return math.cancelling_sum(lambda: [n * math.log2(alphabet), -log2_prompts])


# ----------------------------------------------------------------------------------------- sympy (lazy)
def _build_results() -> tuple[dict, dict]:
    import sympy as sp

    from .symbols import Column, Result, alphabet, d, eps, k, log2, log2_packing, m, n, p, r, vocab

    tokens = d * sp.log(1 + 2 * r / eps) / sp.log(vocab)
    tokens_bits = p * d / log2(vocab)
    threshold = tokens * m
    fraction = (1 + 2 * r / eps) ** (d * m) / vocab ** n   # Npr(m)/|V|^n, before capping at 1
    log2_fraction = sp.Min(0, log2_packing - n * log2(vocab))   # ell from any T1 form
    n_max = sp.floor(log2_packing / (k * log2(alphabet)))
    floor = n * log2(alphabet) - log2_packing
    results = {
        "tokens_per_vector": Result(
            name="Consequence A: tokens per prompt vector",
            expr=tokens,
            source="[HMDO] Cor 4.6-4.7 via T1: Npr(m) >= |V|^n is needed for all of V^n to be accessible",
            assumptions=("T1 ball form", "|V| >= 2"),
            meaning="C = d*ln(1 + 2r/eps)/ln|V|; all sequences of length n accessible only if n <= C*m",
            evaluator=tokens_per_vector, arguments=("d", "V", "radius=r", "eps=epsilon"),
            columns=(Column("tokens_per_vector", "C (tok/vec)", r"$C$", 110),),
        ),
        "tokens_per_vector_bits": Result(
            name="Consequence A (p-bit form): tokens per prompt vector",
            expr=tokens_bits,
            source="T1 p-bit form; p = 16 is Kuratov et al. 2025's 'maximum capacity' d*16/log2|V|",
            assumptions=("T1 p-bit form", "|V| >= 2"),
            meaning="C = p*d/log2|V|",
            evaluator=tokens_per_vector, arguments=("d", "V", "bits=p"),
            columns=(Column("tokens_per_vector_16bit", "C 16-bit", r"$16d/\log_2|V|$", 200),),   # at p = 16
        ),
        "threshold_tokens": Result(
            name="Consequence A: threshold length",
            expr=threshold,
            source="[HMDO] via T1",
            assumptions=("T1 ball form", "|V| >= 2"),
            meaning="n* = C*m: past it the accessible fraction decays like |V|^-n",
            columns=(Column("threshold_tokens", "C*m", r"$Cm$", 120),),
        ),
        "log2_accessible_fraction": Result(
            name="Consequence A: accessible fraction",
            expr=log2_fraction,
            source="[HMDO] via T1: at most Npr(m) of the |V|^n sequences are accessible",
            assumptions=("any T1 form gives ell = log2 Npr(m)", "|V| >= 2"),
            meaning="log2 (accessible fraction of V^n) <= min(0, log2 Npr(m) - n*log2|V|)",
            evaluator=log2_accessible_fraction, arguments=("ell", "n", "V"),
        ),
        "n_max_dataset": Result(
            name="Consequence B: dataset memorization",
            expr=n_max,
            source="[MLPT]/[HMDO] via T1: every labelling of N inputs with k tokens from A needs N*k*log2|A| <= log2 Npr",
            assumptions=("any T1 form gives ell = log2 Npr(m)", "|A| >= 2"),
            meaning="N_max(m) = floor(log2 Npr(m)/(k*log2|A|))",
            evaluator=n_max_dataset, arguments=("ell", "k", "A"),
        ),
        "cross_entropy_floor": Result(
            name="T1 soft form: cross-entropy floor",
            expr=floor,
            source="derived here (coding argument, Gibbs' inequality); not seen in [HMDO]",
            assumptions=("prompts range over a finite set of size Npr(m) (quantized grid or float format)",
                         "targets uniform on A^n, each with its own best prompt", "teacher-forced probabilities"),
            meaning="mean residual cross-entropy (bits, summed over n tokens) >= n*log2|A| - log2 Npr(m)",
            evaluator=cross_entropy_floor_bits, arguments=("ell", "n", "A"), direction="lower",
        ),
    }
    names = {"TOKENS_PER_VECTOR": tokens, "TOKENS_PER_VECTOR_BITS": tokens_bits, "THRESHOLD_TOKENS": threshold,
             "ACCESSIBLE_FRACTION": fraction, "LOG2_ACCESSIBLE_FRACTION": log2_fraction, "N_MAX": n_max,
             "CROSS_ENTROPY_FLOOR": floor, "CONSEQUENCE_A_C": results["tokens_per_vector"],
             "CONSEQUENCE_A_C_BITS": results["tokens_per_vector_bits"],
             "CONSEQUENCE_A_THRESHOLD": results["threshold_tokens"],
             "CONSEQUENCE_A_FRACTION": results["log2_accessible_fraction"],
             "CONSEQUENCE_B": results["n_max_dataset"], "SOFT_T1": results["cross_entropy_floor"]}
    return results, names


# RESULTS, the `Result`s and the sympy expressions, built on first use
__getattr__ = lazy_results(__name__, _build_results, (
    "TOKENS_PER_VECTOR", "TOKENS_PER_VECTOR_BITS", "THRESHOLD_TOKENS", "ACCESSIBLE_FRACTION",
    "LOG2_ACCESSIBLE_FRACTION", "N_MAX", "CROSS_ENTROPY_FLOOR", "CONSEQUENCE_A_C",
    "CONSEQUENCE_A_C_BITS", "CONSEQUENCE_A_THRESHOLD", "CONSEQUENCE_A_FRACTION", "CONSEQUENCE_B",
    "SOFT_T1"
))


def latex(name: str = "tokens_per_vector") -> str:
    """LaTeX of one consequence (a key of `RESULTS`).

    >>> latex("cross_entropy_floor")
    '- \\\\ell + n \\\\log_{2}{\\\\left(A \\\\right)}'
    """
    return __getattr__("RESULTS")[name].latex()
