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

from . import evaluate
from .symbols import Column, Result, d, eps, log2, q, r, vocab

N_EPS = (1 + 2 * r / eps) ** d
LOG2_MEANFIELD = N_EPS * log2(sp.E + sp.E * (2 * r / eps) ** q)
LOG2_LOG2_MEANFIELD = d * log2(1 + 2 * r / eps) + log2(log2(sp.E + sp.E * (2 * r / eps) ** q))

T2_LOG2 = Result(
    name="T2 (mean-field bound, log2)",
    expr=LOG2_MEANFIELD,
    source="[MLPT] claim 2; [HMDO] Thm/Cor 4.9-4.11",
    assumptions=(
        "no positional information: attention permutation-equivariant and duplication-invariant",
        "the model sees a context only through its empirical measure mu_X: a non-causal attention stack of any "
        "depth read out by a permutation-invariant map (mean pooling, or a fixed query outside the context); "
        "not a causal stack of two or more layers (the mask carries order)",
        "a single causal layer read at the last position gives F(x_n, mu_X): the count carries the factor |V| "
        "(log2|V| bits more on log2 Bw), with the Lipschitz constant uniform over the last token",
        "precision eps in the Wasserstein-q distance, q >= 1",
        "support in B(0, r); stars-and-bars count C(Neps+K, Neps) <= (e*(Neps+K)/Neps)^Neps",
    ),
    meaning="log2 Bw = Neps*log2(e + e*(2r/eps)^q) bits about the context, for any context length n",
    evaluator=evaluate.log2_meanfield, arguments=("d", "r", "epsilon", "q"),
)
T2_LOG2_LOG2 = Result(
    name="T2 (mean-field bound, log2 log2)",
    expr=LOG2_LOG2_MEANFIELD,
    source=T2_LOG2.source,
    assumptions=T2_LOG2.assumptions,
    meaning="log2 log2 Bw = d*log2(1 + 2r/eps) + log2 log2(e + e*(2r/eps)^q)",
    evaluator=evaluate.log2_log2_meanfield, arguments=("d", "r", "epsilon", "q"),
    columns=(Column("log2_log2_meanfield", "log2 log2 Bw", r"$\log_2\log_2 B_w$", 130),),
)

RESULTS = {"log2_meanfield": T2_LOG2, "log2_log2_meanfield": T2_LOG2_LOG2}


def latex(name: str = "log2_log2_meanfield") -> str:
    """LaTeX of the T2 bound ('log2_meanfield' or 'log2_log2_meanfield').

    >>> "epsilon" in latex()
    True
    """
    return RESULTS[name].latex()


# ----------------------------------------------------------------------------------------- finite vocabulary
# Derived here (docs/t2_finite_vocabulary.md). A context over V has measure sum_v w_v delta_{e_v}: the support
# is the |V| embeddings, so only the weights need a net. Largest-remainder rounding of w to the grid (1/K) Z^|V|
# moves TV <= floor(|V|/2)*ceil(|V|/2)/(|V|*K) <= |V|/(4K) mass, and W_q^q <= D^q * TV (D = diam of the
# embeddings <= 2r), so K = ceil(floor(|V|/2)*ceil(|V|/2)/|V| * (2r/eps)^q) gives a W_q-net of radius eps: the
# C(K + |V| - 1, |V| - 1) multisets of length K. With C(a + b, b) <= (e(a + b)/b)^b and
# (|V|/(|V| - 1))^(|V| - 1) < e this is at most e * (e + (e/4)(2r/eps)^q)^(|V| - 1).
LOG2_MEANFIELD_VOCAB = log2(sp.E) + (vocab - 1) * log2(sp.E + sp.E / 4 * (2 * r / eps) ** q)
TOKENS_MEANFIELD_VOCAB = LOG2_MEANFIELD_VOCAB / log2(vocab)

T2_VOCAB = Result(
    name="T2 with a finite vocabulary (log2)",
    expr=LOG2_MEANFIELD_VOCAB,
    source="derived here (docs/t2_finite_vocabulary.md): [HMDO]'s weight count with the support fixed to the "
           "|V| token embeddings",
    assumptions=(
        "non-causal attention stack of any depth without positional information, read out by a "
        "permutation-invariant map: the output is a function F(mu_X) of the context's empirical measure; "
        "a single causal layer read at the last position gives F(x_n, mu_X): the count then carries the "
        "factor |V| (log2|V| bits more, last_token=True), with L uniform over the last token",
        "token embeddings in B(0, r) (any norm; only their diameter D <= 2r enters, so 2r may be replaced by D)",
        "precision eps in the Wasserstein-q distance on the input measure, q >= 1: counted are the points of "
        "a W_q-net of radius eps (the multisets of length K = ceil(floor(|V|/2)ceil(|V|/2)/|V| (2r/eps)^q)); outputs "
        "compared at eps_out with F L-Lipschitz from (mu, W_q) need eps = eps_out/(2L)",
        "|V| >= 2; when (1 + 2r/eps)^d < |V| the support-net form may be smaller: the minimum is valid with "
        "log2_meanfield taken at the same covering radius, i.e. at eps/2 (its support net plus weight grid "
        "reaches (1 + 2^(-1/q)) times its eps)",
    ),
    meaning="log2 Bw_V = log2 e + (|V|-1)*log2(e + (e/4)(2r/eps)^q) bits about the context, for any length n",
    evaluator=evaluate.log2_meanfield_vocab, arguments=("V", "r", "epsilon", "q"),
    # in the table at q = 1 and 2, each the minimum with log2_meanfield at eps/2 (see the assumptions)
    columns=(Column("log2_meanfield_vocab_q1", "log2 Bw_V q=1", r"$\log_2 B_{w,V}^{q=1}$", 140),
             Column("log2_meanfield_vocab_q2", "log2 Bw_V q=2", r"$\log_2 B_{w,V}^{q=2}$", 160)),
)
T2_VOCAB_TOKENS = Result(
    name="T2 with a finite vocabulary (tokens' worth)",
    expr=TOKENS_MEANFIELD_VOCAB,
    source=T2_VOCAB.source,
    assumptions=T2_VOCAB.assumptions,
    meaning="log2 Bw_V / log2|V|: the bound in tokens of V, comparable with a context window",
    evaluator=evaluate.tokens_meanfield_vocab, arguments=("V", "r", "epsilon", "q"),
    columns=(Column("tokens_meanfield_vocab_q1", "Bw_V q=1 (tok)", r"$B_{w,V}^{q=1}$ (tok)", 150),
             Column("tokens_meanfield_vocab_q2", "Bw_V q=2 (tok)", r"$B_{w,V}^{q=2}$ (tok)", 170)),
)

RESULTS.update({"log2_meanfield_vocab": T2_VOCAB, "tokens_meanfield_vocab": T2_VOCAB_TOKENS})
