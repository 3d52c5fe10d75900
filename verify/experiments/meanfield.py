"""The mean-field lemma (T2's premise), checked in float64, and how positions and causal masks break it.

Let F map a sequence X = (x_1, ..., x_n) of vectors in R^d to a sequence of outputs (the logits of a
:class:`verify.model.Transformer` fed X as its input embeddings, ``prefix=X``; "a layer" is the same model
with one block, "a model" has three). Write [X, X] for the sequence concatenated with itself and X_pi for a
permutation of the positions. The statements, exactly as checked:

**Non-causal attention, no positional encoding** (every position, any number of layers):

- permutation equivariance: ``F(X_pi) = F(X)_pi``;
- duplication invariance: ``F([X, X])_i = F([X, X])_{n+i} = F(X)_i`` for every i.

Both follow because an attention output at position i is ``sum_j softmax_j(q_i . k_j) v_j``, a function of
x_i and of the empirical measure ``(1/n) sum_j delta_{x_j}`` only (duplicating every key doubles numerator
and denominator alike), and the rest of a block acts position-wise; by induction the same holds for the
whole stack.

**Causal attention, no positional encoding.** Position i attends to x_1..x_i only, so *one* layer's output at
i is a function of x_i and the measure of the prefix x_1..x_i. What holds, and is checked:

- prefix-permutation invariance of one layer: permuting x_1..x_{n-1} (x_n stays last) leaves ``F(X)_n``
  unchanged;
- duplication at the last position for one layer: ``F([X, X])_{2n} = F(X)_n`` (the last query sees every
  key exactly twice).

For a causal stack of two or more layers neither statement holds, nor does any non-trivial relabelling of
positions: layer 2 at position n reads the layer-1 states of positions 1..n-1, each of which saw a
different prefix, so order leaks through the mask (Haviv et al. 2022: causal LMs without positional
encodings still learn positions). That violation is measured and reported (check ``*_causal_model_order_leak``,
a lower bound on the violation): T2's premise is a statement about non-causal stacks or a single causal layer,
and a single causal layer read at the last position is a function of (x_n, mu_X), not of mu_X alone (the
permutation keeps x_n last): a count of what it tells apart carries the factor |V| for the last token.

**Positional encodings** (learned, sinusoidal, rotary) break both non-causal statements; the size of the
violation (max |difference| of logits) is reported, with a check that it is at least ``BREAK_THRESHOLD``.

Kinds: the invariances are **premises** of T2 (``log2_meanfield``), checked as max error against a tolerance
of 1e-12; the order leak and the positional breaks are **phenomena** (the theory explains them, it does not
force a size). All checks are exact (no statistical check).

Inputs: 16 random sequences of 7 vectors ~ N(0, 1) in R^8 (full profile: 64 of 16), models re-initialised by
:func:`verify.model.scaled_init` (gain 1, positions ~ N(0, 1)) so that attention is not near-uniform.

Figure data (``data/meanfield.json``): ``rows`` = list of dicts with keys ``positional, causal, n_layer,
statement, max_abs_error``; plus ``tolerance`` and ``break_threshold``.

Example:
    >>> model = make_model("none", causal=False, n_layer=1)
    >>> X = torch.randn(2, 5, 8, dtype=torch.float64)
    >>> duplication_error(model, X) < 1e-12
    True
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from verify.model import ModelConfig, Transformer, scaled_init
from verify.registry import Experiment
from verify.report import Check, compare, write_data

TOLERANCE = 1e-12
BREAK_THRESHOLD = 0.05  # logits are O(1): a violation of 5% of a logit unit is not rounding
D, N, BATCH = 8, 7, 16
THEOREM = "log2_meanfield"  # T2: these invariances are its mean-field premise


@dataclass(frozen=True)
class Settings:
    batch: int    # random input sequences
    length: int   # vectors per sequence


EXPERIMENT = Experiment(
    name="meanfield", order=10, results=(THEOREM,), profiles=("quick", "full"),
    settings={"quick": Settings(batch=BATCH, length=N), "full": Settings(batch=4 * BATCH, length=2 * N + 2)},
    seconds={"quick": 0.5, "full": 0.3},
    statistical_checks={"quick": 0, "full": 0})


def make_model(positional: str, causal: bool, n_layer: int, seed: int = 0) -> Transformer:
    """A seeded float64 model (width 8, 2 heads) with sharp attention, for the invariance checks.

    Example:
        >>> make_model("rotary", causal=True, n_layer=2).cfg.positional
        'rotary'
    """
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=5, d_model=D, n_layer=n_layer, n_head=2, block_size=64, positional=positional,
                      causal=causal)
    return scaled_init(Transformer(cfg), gain=1.0, seed=seed).double().freeze()


@torch.no_grad()
def _f(model: Transformer, X: torch.Tensor) -> torch.Tensor:
    return model(None, X)


@torch.no_grad()
def permutation_error(model: Transformer, X: torch.Tensor, seed: int = 0) -> float:
    """max |F(X_pi) - F(X)_pi| over all positions, for a random permutation pi of the positions.

    Example:
        >>> permutation_error(make_model("none", False, 2), torch.randn(1, 4, 8, dtype=torch.float64)) < 1e-12
        True
    """
    pi = torch.randperm(X.shape[1], generator=torch.Generator().manual_seed(seed))
    return (_f(model, X[:, pi]) - _f(model, X)[:, pi]).abs().max().item()


@torch.no_grad()
def duplication_error(model: Transformer, X: torch.Tensor) -> float:
    """max |F([X, X])_i - F(X)_i| and |F([X, X])_{n+i} - F(X)_i| over all positions i.

    Example:
        >>> duplication_error(make_model("learned", False, 1), torch.randn(1, 4, 8, dtype=torch.float64)) > 0.05
        True
    """
    n = X.shape[1]
    single, double = _f(model, X), _f(model, torch.cat([X, X], dim=1))
    return max((double[:, :n] - single).abs().max().item(), (double[:, n:] - single).abs().max().item())


@torch.no_grad()
def prefix_permutation_error(model: Transformer, X: torch.Tensor, seed: int = 0) -> float:
    """max |F(X')_n - F(X)_n| where X' permutes x_1..x_{n-1} and keeps x_n last (the causal statement).

    Example:
        >>> prefix_permutation_error(make_model("none", True, 1), torch.randn(1, 5, 8, dtype=torch.float64)) < 1e-12
        True
    """
    n = X.shape[1]
    pi = torch.cat([torch.randperm(n - 1, generator=torch.Generator().manual_seed(seed)), torch.tensor([n - 1])])
    return (_f(model, X[:, pi])[:, -1] - _f(model, X)[:, -1]).abs().max().item()


@torch.no_grad()
def last_duplication_error(model: Transformer, X: torch.Tensor) -> float:
    """max |F([X, X])_{2n} - F(X)_n| (the causal duplication statement, last position only).

    Example:
        >>> last_duplication_error(make_model("none", True, 1), torch.randn(1, 5, 8, dtype=torch.float64)) < 1e-12
        True
    """
    return (_f(model, torch.cat([X, X], dim=1))[:, -1] - _f(model, X)[:, -1]).abs().max().item()


def run(ctx) -> list[Check]:
    """Every invariance statement of the module docstring, as checks with the measured errors."""
    s = ctx.settings
    g = torch.Generator().manual_seed(ctx.seed)
    batch, length = s.batch, s.length
    X = torch.randn(batch, length, D, generator=g, dtype=torch.float64)
    checks, rows = [], []

    def record(positional, causal, n_layer, statement, err):
        rows.append(dict(positional=positional, causal=causal, n_layer=n_layer, statement=statement,
                         max_abs_error=err))
        return dict(positional=positional, causal=causal, n_layer=n_layer, statement=statement, batch=batch,
                    length=length, d=D, max_abs_error=err)

    for n_layer, scope in ((1, "layer"), (3, "model")):
        model = make_model("none", causal=False, n_layer=n_layer, seed=ctx.seed)
        for statement, err in (("permutation", permutation_error(model, X, ctx.seed)),
                               ("duplication", duplication_error(model, X))):
            checks.append(compare(f"meanfield_noncausal_{scope}_{statement}",
                                  f"NoPE non-causal {scope}: {statement} invariance error <= 1e-12 (float64)",
                                  TOLERANCE, err, unit="max abs logit error", kind="premise", theorem=THEOREM,
                                  params=record("none", False, n_layer, statement, err)))
        causal = make_model("none", causal=True, n_layer=n_layer, seed=ctx.seed)
        errs = (("prefix_permutation", prefix_permutation_error(causal, X, ctx.seed)),
                ("last_duplication", last_duplication_error(causal, X)))
        if n_layer == 1:
            for statement, err in errs:
                checks.append(compare(f"meanfield_causal_layer_{statement}",
                                      f"NoPE causal layer: {statement} invariance error at the last position <= 1e-12",
                                      TOLERANCE, err, unit="max abs logit error", kind="premise",
                                      theorem=THEOREM, params=record("none", True, 1, statement, err)))
        else:
            err = min(e for _, e in errs)
            for statement, e in errs:
                record("none", True, n_layer, statement, e)
            checks.append(compare("meanfield_causal_model_order_leak",
                                  f"NoPE causal {n_layer}-layer model: the causal mask leaks order "
                                  f"(last-position violation >= {BREAK_THRESHOLD})",
                                  BREAK_THRESHOLD, err, direction="lower", unit="max abs logit error",
                                  kind="phenomenon", theorem=THEOREM,
                                  params=dict(n_layer=n_layer, **{st: e for st, e in errs})))
    for positional in ("learned", "sinusoidal", "rotary"):
        model = make_model(positional, causal=False, n_layer=1, seed=ctx.seed)
        perm, dup = permutation_error(model, X, ctx.seed), duplication_error(model, X)
        record(positional, False, 1, "permutation", perm)
        record(positional, False, 1, "duplication", dup)
        checks.append(compare(f"meanfield_{positional}_breaks",
                              f"{positional} positions break the lemma: min(permutation, duplication) error "
                              f">= {BREAK_THRESHOLD}", BREAK_THRESHOLD, min(perm, dup), direction="lower",
                              unit="max abs logit error", kind="phenomenon", theorem=THEOREM,
                              params=dict(positional=positional, permutation_error=perm, duplication_error=dup)))
    write_data(ctx.out, "meanfield", dict(rows=rows, tolerance=TOLERANCE, break_threshold=BREAK_THRESHOLD))
    return checks

