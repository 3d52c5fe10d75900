"""Distinguishable contexts against context length (T2, exact counts on a tiny model without positions).

Model: a seeded float64 transformer with no positional encoding, non-causal attention, width 4, 2 layers,
1 head, vocabulary = the alphabet A of size 3, re-initialised by :func:`verify.model.scaled_init`
(gain 1). Its **output** for a context s is the mean over positions of the final hidden states (after the
final LayerNorm), a vector in R^4; at precision eps it is rounded to the eps grid, ``floor(y / eps)``, and
two contexts are *distinguishable* iff their rounded outputs differ.

By the mean-field lemma (:mod:`verify.experiments.meanfield`) the output depends on s only through its empirical
measure, so at most C(n+A-1, A-1) (the number of multisets) of the A^n contexts of length n can be told
apart, and over all lengths at most the number of distinct empirical measures. Measured:

1. **exhaustive** (every one of the A^n contexts, n = 1..7 quick, 1..9 full) at a fine eps = 1e-9: the
   number of distinct outputs, checked <= C(n+A-1, A-1) exactly (Python integers) and compared with A^n;
   and the same counts from one sorted representative per multiset must agree;
2. **saturation** at a coarse eps = ``EPS`` (0.4): per length n = 1..n_max (48 quick, 96 full), the model
   is run on every multiset in three orders (:func:`orders`: sorted, reversed, a seeded random permutation
   of each row), and the number of distinct rounded outputs over all three orders together is counted, per
   length and cumulatively over all lengths <= n. A model without positional information gives the three
   orders one output, so the counts are those of the multisets; a positional leak raises them. The
   **orders bound**: at every length n <= n_max the outputs of the three orders, packed at eps_fine
   (pairwise more than 1e-9 apart, :func:`packing_size`), number at most C(n+A-1, A-1). At finite precision
   the cumulative count levels off: from n_max/2 to n_max the number of distinct empirical measures grows
   about 7.3-fold (quick), the cumulative count of outputs far less: the check is that it grows at most like
   the square root of the measures (``SATURATION_EXPONENT``: exponent log(count growth)/log(measure growth)
   <= 0.5; 1 if every measure were told apart). Over model seeds 0..19 the count grew by 1.0 to 1.33
   (exponent <= 0.15). The **saturation length** (the smallest n after which the cumulative count never
   grows again up to n_max) is reported as data: it depends on the model seed (17 at seed 0, 44 at seed 2
   in the quick profile), so it is no check;
3. **T2** (``bounds.log2_log2_meanfield``, d = 4, r = the largest |coordinate| of the token embeddings,
   q = 1), compared as docs/theory.md states it: the contexts counted are a greedy packing at eps_out =
   ``EPS`` of the outputs of all lengths <= n_max in the three orders (pairwise more than eps_out apart in
   l_2), and the bound is evaluated at the input precision eps_in = eps_out/(2L), with L the Lipschitz
   constant of the output from (measures, W_1 with the l_inf ground metric). LayerNorm has no analytic
   constant here, so L is the largest ratio over single moves (one of n tokens changed from u to v:
   W_1 = |e_u - e_v|_inf/n exactly, :func:`single_move_lipschitz`), a lower estimate; the bound grows with
   L, so a pass at this L is a pass at the true L. Astronomically loose: flagged weak;
4. the **causal counterpoint**: the same model with a causal mask (still no positions) tells apart more
   contexts of length n than there are multisets: the mask leaks order, so T2's premise needs non-causal
   attention (or a single causal layer).

Checks: ``contexts_multiset_bound``, ``contexts_orders_bound``, ``contexts_cumulative_below_measures`` and
``contexts_vs_t2`` are ``bound`` checks of the mean-field lemma's consequence (``log2_meanfield``; they fail
only if the lemma or the code is wrong: a positional leak turns the first two red);
``contexts_representatives_agree`` is a ``premise`` (the sorted representatives give the exhaustive
counts); ``contexts_causal_leaks_order`` and ``contexts_saturation`` are phenomena. "Distinct outputs <= A^n"
holds by construction and is data. All exact.

Figure data (``data/contexts.json``): ``alphabet``, ``eps_fine``, ``eps``, ``exhaustive`` (dict: ``n``,
``count``, ``count_from_multisets``, ``multisets``, ``contexts`` = A^n as strings, ``causal_count``),
``saturation`` (dict: ``n``, ``per_length``, ``cumulative``, ``multisets``, ``distinct_measures``,
``saturation_length``, ``orders``, ``fine_count``, ``eps_fine``), ``t2`` (dict: ``log2_log2_bound``,
``log2_bound_bits`` as a string, ``radius``, ``log2_count``, ``log2_log2_count``, ``eps_out``, ``eps_in``,
``lipschitz_lower``, ``packing_count``), ``more_eps`` (dict eps -> cumulative counts, for the figure's other
curves).

Example (A = 2, lengths 1..3: the counts never exceed the multisets 2, 3, 4):
    >>> model = context_model(alphabet=2, seed=0)
    >>> [len(distinct_outputs(all_contexts(2, n), model, 1e-9)) for n in (1, 2, 3)]
    [2, 3, 4]
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import torch

from bounds import DEFAULT_DPS, log2_log2_meanfield
from verify.model import ModelConfig, Transformer, scaled_init
from verify.packing import cell_representatives, orders, scan_packing
from verify.registry import Experiment
from verify.report import Check, compare, write_data

ALPHABET, WIDTH, EPS_FINE, EPS = 3, 4, 1e-9, 0.4
MORE_EPS = (0.1, 0.2)
ORDERS = 3  # every multiset is run sorted, reversed and in a seeded random order
LIPSCHITZ_NOTE = ("L is the largest single-move ratio |F(mu) - F(mu')|/W_1 (a lower estimate: LayerNorm has no "
                  "analytic bound here); the bound grows with L, so a pass at this L is a pass at the true L")
SATURATION_EXPONENT = 0.5  # log(count growth)/log(measure growth) from n_max/2 to n_max; 1 = no levelling off
THEOREM = "log2_meanfield"


@dataclass(frozen=True)
class Settings:
    n_exhaustive: int   # every context of length 1..n_exhaustive
    n_max: int          # saturation: lengths 1..n_max (one representative per multiset)


EXPERIMENT = Experiment(
    name="contexts", order=20, results=(THEOREM,), profiles=("quick", "full"),
    settings={"quick": Settings(n_exhaustive=7, n_max=48), "full": Settings(n_exhaustive=9, n_max=96)},
    seconds={"quick": 5, "full": 74},
    statistical_checks={"quick": 0, "full": 0})


def context_model(alphabet: int = ALPHABET, seed: int = 0, causal: bool = False) -> Transformer:
    """The tiny float64 NoPE model whose distinguishable contexts are counted (see module doc).

    Example:
        >>> context_model(3).cfg.positional
        'none'
    """
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=alphabet, d_model=WIDTH, n_layer=2, n_head=1, block_size=8,
                      positional="none", causal=causal)
    return scaled_init(Transformer(cfg), gain=1.0, seed=seed).double().freeze()


def all_contexts(alphabet: int, n: int) -> torch.Tensor:
    """All alphabet^n token sequences of length n, shape (alphabet^n, n).

    Example:
        >>> all_contexts(2, 2).tolist()
        [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    idx = torch.arange(alphabet ** n)
    return (idx[:, None] // (alphabet ** torch.arange(n))[None, :]) % alphabet


def multiset_contexts(alphabet: int, n: int) -> torch.Tensor:
    """One sorted representative per multiset of size n, shape (C(n+A-1, A-1), n).

    Example:
        >>> multiset_contexts(2, 2).tolist()
        [[0, 0], [0, 1], [1, 1]]
    """
    return torch.tensor(list(itertools.combinations_with_replacement(range(alphabet), n)), dtype=torch.long)


@torch.no_grad()
def outputs(contexts: torch.Tensor, model: Transformer, chunk: int = 1 << 14) -> torch.Tensor:
    """The model's output for each context: mean over positions of the final hidden states.

    Example:
        >>> outputs(all_contexts(3, 2), context_model(3)).shape
        torch.Size([9, 4])
    """
    return torch.cat([model.hidden(contexts[i:i + chunk]).mean(1) for i in range(0, len(contexts), chunk)])


def rounded_keys(y: torch.Tensor, eps: float) -> set[tuple[int, ...]]:
    """The set of eps-grid cells ``floor(y / eps)`` hit by the rows of y.

    Example:
        >>> sorted(rounded_keys(torch.tensor([[0.05, 1.0], [0.09, 1.0]], dtype=torch.float64), 0.1))
        [(0, 10)]
    """
    return set(map(tuple, torch.floor(y / eps).long().tolist()))


def distinct_outputs(contexts: torch.Tensor, model: Transformer, eps: float) -> set[tuple[int, ...]]:
    """The distinct rounded outputs of ``model`` over ``contexts``.

    Example:
        >>> len(distinct_outputs(all_contexts(3, 2), context_model(3), 1e-9))
        6
    """
    return rounded_keys(outputs(contexts, model), eps)


def multisets(alphabet: int, n: int) -> int:
    """C(n + A - 1, A - 1), the number of multisets of size n over A letters.

    Example:
        >>> multisets(3, 4)
        15
    """
    return math.comb(n + alphabet - 1, alphabet - 1)


def distinct_measures(alphabet: int, n_max: int) -> list[int]:
    """Cumulative number of distinct empirical measures of contexts of length <= n, for n = 1..n_max (exact).

    Example:
        >>> distinct_measures(3, 4)
        [3, 6, 13, 22]
    """
    seen, out = set(), []
    for n in range(1, n_max + 1):
        for counts in itertools.product(range(n + 1), repeat=alphabet - 1):
            if sum(counts) <= n:
                seen.add(tuple(Fraction(c, n) for c in counts))
        out.append(len(seen))
    return out


def order_outputs(model: Transformer, alphabet: int, n: int, seed: int) -> torch.Tensor:
    """The model's outputs on every multiset of size n in three orders (sorted, reversed, a seeded random
    permutation of each row: :func:`orders`), shape (3 C(n+A-1, A-1), d).

    Example:
        >>> order_outputs(context_model(3), 3, 2, seed=0).shape
        torch.Size([18, 4])
    """
    return outputs(orders(multiset_contexts(alphabet, n), seed), model)


def single_move_lipschitz(y: torch.Tensor, alphabet: int, n: int, emb: torch.Tensor) -> float:
    """Largest |F(mu) - F(mu')| / W_1(mu, mu') over the multisets of size n one token apart, with ``y`` the
    outputs of :func:`multiset_contexts` in its order and the l_inf ground metric on the embeddings ``emb``:
    moving one of n tokens from u to v costs exactly W_1 = |e_u - e_v|_inf / n. A lower estimate of the
    Lipschitz constant of F from (measures, W_1).

    Example:
        >>> m = context_model(3)
        >>> single_move_lipschitz(outputs(multiset_contexts(3, 4), m), 3, 4, m.tok_emb.weight) > 0
        True
    """
    rows = multiset_contexts(alphabet, n)
    counts = torch.nn.functional.one_hot(rows, alphabet).sum(1)
    index = {tuple(c): i for i, c in enumerate(counts.tolist())}
    best = 0.0
    for u, v in itertools.permutations(range(alphabet), 2):
        cost = float((emb[u] - emb[v]).abs().max()) / n
        moved = counts.clone()
        moved[:, u] -= 1
        moved[:, v] += 1
        pairs = [(i, index[tuple(c)]) for i, c in enumerate(moved.tolist()) if c[u] >= 0]
        if pairs and cost > 0:
            a, b = torch.tensor(pairs).T
            best = max(best, float((y[a] - y[b]).norm(dim=1).max()) / cost)
    return best


def saturation_length(cumulative: list[int]) -> int:
    """Smallest n (1-based) after which the cumulative count never grows again.

    Example:
        >>> saturation_length([2, 5, 7, 7, 7])
        3
    """
    return cumulative.index(cumulative[-1]) + 1


def run(ctx) -> list[Check]:
    """Exhaustive counts, the saturation length and the T2 comparison (see module doc)."""
    A = ALPHABET
    s = ctx.settings
    n_exh, n_max = s.n_exhaustive, s.n_max
    model = context_model(A, seed=ctx.seed)
    causal = context_model(A, seed=ctx.seed, causal=True)
    checks = []

    # 1. exhaustive, fine precision
    ns = list(range(1, n_exh + 1))
    count = [len(distinct_outputs(all_contexts(A, n), model, EPS_FINE)) for n in ns]
    from_ms = [len(distinct_outputs(multiset_contexts(A, n), model, EPS_FINE)) for n in ns]
    causal_count = [len(distinct_outputs(all_contexts(A, n), causal, EPS_FINE)) for n in ns]
    ms = [multisets(A, n) for n in ns]
    worst = max(Fraction(c, m) for c, m in zip(count, ms))
    exh = dict(n=ns, count=count, count_from_multisets=from_ms, multisets=ms, contexts=[str(A ** n) for n in ns],
               causal_count=causal_count)
    ctx.log(f"contexts: exhaustive counts {count} multisets {ms} causal {causal_count}")
    checks.append(compare("contexts_multiset_bound",
                          f"distinct outputs of all A^n contexts <= C(n+A-1, A-1) for n = 1..{n_exh} "
                          f"(max ratio count/multisets; eps {EPS_FINE})", 1, float(worst), unit="count/multisets",
                          kind="bound", theorem=THEOREM,
                          params=dict(alphabet=A, counts=count, multisets=ms, max_ratio=str(worst),
                                      contexts=[A ** n for n in ns])))
    checks.append(compare("contexts_representatives_agree",
                          "one representative per multiset gives the same count as all contexts, at every length",
                          len(ns), sum(a == b for a, b in zip(count, from_ms)), direction="lower",
                          unit="lengths", kind="premise", theorem=THEOREM,
                          params=dict(counts=count, from_multisets=from_ms)))
    checks.append(compare("contexts_causal_leaks_order",
                          f"counterpoint: a causal NoPE model tells apart more than C(n+A-1, A-1) contexts "
                          f"at n = {n_exh}", ms[-1] + 1, causal_count[-1], direction="lower", unit="contexts",
                          kind="phenomenon", theorem=THEOREM, params=dict(causal_counts=causal_count, multisets=ms)))

    # 2. saturation at coarse precision: every multiset in three orders
    lengths = list(range(1, n_max + 1))
    ys = [order_outputs(model, A, n, ctx.seed + n) for n in lengths]
    fine = [scan_packing(y, EPS_FINE) for y in ys]
    ms_all = [multisets(A, n) for n in lengths]
    worst_fine = max(Fraction(c, m) for c, m in zip(fine, ms_all))
    checks.append(compare("contexts_orders_bound",
                          f"contexts of length n run in three orders (sorted, reversed, permuted) give at most "
                          f"C(n+A-1, A-1) outputs more than {EPS_FINE} apart, for n = 1..{n_max} (max ratio "
                          f"count/multisets)", 1, float(worst_fine), unit="count/multisets", kind="bound",
                          theorem=THEOREM, params=dict(eps=EPS_FINE, orders=ORDERS, max_ratio=str(worst_fine),
                                                       count_at_n_max=fine[-1], multisets_at_n_max=ms_all[-1])))
    curves = {}
    for eps in (EPS,) + MORE_EPS:
        seen, per, cum = set(), [], []
        for y in ys:
            keys = rounded_keys(y, eps)
            per.append(len(keys))
            seen |= keys
            cum.append(len(seen))
        curves[eps] = (per, cum)
    per, cum = curves[EPS]
    n_sat = saturation_length(cum)
    measures = distinct_measures(A, n_max)
    ctx.log(f"contexts: eps {EPS}: cumulative {cum[-1]} distinct outputs, saturation length {n_sat} (n_max {n_max})")
    sat = dict(n=lengths, per_length=per, cumulative=cum, multisets=ms_all, distinct_measures=measures,
               saturation_length=n_sat, orders=ORDERS, fine_count=fine, eps_fine=EPS_FINE)
    half = n_max // 2
    out_growth, measure_growth = cum[-1] / cum[half - 1], measures[-1] / measures[half - 1]
    exponent = math.log(out_growth) / math.log(measure_growth)
    checks.append(compare("contexts_saturation",
                          f"at eps {EPS} the cumulative count of distinguishable contexts levels off: from n = {half} "
                          f"to {n_max} it grows at most like the square root of the number of distinct measures "
                          f"(exponent log(count growth)/log(measure growth) <= {SATURATION_EXPONENT})",
                          SATURATION_EXPONENT, exponent, unit="exponent", kind="phenomenon", theorem=THEOREM,
                          params=dict(eps=EPS, saturation_length=n_sat, count_at_half=cum[half - 1],
                                      saturated_count=cum[-1], count_growth=out_growth, measures_growth=measure_growth,
                                      n_max=n_max, distinct_measures_at_n_max=measures[-1],
                                      contexts_at_n_max=f"3^{n_max}")))
    checks.append(compare("contexts_cumulative_below_measures",
                          f"cumulative distinct outputs (lengths <= {n_max}) <= distinct empirical measures",
                          measures[-1], cum[-1], unit="contexts", kind="bound", theorem=THEOREM,
                          params=dict(cumulative=cum[-1], distinct_measures=measures[-1])))

    # 3. T2: a packing at eps_out = EPS, compared at the input precision eps_out/(2L)
    emb = model.tok_emb.weight.detach()
    radius = float(emb.abs().max())
    lip = max(single_move_lipschitz(y[:len(y) // ORDERS], A, n, emb) for n, y in zip(lengths, ys))
    packing = scan_packing(torch.cat([cell_representatives(y, EPS) for y in ys]), EPS)
    with mpmath.workdps(DEFAULT_DPS):
        eps_in = mpmath.mpf(EPS) / (2 * mpmath.mpf(lip))
        loglog = log2_log2_meanfield(WIDTH, mpmath.mpf(radius), eps_in, 1)
        log2_bound = mpmath.power(2, loglog)
    log2_count = math.log2(packing)
    t2 = dict(log2_log2_bound=float(loglog), log2_bound_bits=mpmath.nstr(log2_bound, 12), radius=radius,
              log2_count=log2_count, log2_log2_count=math.log2(log2_count) if log2_count > 0 else None,
              eps_out=EPS, eps_in=float(eps_in), lipschitz_lower=lip, packing_count=packing)
    checks.append(compare("contexts_vs_t2",
                          f"log2(contexts of lengths <= {n_max}, three orders each, pairwise more than eps_out {EPS} "
                          f"apart) <= T2's log2 Bw at eps_in = eps_out/(2 L), L the empirical W_1 estimate",
                          log2_bound, log2_count, unit="bits", kind="bound", theorem=THEOREM,
                          params=dict(eps=EPS, d=WIDTH, q=1, ground_metric="l_inf", lipschitz=LIPSCHITZ_NOTE, **t2)))
    write_data(ctx.out, "contexts", dict(alphabet=A, eps_fine=EPS_FINE, eps=EPS, exhaustive=exh, saturation=sat,
                                         t2=t2, more_eps={str(e): curves[e][1] for e in MORE_EPS}))
    return checks

