"""T2 - arbitrary context length: the memory of a transformer is bounded whatever n.

Sources: [MLPT] claim 2; [HMDO] Thm/Cor 4.9-4.11 (mean-field view, Wasserstein-q precision).
Bw = (e + e*(2r/eps)^q)^Neps with Neps = (1 + 2r/eps)^d: doubly exponential in d, so it is stated as
log2 Bw and log2 log2 Bw. Neither depends on n or m.

This module holds T2 and T2 with a finite vocabulary (derived here, docs/t2_finite_vocabulary.md) as formulas
written once for mpmath and numpy alike (bounds/formula.py), from which `bound` makes the mpmath evaluators
(named in `__all__`, exported by `bounds`) and their numpy fast forms `fast_NAME` (exported by `bounds.fast` as
NAME); the exact count of the finite vocabulary's net, `log2_vocab_net_size` (with `net_grid_steps`), as an
mpmath evaluator of its own; and the sympy `Result`s, which load on first use of `RESULTS`, `T2_LOG2`,
..., the expressions (`N_EPS`, `LOG2_MEANFIELD`, ...) or `latex`, so that importing `bounds` does not import sympy.

>>> from bounds.t2 import LOG2_LOG2_MEANFIELD
>>> from bounds.symbols import n, m
>>> {n, m} & LOG2_LOG2_MEANFIELD.free_symbols
set()
"""
from __future__ import annotations

import numpy as np  # noqa: F401  (the doctests of the fast forms use it)

from . import validate
from .evaluate import GUARD_DIGITS, _at_precision, _eps, _guarded, _positive, _size_at_least_2
from .formula import bound, lazy_results
from .precision import MP

# What `bounds` exports from here (and `bounds.fast` too, from the `fast_` functions of the same names).
__all__ = ["log2_meanfield", "log2_log2_meanfield", "log2_meanfield_vocab", "tokens_meanfield_vocab",
           "log2_vocab_net_size"]


# ----------------------------------------------------------------------------------------- the formulas
# Each bound once, for mpmath and numpy alike (bounds/formula.py): `bound` makes the evaluator NAME and, but for
# log2_meanfield (doubly exponential: no float64 form), its vectorized form fast_NAME (exported by `bounds.fast`
# as NAME) from it. ln(2r/eps) is taken as ln(2r) - ln(eps), so that the ratio itself never overflows float64,
# and ln(1 + x) with x = (2r/eps)^q (or a quarter of it) as the softplus of ln x.
@bound(arguments=(("d", "integer>=1"), ("radius", "positive"), ("eps", "eps"), ("q", "order")), fast=False)
def log2_meanfield(math, d, radius, eps, q):
    """T2: log2 Bw = (1 + 2r/eps)^d * log2(e + e*(2r/eps)^q) bits, for any context length.

    >>> round(float(log2_meanfield(1, 0.5, 1, 1)), 4)   # 2 * log2(2e)
    4.8854
    """
    ratio = 2 * radius / eps
    return (1 + ratio) ** d * math.log2(math.e * (1 + ratio ** q))


@bound(arguments=(("d", "integer>=1"), ("radius", "positive"), ("eps", "eps"), ("q", "order")))
def log2_log2_meanfield(math, d, radius, eps, q):
    """T2: log2 log2 Bw = d*log2(1 + 2r/eps) + log2 log2(e + e*(2r/eps)^q).

    >>> round(float(log2_log2_meanfield(1, 0.5, 1, 1)), 4)   # 1 + log2(log2(2e))
    2.2885
    >>> round(float(fast_log2_log2_meanfield(1, 0.5, 1.0, 1)), 4)
    2.2885
    """
    ln_ratio = math.log(2 * radius) - math.log(eps)                      # ln(2r/eps)
    inner_bits = math.log2e + math.softplus(q * ln_ratio) / math.ln2     # log2(e(1 + (2r/eps)^q))
    return d * math.log1p(2 * radius / eps) / math.ln2 + math.log2(inner_bits)


@bound(arguments=(("vocab", "integer>=2"), ("radius", "positive"), ("eps", "eps"), ("q", "order"),
                  ("last_token", "bool")))
def log2_meanfield_vocab(math, vocab, radius, eps, q, *, last_token=False):
    """T2, finite vocabulary (derived here): log2 Bw_V = log2 e + (|V|-1)*log2(e + (e/4)(2r/eps)^q) bits.

    last_token=True: a single causal layer read at the last position, whose output is F(x_n, mu_X): the
    count carries the factor |V| (log2|V| bits more).

    >>> round(float(log2_meanfield_vocab(2, 0.5, 1, 1)), 4)   # log2 e + log2(5e/4)
    3.2073
    >>> round(float(log2_meanfield_vocab(2, 0.5, 1, 1, last_token=True)), 4)   # one bit more: |V| = 2
    4.2073
    >>> round(float(fast_log2_meanfield_vocab(2, 0.5, 1.0, 1)), 4)
    3.2073
    """
    ln_quarter_term = q * (math.log(2 * radius) - math.log(eps)) - 2 * math.ln2   # ln((2r/eps)^q / 4)
    per_token = math.log2e + math.softplus(ln_quarter_term) / math.ln2           # log2(e(1 + (2r/eps)^q/4))
    value = math.log2e + (vocab - 1) * per_token
    return value + math.log2(vocab) if last_token else value


@bound(arguments=(("vocab", "integer>=2"), ("radius", "positive"), ("eps", "eps"), ("q", "order"),
                  ("last_token", "bool")))
def tokens_meanfield_vocab(math, vocab, radius, eps, q, *, last_token=False):
    """T2, finite vocabulary, in tokens' worth: log2 Bw_V / log2|V| (last_token: see log2_meanfield_vocab).

    >>> round(float(tokens_meanfield_vocab(50304, 63.62, "fp16", 1)))   # pythia-160m, fp16, q = 1
    52930
    >>> round(float(fast_tokens_meanfield_vocab(50304, 63.62, 2.0 ** -10, 1)))
    52930
    """
    return log2_meanfield_vocab.formula(math, vocab, radius, eps, q, last_token=last_token) / math.log2(vocab)


# ----------------------------------------------------------------------------------------- the exact count (mpmath)
def net_grid_steps(vocab, radius, eps, q) -> MP.mpf:
    """K = ceil(floor(|V|/2)*ceil(|V|/2)/|V| * (2r/eps)^q), exact (the working precision follows K's size):
    the grid steps of the weight net behind log2_meanfield_vocab.

    >>> net_grid_steps(3, 0.5, 1, 1)   # ceil(2/3)
    mpf('1.0')
    """
    with _guarded():
        vocab_ = _size_at_least_2("vocab", vocab)
        radius_, eps_, q_ = _positive("radius", radius), _eps(eps), validate.order("q", q)
        constant = MP.floor(vocab_ / 2) * MP.ceil(vocab_ / 2) / vocab_
        with MP.workdps(30):
            digits = int(MP.log10(constant) + q_ * MP.log10(2 * radius_ / eps_)) + 1
        with MP.workdps(max(MP.dps, digits + 2 * GUARD_DIGITS)):
            return MP.ceil(constant * (2 * radius_ / eps_) ** q_)


@_at_precision
def log2_vocab_net_size(vocab, radius, eps, q) -> MP.mpf:
    """The exact count behind log2_meanfield_vocab: log2 C(K + |V| - 1, |V| - 1), K = net_grid_steps,
    the number of multisets of length K, which form a W_q-net of radius eps of every context's measure.
    The working precision grows with K (the log-gammas cancel to about log10 K digits).

    >>> float(log2_vocab_net_size(2, 0.5, 1, 1)) == 1.0   # K = 1: the two contexts of length 1
    True
    """
    vocab_ = _size_at_least_2("vocab", vocab)
    k = net_grid_steps(vocab, radius, eps, q)
    with MP.workdps(30):
        lost = int(MP.log10(k + vocab_)) + 1
    with MP.workdps(MP.dps + lost + GUARD_DIGITS):
        log_binomial = MP.loggamma(k + vocab_) - MP.loggamma(k + 1) - MP.loggamma(vocab_)
        return log_binomial / MP.log(2)


# ----------------------------------------------------------------------------------------- sympy (lazy)
_T2_SOURCE = "[MLPT] claim 2; [HMDO] Thm/Cor 4.9-4.11"
_T2_ASSUMPTIONS = (
    "no positional information: attention permutation-equivariant and duplication-invariant",
    "the model sees a context only through its empirical measure mu_X: a non-causal attention stack of any "
    "depth read out by a permutation-invariant map (mean pooling, or a fixed query outside the context); "
    "not a causal stack of two or more layers (the mask carries order)",
    "a single causal layer read at the last position gives F(x_n, mu_X): the count carries the factor |V| "
    "(log2|V| bits more on log2 Bw), with the Lipschitz constant uniform over the last token",
    "precision eps in the Wasserstein-q distance, q >= 1",
    "support in B(0, r); stars-and-bars count C(Neps+K, Neps) <= (e*(Neps+K)/Neps)^Neps",
)
_VOCAB_SOURCE = ("derived here (docs/t2_finite_vocabulary.md): [HMDO]'s weight count with the support fixed to the "
                 "|V| token embeddings")
_VOCAB_ASSUMPTIONS = (
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
)


def _build_results() -> tuple[dict, dict]:
    import sympy as sp

    from .symbols import Column, Result, d, eps, log2, q, r, vocab

    n_eps = (1 + 2 * r / eps) ** d
    meanfield = n_eps * log2(sp.E + sp.E * (2 * r / eps) ** q)
    log2_meanfield_expr = d * log2(1 + 2 * r / eps) + log2(log2(sp.E + sp.E * (2 * r / eps) ** q))
    # Finite vocabulary, derived here (docs/t2_finite_vocabulary.md). A context over V has measure
    # sum_v w_v delta_{e_v}: the support is the |V| embeddings, so only the weights need a net. Largest-remainder
    # rounding of w to the grid (1/K) Z^|V| moves TV <= floor(|V|/2)*ceil(|V|/2)/(|V|*K) <= |V|/(4K) mass, and
    # W_q^q <= D^q * TV (D = diam of the embeddings <= 2r), so K = ceil(floor(|V|/2)*ceil(|V|/2)/|V| * (2r/eps)^q)
    # gives a W_q-net of radius eps: the C(K + |V| - 1, |V| - 1) multisets of length K. With
    # C(a + b, b) <= (e(a + b)/b)^b and (|V|/(|V| - 1))^(|V| - 1) < e this is at most
    # e * (e + (e/4)(2r/eps)^q)^(|V| - 1).
    vocab_bits = log2(sp.E) + (vocab - 1) * log2(sp.E + sp.E / 4 * (2 * r / eps) ** q)
    vocab_tokens = vocab_bits / log2(vocab)
    results = {
        "log2_meanfield": Result(
            name="T2 (mean-field bound, log2)",
            expr=meanfield,
            source=_T2_SOURCE,
            assumptions=_T2_ASSUMPTIONS,
            meaning="log2 Bw = Neps*log2(e + e*(2r/eps)^q) bits about the context, for any context length n",
            evaluator=log2_meanfield, arguments=("d", "r", "epsilon", "q"),
        ),
        "log2_log2_meanfield": Result(
            name="T2 (mean-field bound, log2 log2)",
            expr=log2_meanfield_expr,
            source=_T2_SOURCE,
            assumptions=_T2_ASSUMPTIONS,
            meaning="log2 log2 Bw = d*log2(1 + 2r/eps) + log2 log2(e + e*(2r/eps)^q)",
            evaluator=log2_log2_meanfield, arguments=("d", "r", "epsilon", "q"),
            columns=(Column("log2_log2_meanfield", "log2 log2 Bw", r"$\log_2\log_2 B_w$", 130),),
        ),
        "log2_meanfield_vocab": Result(
            name="T2 with a finite vocabulary (log2)",
            expr=vocab_bits,
            source=_VOCAB_SOURCE,
            assumptions=_VOCAB_ASSUMPTIONS,
            meaning="log2 Bw_V = log2 e + (|V|-1)*log2(e + (e/4)(2r/eps)^q) bits about the context, for any length n",
            evaluator=log2_meanfield_vocab, arguments=("V", "r", "epsilon", "q"),
            # in the table at q = 1 and 2, each the minimum with log2_meanfield at eps/2 (see the assumptions)
            columns=(Column("log2_meanfield_vocab_q1", "log2 Bw_V q=1", r"$\log_2 B_{w,V}^{q=1}$", 140),
                     Column("log2_meanfield_vocab_q2", "log2 Bw_V q=2", r"$\log_2 B_{w,V}^{q=2}$", 160)),
        ),
        "tokens_meanfield_vocab": Result(
            name="T2 with a finite vocabulary (tokens' worth)",
            expr=vocab_tokens,
            source=_VOCAB_SOURCE,
            assumptions=_VOCAB_ASSUMPTIONS,
            meaning="log2 Bw_V / log2|V|: the bound in tokens of V, comparable with a context window",
            evaluator=tokens_meanfield_vocab, arguments=("V", "r", "epsilon", "q"),
            columns=(Column("tokens_meanfield_vocab_q1", "Bw_V q=1 (tok)", r"$B_{w,V}^{q=1}$ (tok)", 150),
                     Column("tokens_meanfield_vocab_q2", "Bw_V q=2 (tok)", r"$B_{w,V}^{q=2}$ (tok)", 170)),
        ),
    }
    names = {"N_EPS": n_eps, "LOG2_MEANFIELD": meanfield, "LOG2_LOG2_MEANFIELD": log2_meanfield_expr,
             "LOG2_MEANFIELD_VOCAB": vocab_bits, "TOKENS_MEANFIELD_VOCAB": vocab_tokens,
             "T2_LOG2": results["log2_meanfield"], "T2_LOG2_LOG2": results["log2_log2_meanfield"],
             "T2_VOCAB": results["log2_meanfield_vocab"], "T2_VOCAB_TOKENS": results["tokens_meanfield_vocab"]}
    return results, names


# RESULTS, the `Result`s and the sympy expressions, built on first use
__getattr__ = lazy_results(__name__, _build_results, (
    "N_EPS", "LOG2_MEANFIELD", "LOG2_LOG2_MEANFIELD", "LOG2_MEANFIELD_VOCAB", "TOKENS_MEANFIELD_VOCAB",
    "T2_LOG2", "T2_LOG2_LOG2", "T2_VOCAB", "T2_VOCAB_TOKENS"
))


def latex(name: str = "log2_log2_meanfield") -> str:
    """LaTeX of the T2 bound ('log2_meanfield' or 'log2_log2_meanfield').

    >>> "epsilon" in latex()
    True
    """
    return __getattr__("RESULTS")[name].latex()
