"""Prefix tuning and P-tuning (derived here from T1's packing argument): still linear in m, with 2*L*d_kv values per virtual token.

Prefix tuning (Li and Liang 2021; PEFT's PREFIX_TUNING) trains, for every layer l = 1..L, key and value
prefixes K^l, V^l of m rows and d_kv = n_kv*head_dim columns (n_kv the key/value heads: with grouped-query
attention PEFT sizes the prefix by num_key_value_heads, not by the query heads). At inference the frozen
model reads only these 2*L*m*d_kv values, whatever reparameterization (PEFT's prefix_projection MLP)
produced them, and T1's packing argument in that space gives a bound still linear in m, with a slope
2*L*d_kv/d times prompt tuning's at equal radius (16x for llama-3.1-8b: L = 32, d_kv = 8*128, d = 4096).
The radius r_kv is that of the key/value prefixes, not of the token embeddings: measure it from the
model's own keys and values, or read it from a trained adapter. P-tuning (an encoder produces the m prompt
vectors) and PEFT's PROMPT_TUNING (the m x token_dim embedding prompt_embeddings, twice for
encoder-decoder models) are T1 itself. Consequence B, inverted, answers "how many virtual tokens at
least?": m_min = ceil(N*k*log2|A| / slope) with the method's slope, a necessary condition only.

The bounds are written once, as formulas for mpmath and numpy alike (bounds/formula.py): their mpmath
evaluators (50 digits, log space, the rules of bounds/validate.py) are exported by `bounds`, their numpy fast
forms by `bounds.fast` under the same names (the integer m_min ones rounded up: `integer='ceil'`); the sympy
`Result`s (keys 'prefix_ball', 'prefix_float', 'prefix_grid', 'prefix_tokens_per_vector', 'm_min_prompt',
'm_min_prefix') load on first use of `RESULTS`, so importing `bounds` does not import sympy.

>>> import bounds
>>> float(bounds.log2_prefixes_ball(2, 3, 4, 0.5, 1))           # 2*L*m*d_kv*log2(1 + 2r/eps) = 48
48.0
>>> bounds.min_virtual_tokens_prefix(100, 1, 2, 2, 4, 0.5, 1)    # 100 bits at 16 bits per virtual token
7
"""
from __future__ import annotations

import numpy as np  # noqa: F401  (the doctests of the fast forms use it)

from . import precision
from .formula import bound, lazy_results
from .t1 import log2_prompts_ball

# What `bounds` exports from here (and `bounds.fast` too, from the `fast_` functions of the same names).
__all__ = [
    "log2_prefixes_ball", "log2_prefixes_float", "log2_prefixes_grid", "tokens_per_virtual_token_prefix",
    "min_virtual_tokens", "min_virtual_tokens_prompt", "min_virtual_tokens_prefix",
]

SOURCE = "derived here from T1's packing argument ([MLPT] claim 1; [HMDO] Thm 4.5) in the space of key/value prefixes"


# ----------------------------------------------------------------------------------------- the formulas
# Each bound once, for mpmath and numpy alike (bounds/formula.py): `bound` makes the evaluator NAME and its
# vectorized form fast_NAME (exported by `bounds.fast` as NAME) from it. 2*L*m*d_kv is how many values a
# prefix of m virtual tokens stores (keys and values, every layer).
@bound(arguments=(("layers", "integer>=1"), ("m", "integer>=1"), ("d_kv", "integer>=1"), ("radius_kv", "positive"),
                  ("eps", "eps")))
def log2_prefixes_ball(math, layers, m, d_kv, radius_kv, eps):
    """Prefix tuning, ball form: log2 Npr_prefix(m) <= 2*L*m*d_kv*log2(1 + 2*r_kv/eps) bits.

    >>> float(log2_prefixes_ball(1, 1, 1, 0.5, 1))
    2.0
    >>> fast_log2_prefixes_ball(np.array([1, 2]), 1, 1, 0.5, 1.0).tolist()
    [2.0, 4.0]
    """
    return 2 * layers * m * d_kv * math.log1p(2 * radius_kv / eps) / math.ln2


@bound(arguments=(("layers", "integer>=1"), ("m", "integer>=1"), ("d_kv", "integer>=1"), ("radius_kv", "positive"),
                  ("dtype", "any")), fast=False)
def log2_prefixes_float(math, layers, m, d_kv, radius_kv, dtype):
    """Prefix tuning, float form: 2*L*m*d_kv*log2(count of `dtype` values in [-r_kv, r_kv]) (no eps-cubes).

    >>> round(float(log2_prefixes_float(1, 1, 1, 1, "fp16")), 4)   # 2*log2(30721)
    29.8139
    """
    return 2 * layers * m * d_kv * math.log2(precision.count_representable(dtype, radius_kv))   # no numpy form


@bound(arguments=(("layers", "integer>=1"), ("m", "integer>=1"), ("d_kv", "integer>=1"), ("levels", "integer>=2")))
def log2_prefixes_grid(math, layers, m, d_kv, levels):
    """Prefix tuning, exact grid form: a prefix quantized to Q levels per value takes Q^(2*L*m*d_kv) values.

    >>> float(log2_prefixes_grid(2, 1, 3, 4))
    24.0
    >>> float(fast_log2_prefixes_grid(2, 1, 3, 4))
    24.0
    """
    return 2 * layers * m * d_kv * math.log2(levels)


@bound(arguments=(("layers", "integer>=1"), ("d_kv", "integer>=1"), ("vocab", "integer>=2"), ("radius_kv", "positive"),
                  ("eps", "eps")))
def tokens_per_virtual_token_prefix(math, layers, d_kv, vocab, radius_kv, eps):
    """Tokens of V one virtual token of a prefix can pin down: 2*L*d_kv*ln(1 + 2*r_kv/eps)/ln|V|.

    >>> float(tokens_per_virtual_token_prefix(1, 2, 16, 0.5, 1))   # 4 bits / 4 bits per token
    1.0
    >>> float(fast_tokens_per_virtual_token_prefix(1, 2, 16, 0.5, 1.0))
    1.0
    """
    return 2 * layers * d_kv * math.log1p(2 * radius_kv / eps) / math.log(vocab)


# ----------------------------------------------------------------------------------------- the integers
# Rounded up (`bounds.formula.bound`'s `integer=`): at the digits asked for with a tie guard, an exact
# multiple landing on its integer; the fast forms round in float64 (at an exact tie they may be one off).
@bound(arguments=(("bits_needed", "positive"), ("bits_per_virtual_token", "positive")), fast=False,
       integer="ceil", at_least=1)
def min_virtual_tokens(math, bits_needed, bits_per_virtual_token):
    """Consequence B inverted: the smallest m with m*slope >= bits_needed, i.e. ceil(bits/slope) (at least 1).

    A necessary condition for storing `bits_needed` bits (N*k*log2|A| for N labels of k tokens over A, or
    a text's cross-entropy in bits), never a sufficient one.

    >>> min_virtual_tokens(100, 16), min_virtual_tokens(96, 16), min_virtual_tokens(1, 16)
    (7, 6, 1)
    """
    return bits_needed / bits_per_virtual_token


def _dataset_bits(math, examples, k, alphabet):
    return examples * k * math.log2(alphabet)


@bound(arguments=(("examples", "integer>=1"), ("k", "integer>=1"), ("alphabet", "integer>=2"), ("d", "integer>=1"),
                  ("radius", "positive"), ("eps", "eps")), integer="ceil", at_least=1)
def min_virtual_tokens_prompt(math, examples, k, alphabet, d, radius, eps):
    """Prompt tuning: m_min = ceil(N*k*log2|A| / (d*log2(1 + 2r/eps))), a necessary condition.

    >>> min_virtual_tokens_prompt(10, 2, 4, 4, 0.5, 1)    # 40 bits at 4 bits per vector
    10
    >>> float(fast_min_virtual_tokens_prompt(10, 2, 4, 4, 0.5, 1.0))
    10.0
    """
    return _dataset_bits(math, examples, k, alphabet) / log2_prompts_ball.formula(math, d, 1, radius, eps)


@bound(arguments=(("examples", "integer>=1"), ("k", "integer>=1"), ("alphabet", "integer>=2"),
                  ("layers", "integer>=1"), ("d_kv", "integer>=1"), ("radius_kv", "positive"), ("eps", "eps")),
       integer="ceil", at_least=1)
def min_virtual_tokens_prefix(math, examples, k, alphabet, layers, d_kv, radius_kv, eps):
    """Prefix tuning: m_min = ceil(N*k*log2|A| / (2*L*d_kv*log2(1 + 2*r_kv/eps))), a necessary condition.

    >>> min_virtual_tokens_prefix(10, 2, 4, 1, 2, 0.5, 1)  # 40 bits at 4 bits per virtual token
    10
    >>> float(fast_min_virtual_tokens_prefix(10, 2, 4, 1, 2, 0.5, 1.0))
    10.0
    """
    return (_dataset_bits(math, examples, k, alphabet)
            / log2_prefixes_ball.formula(math, layers, 1, d_kv, radius_kv, eps))


FAST = {"log2_prefixes_ball": fast_log2_prefixes_ball, "log2_prefixes_grid": fast_log2_prefixes_grid,
        "tokens_per_virtual_token_prefix": fast_tokens_per_virtual_token_prefix,
        "min_virtual_tokens_prompt": fast_min_virtual_tokens_prompt,
        "min_virtual_tokens_prefix": fast_min_virtual_tokens_prefix}


# ----------------------------------------------------------------------------------------- sympy (lazy)
def _build_results() -> dict:
    import sympy as sp

    from .symbols import Column, Result, alphabet, d, eps, float_count, k, levels, log2, m, r, vocab

    layers = sp.Symbol("L", integer=True, positive=True)       # transformer layers holding a prefix
    d_kv = sp.Symbol("d_kv", integer=True, positive=True)      # n_kv * head_dim: width of one key (or value) row
    r_kv = sp.Symbol("r_kv", positive=True)                    # l_inf radius of the key/value prefixes
    examples = sp.Symbol("N", integer=True, positive=True)     # examples of a dataset to memorize

    ball = 2 * layers * m * d_kv * log2(1 + 2 * r_kv / eps)
    float_form = 2 * layers * m * d_kv * log2(float_count)
    grid = 2 * layers * m * d_kv * log2(levels)
    tokens = 2 * layers * d_kv * sp.log(1 + 2 * r_kv / eps) / sp.log(vocab)
    dataset_bits = examples * k * log2(alphabet)
    m_min_prompt = sp.ceiling(dataset_bits / (d * log2(1 + 2 * r / eps)))
    m_min_prefix = sp.ceiling(dataset_bits / (2 * layers * d_kv * log2(1 + 2 * r_kv / eps)))

    what_is_read = ("the frozen model reads only the 2*L*m*d_kv prefix values (keys and values of every layer), "
                    "whatever reparameterization (PEFT's prefix_projection MLP) produced them")
    gqa = "d_kv = n_kv*head_dim with n_kv the key/value heads (PEFT's token_dim under grouped-query attention)"
    results = {
        "prefix_ball": Result(
            name="Prefix tuning (ball form)", expr=ball, source=SOURCE,
            assumptions=(what_is_read, gqa, "every prefix value lies in [-r_kv, r_kv] (l_inf ball); r_kv is the "
                         "radius of the key/value prefixes, not of the token embeddings (measured from the model's "
                         "own keys and values, or read from a trained adapter)",
                         "output constant on every eps-cube ([HMDO] precision assumption)",
                         "greedy decoding, frozen transformer",
                         "Pk(B_D(0, r_kv), eps) <= (1 + 2 r_kv/eps)^D with D = 2*L*m*d_kv"),
            meaning="log2 Npr_prefix(m) <= 2*L*m*d_kv*log2(1 + 2*r_kv/eps): linear in m, slope 2*L*d_kv/d "
                    "times prompt tuning's at equal radius",
            evaluator=log2_prefixes_ball, arguments=("L", "m", "d_kv", "r_kv", "epsilon"),
            columns=(Column("log2_prefixes", "log2 Npr_prefix (bits)", r"$\log_2 N_{pr}^{prefix}$", 240),)),
        "prefix_float": Result(
            name="Prefix tuning (float form)", expr=float_form,
            source="derived here: T1's float form in the space of key/value prefixes (count of representable "
                   "values of the float format in [-r_kv, r_kv], bounds.precision)",
            assumptions=(what_is_read, gqa, "prefix stored in a float format (fp64/fp32/bf16/fp16), kept in "
                         "[-r_kv, r_kv]", "no eps-cube modelling assumption needed"),
            meaning="log2 Npr_prefix(m) <= 2*L*m*d_kv*log2 N_fmt(r_kv), N_fmt(r_kv) <= 2^p",
            evaluator=log2_prefixes_float, arguments=("L", "m", "d_kv", "r_kv", "dtype")),
        "prefix_grid": Result(
            name="Prefix tuning (exact grid form)", expr=grid,
            source="derived here: a prefix quantized to Q levels per value takes exactly Q^(2*L*m*d_kv) values",
            assumptions=(what_is_read, "prefix quantized to Q >= 2 levels per value"),
            meaning="Npr_prefix(m) = Q^(2*L*m*d_kv) exactly; log2 Npr_prefix(m) = 2*L*m*d_kv*log2 Q",
            evaluator=log2_prefixes_grid, arguments=("L", "m", "d_kv", "Q")),
        "prefix_tokens_per_vector": Result(
            name="Prefix tuning: tokens per virtual token", expr=tokens, source=SOURCE + "; consequence A",
            assumptions=("prefix tuning, ball form", "|V| >= 2"),
            meaning="C_prefix = 2*L*d_kv*ln(1 + 2*r_kv/eps)/ln|V|; every sequence of length n accessible only "
                    "if n <= C_prefix*m",
            evaluator=tokens_per_virtual_token_prefix, arguments=("L", "d_kv", "V", "r_kv", "epsilon"),
            columns=(Column("prefix_tokens_per_vector", "C prefix (tok/vtok)", r"$C_{prefix}$", 250),)),
        "m_min_prompt": Result(
            name="Consequence B inverted: fewest prompt vectors", expr=m_min_prompt,
            source="derived here: consequence B ([MLPT]/[HMDO] via T1) solved for m",
            assumptions=("T1 ball form; P-tuning (an encoder produces the m vectors) and PEFT's PROMPT_TUNING "
                         "(m x token_dim prompt_embeddings, twice for encoder-decoder models) are T1 itself: the "
                         "frozen model sees m vectors of width d", "every labelling of N inputs with k tokens from A is to be stored "
                         "(N*k*log2|A| bits)", "|A| >= 2", "necessary, never sufficient"),
            meaning="m_min = ceil(N*k*log2|A| / (d*log2(1 + 2r/eps))): fewer prompt vectors cannot store the "
                    "dataset",
            evaluator=min_virtual_tokens_prompt, arguments=("N", "k", "A", "d", "r", "epsilon"), direction="lower"),
        "m_min_prefix": Result(
            name="Consequence B inverted: fewest prefix virtual tokens", expr=m_min_prefix,
            source="derived here: consequence B solved for m with prefix tuning's slope",
            assumptions=("prefix tuning, ball form", "every labelling of N inputs with k tokens from A is to be "
                         "stored (N*k*log2|A| bits)", "|A| >= 2", "necessary, never sufficient"),
            meaning="m_min = ceil(N*k*log2|A| / (2*L*d_kv*log2(1 + 2*r_kv/eps))): fewer virtual tokens cannot "
                    "store the dataset",
            evaluator=min_virtual_tokens_prefix, arguments=("N", "k", "A", "L", "d_kv", "r_kv", "epsilon"),
            direction="lower"),
    }
    symbols = {"layers": layers, "d_kv": d_kv, "r_kv": r_kv, "examples": examples, "LOG2_PREFIXES_BALL": ball,
               "LOG2_PREFIXES_FLOAT": float_form, "LOG2_PREFIXES_GRID": grid, "TOKENS_PER_VIRTUAL_TOKEN": tokens,
               "M_MIN_PROMPT": m_min_prompt, "M_MIN_PREFIX": m_min_prefix}
    return results, symbols


# RESULTS and the sympy expressions, built on first use
__getattr__ = lazy_results(__name__, _build_results, ("layers", "d_kv", "r_kv", "examples", "LOG2_PREFIXES_BALL",
                                                      "LOG2_PREFIXES_FLOAT", "LOG2_PREFIXES_GRID",
                                                      "TOKENS_PER_VIRTUAL_TOKEN", "M_MIN_PROMPT", "M_MIN_PREFIX"))
