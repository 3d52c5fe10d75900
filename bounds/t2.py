"""T2 - arbitrary context length: the memory of a transformer is bounded whatever n.

Sources: [MLPT] claim 2; [HMDO] Thm/Cor 4.9-4.11 (mean-field view, Wasserstein-q precision).
Bw = (e + e*(2r/eps)^q)^Neps with Neps = (1 + 2r/eps)^d: doubly exponential in d, so it is stated as
log2 Bw and log2 log2 Bw. Neither depends on n or m.

>>> from bounds.t2 import LOG2_LOG2_MEANFIELD
>>> from bounds.symbols import n, m
>>> {n, m} & LOG2_LOG2_MEANFIELD.free_symbols
set()
"""
from __future__ import annotations

import sympy as sp

from .symbols import Result, d, eps, log2, q, r

N_EPS = (1 + 2 * r / eps) ** d
LOG2_MEANFIELD = N_EPS * log2(sp.E + sp.E * (2 * r / eps) ** q)
LOG2_LOG2_MEANFIELD = d * log2(1 + 2 * r / eps) + log2(log2(sp.E + sp.E * (2 * r / eps) ** q))

T2_LOG2 = Result(
    name="T2 (mean-field bound, log2)",
    expr=LOG2_MEANFIELD,
    source="[MLPT] claim 2; [HMDO] Thm/Cor 4.9-4.11",
    assumptions=(
        "no positional information: attention permutation-equivariant and duplication-invariant",
        "the model sees a context only through its empirical measure mu_X",
        "precision eps in the Wasserstein-q distance, q >= 1",
        "support in B(0, r); stars-and-bars count C(Neps+K, Neps) <= (e*(Neps+K)/Neps)^Neps",
    ),
    meaning="log2 Bw = Neps*log2(e + e*(2r/eps)^q) bits about the context, for any context length n",
)
T2_LOG2_LOG2 = Result(
    name="T2 (mean-field bound, log2 log2)",
    expr=LOG2_LOG2_MEANFIELD,
    source=T2_LOG2.source,
    assumptions=T2_LOG2.assumptions,
    meaning="log2 log2 Bw = d*log2(1 + 2r/eps) + log2 log2(e + e*(2r/eps)^q)",
)

RESULTS = {"log2_meanfield": T2_LOG2, "log2_log2_meanfield": T2_LOG2_LOG2}


def latex(name: str = "log2_log2_meanfield") -> str:
    """LaTeX of the T2 bound ('log2_meanfield' or 'log2_log2_meanfield').

    >>> "epsilon" in latex()
    True
    """
    return RESULTS[name].latex()
