"""Exhaustive enumeration of tiny models: the true prompt capacity, with no optimizer in the way (T1, exact).

A trained prompt only gives a lower bound on capacity (an optimizer that fails proves nothing). Here the
prompt is restricted to a grid of ``Q`` levels per coordinate in ``[-r, r]`` and *every* one of the
``Q^(d*m)`` prompts is run through a tiny frozen transformer (float64, batched), for m = 1, 2, 3 (for
d = 4, m = 3 only in the full profile). Counted exactly (Python integers):

- **accessible sequences**: distinct greedy continuations of length ``n`` from the prompt alone (the first
  token is predicted at the last prompt position, docs/theory.md "accessible");
- **input -> output maps**: distinct functions ``x -> greedy next token after [P; x]`` over the fixed inputs
  ``x`` = every single token of the vocabulary (so at most ``|V|^|V|`` maps).

A set built from ``Q^(d*m)`` prompts has at most ``Q^(d*m)`` elements, so "count <= Q^(d*m)" is true by
construction: the counts are **data** (``data/enumeration.json``, and the params of the slope check), set
beside ``Q^(d*m)`` (T1's exact grid form), ``|V|^n`` (resp. ``|V|^|V|``) and the packing bound
``(1 + 2r/eps)^(d*m)`` computed as a :class:`fractions.Fraction` at the grid's own spacing ``eps = 2r/(Q-1)``
(where it equals ``Q^(d*m)`` exactly: the grid *is* an optimal eps-packing of the l_inf ball). What can
fail, and is checked: the slope of log2(count) against m stays below T1's slope ``d*log2(Q)`` and is linear
(**phenomena**: T1 bounds each count, not the fitted slope), the batched enumeration agrees with a
one-prompt-at-a-time loop (**instrument**), and the optimizer finds prompts that exist (**instrument**, below).

Diversity. With the default GPT init (std 0.02) the counts do not grow with the prompt length (d = 3,
|V| = 8, Q = 3, seed 0: 5, 5, 5 accessible sequences and 2, 2, 1 maps for m = 1, 2, 3). The models here are
re-initialised by :func:`verify.model.scaled_init`: linear weights ~ N(0, gain^2/fan_in) with gain 2, embeddings and
positions ~ N(0, 1), so that attention is sharp and the greedy outputs vary with the prompt (the same model:
6, 72, 314 sequences and 9, 122, 638 maps). d = 2 is skipped on purpose: LayerNorm maps R^2 to two points,
so every logit vector takes only two values (a degenerate model, not a capacity result).

Optimizer (instrument). Targets drawn uniformly from the enumerated accessible set (m = 2): each has a
grid prompt that makes it, found by the enumeration. The project's prompt-tuning engine
(:func:`verify.engine.tune`: quantised straight-through AdamW on the same grid, box-projected, 300 steps,
6 restarts) tries to find one from a random start. Checked: the one-sided Clopper-Pearson lower bound (at
``ctx.confidence``) on the fraction found is at least ``OPT_MIN_RATE`` (1/20): the optimizer used by the
cramming experiments can find prompts that exist. The same search with learning rate 0 (random starts
only) found 1 of 64 such targets on the d = 3 model and 0 of 64 on the d = 4 one; with lr 0.1 it finds
about 45% and 36%, so the check fails for an optimizer that does not move. (Targets made by random grid
prompts are no test: the greedy outputs concentrate on a few sequences with large preimages, and random
starts alone hit 39 of 64 of them on the d = 3 model.) Every prompt it finds must be a grid point whose
greedy output is the target and is in the enumerated set (else the check fails with the reason). One
statistical check per model. Beside it a **premise**, ``enumeration_{tag}_optimizer_grid``: every
coordinate of every prompt the engine kept (found or not) is one of the Q levels ``linspace(-r, r, Q)``
(:func:`verify.checks.grid_deviation`), the grid the enumeration counts.

Figure data (``data/enumeration.json``): ``models`` = list of dicts with keys ``d, vocab, levels, radius,
n, gain, seed, m`` (list), ``prompts`` (Q^(dm), as strings), ``accessible`` and ``maps`` (exact counts),
``log2_accessible``, ``log2_maps``, ``log2_prompts``, ``log2_vocab_n``, ``log2_vocab_vocab``,
``slope_accessible``, ``slope_maps``, ``t1_slope``, ``optimizer`` (dict: m, sampled, found, fraction_found,
fraction_lower, confidence, min_rate, steps, lr, restarts, random_sampled, random_truly_accessible,
exact_fraction_of_vocab_n).

Example (the grid and the exact count of a 27-prompt model):
    >>> grid_prompts(levels=3, d=1, m=2, radius=1.0).tolist()[:4]
    [[[-1.0], [-1.0]], [[0.0], [-1.0]], [[1.0], [-1.0]], [[-1.0], [0.0]]]
    >>> model = tiny_model(d=3, vocab=4, seed=0)
    >>> len(accessible_set(model, levels=3, m=1, radius=1.0, n=3)) <= 3 ** 3
    True
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import torch

from verify.checks import grid_deviation, grid_premise
from verify.engine import TuneConfig, tune
from verify.fit import fit_linear
from verify.model import ModelConfig, Transformer, scaled_init
from verify.registry import Experiment
from verify.report import Check, compare, failed, write_data
from verify.rng import derive_seed, generator
from verify.stats import clopper_pearson_lower

QUICK_MODELS = [dict(d=3, vocab=8, levels=3, radius=3.0, n=6, seed=0, ms=(1, 2, 3)),
                dict(d=4, vocab=8, levels=3, radius=3.0, n=6, seed=0, ms=(1, 2))]
FULL_MODELS = [QUICK_MODELS[0], dict(QUICK_MODELS[1], ms=(1, 2, 3)),
               dict(d=3, vocab=6, levels=4, radius=3.0, n=8, seed=2, ms=(1, 2, 3))]
GAIN = 2.0
OPT_STEPS, OPT_LR, OPT_RESTARTS = 300, 0.1, 6  # lr 0.1: found the most targets of 3e-2/1e-1/3e-1 (24 targets)
OPT_M = 2
OPT_MIN_RATE = 0.05  # one target in twenty; random starts alone (lr 0) found 1 of 128 (module doc)
THEOREM = "t1_grid"


@dataclass(frozen=True)
class Settings:
    models: tuple          # model specs (dicts: d, vocab, levels, radius, n, seed, ms)
    targets: int           # accessible targets per model for the optimizer check


EXPERIMENT = Experiment(
    name="enumeration", order=30, results=(THEOREM,), profiles=("quick", "full"),
    settings={"quick": Settings(models=tuple(QUICK_MODELS), targets=96),
              "full": Settings(models=tuple(FULL_MODELS), targets=192)},
    seconds={"quick": 16, "full": 97},
    statistical_checks=lambda s: len(s.models))
CHUNK = 1 << 15


def tiny_model(d: int, vocab: int, seed: int, n_layer: int = 2, gain: float = GAIN,
               positional: str = "learned") -> Transformer:
    """A seeded, frozen, float64 tiny transformer (one head per layer) for exhaustive enumeration.

    Example:
        >>> tiny_model(3, 5, seed=0).head.weight.dtype
        torch.float64
    """
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=vocab, d_model=d, n_layer=n_layer, n_head=1, block_size=32,
                      positional=positional, causal=True, mlp_ratio=4)
    return scaled_init(Transformer(cfg), gain=gain, seed=seed).double().freeze()


def grid_levels(levels: int, radius: float) -> torch.Tensor:
    """The ``levels`` equally spaced values in ``[-radius, radius]`` (float64).

    Example:
        >>> grid_levels(3, 2.0).tolist()
        [-2.0, 0.0, 2.0]
    """
    return torch.linspace(-radius, radius, levels, dtype=torch.float64)


def grid_prompts(levels: int, d: int, m: int, radius: float, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """Prompts number ``start..stop-1`` of the grid, in mixed-radix order, shape (count, m, d).

    Prompt number i has coordinate j (flattened m*d index) at level ``(i // Q^j) % Q``.

    Example:
        >>> grid_prompts(2, 1, 1, 1.0).tolist()
        [[[-1.0]], [[1.0]]]
    """
    total = levels ** (d * m)
    stop = total if stop is None else min(stop, total)
    return prompts_at(levels, d, m, radius, torch.arange(start, stop, dtype=torch.long))


def prompts_at(levels: int, d: int, m: int, radius: float, idx: torch.Tensor) -> torch.Tensor:
    """The grid prompts with the given numbers (see :func:`grid_prompts`), shape (len(idx), m, d).

    Example:
        >>> prompts_at(2, 1, 2, 1.0, torch.tensor([2])).tolist()
        [[[-1.0], [1.0]]]
    """
    powers = levels ** torch.arange(d * m, dtype=torch.long)
    digits = (idx[:, None] // powers[None, :]) % levels
    return grid_levels(levels, radius)[digits].view(-1, m, d)


@torch.no_grad()
def _chunks(model, levels, m, radius):
    total = levels ** (model.d * m)
    for start in range(0, total, CHUNK):
        yield grid_prompts(levels, model.d, m, radius, start, start + CHUNK)


@torch.no_grad()
def accessible_set(model: Transformer, levels: int, m: int, radius: float, n: int) -> set[tuple[int, ...]]:
    """The set of distinct greedy continuations of length ``n`` over all ``Q^(d*m)`` grid prompts (batched).

    Example:
        >>> len(accessible_set(tiny_model(3, 4, seed=0), 2, 1, 1.0, 2)) <= 2 ** 3
        True
    """
    out: set[tuple[int, ...]] = set()
    for prompts in _chunks(model, levels, m, radius):
        out.update(map(tuple, model.generate_greedy(prompts, n).tolist()))
    return out


@torch.no_grad()
def map_set(model: Transformer, levels: int, m: int, radius: float) -> set[tuple[int, ...]]:
    """The set of distinct maps ``x -> argmax next token after [P; x]`` (x over the whole vocabulary).

    Example:
        >>> len(map_set(tiny_model(3, 4, seed=0), 2, 1, 1.0)) <= 4 ** 4
        True
    """
    V = model.cfg.vocab_size
    inputs = torch.arange(V)[:, None]
    out: set[tuple[int, ...]] = set()
    for prompts in _chunks(model, levels, m, radius):
        B = prompts.shape[0]
        logits = model(inputs.repeat(B, 1), prompts.repeat_interleave(V, dim=0))[:, -1, :]
        out.update(map(tuple, logits.argmax(-1).view(B, V).tolist()))
    return out


@torch.no_grad()
def accessible_set_loop(model: Transformer, levels: int, m: int, radius: float, n: int) -> set[tuple[int, ...]]:
    """Reference implementation: one prompt at a time, itertools order (for cross-checking the batched one).

    Example:
        >>> model = tiny_model(3, 4, seed=0)
        >>> accessible_set_loop(model, 2, 1, 1.0, 2) == accessible_set(model, 2, 1, 1.0, 2)
        True
    """
    import itertools

    values = grid_levels(levels, radius).tolist()
    out = set()
    for coords in itertools.product(values, repeat=model.d * m):
        prompt = torch.tensor(coords, dtype=torch.float64).view(1, m, model.d)
        out.add(tuple(model.generate_greedy(prompt, n)[0].tolist()))
    return out


def packing_bound(levels: int, radius, d: int, m: int) -> Fraction:
    """(1 + 2r/eps)^(d*m) at the grid spacing eps = 2r/(Q-1), as an exact rational (equals Q^(d*m)).

    Example:
        >>> packing_bound(3, Fraction(1), 2, 1)
        Fraction(9, 1)
    """
    r = Fraction(radius)
    eps = 2 * r / (levels - 1)
    return (1 + 2 * r / eps) ** (d * m)


def enumerate_model(spec: dict) -> dict:
    """All exact counts for one tiny model (see module doc for the keys).

    Example:
        >>> res = enumerate_model(dict(d=3, vocab=4, levels=2, radius=3.0, n=3, seed=0, ms=(1, 2)))
        >>> res["prompts"], all(a <= p for a, p in zip(res["accessible"], res["prompts"]))
        ([8, 64], True)
    """
    ms = spec["ms"]
    model = tiny_model(spec["d"], spec["vocab"], spec["seed"])
    d, V, Q, r, n = spec["d"], spec["vocab"], spec["levels"], spec["radius"], spec["n"]
    res = dict(spec, gain=GAIN, m=list(ms), prompts=[], accessible=[], maps=[], sets={})
    for m in ms:
        acc = accessible_set(model, Q, m, r, n)
        maps = map_set(model, Q, m, r)
        res["prompts"].append(Q ** (d * m))
        res["accessible"].append(len(acc))
        res["maps"].append(len(maps))
        res["sets"][m] = acc
    res["model"] = model
    return res


def _found(model, prompts: torch.Tensor, success: torch.Tensor, targets: torch.Tensor, accessible: set,
           grid: set, n: int) -> tuple[int, int]:
    """(found, bad): successes whose prompt reproduces its target, and successes that are off the grid, miss
    their target or fall outside the enumerated set (a bug in the engine or the enumeration)."""
    found, bad = 0, 0
    for j in success.nonzero().flatten().tolist():
        prompt = prompts[j:j + 1].double()
        out = tuple(model.generate_greedy(prompt, n)[0].tolist())
        ok = out == tuple(targets[j].tolist()) and out in accessible and set(prompt.flatten().tolist()) <= grid
        found += ok
        bad += not ok
    return found, bad


def optimizer_search(res: dict, spec: dict, *, count: int, seed: int, confidence: float) -> tuple[dict, int]:
    """The optimizer instrument (module doc): tune prompts for ``count`` targets drawn uniformly from the
    enumerated accessible set; returns the record and the number of bad successes.

    Example:
        >>> spec = dict(d=3, vocab=4, levels=2, radius=3.0, n=3, seed=0, ms=(1, 2))
        >>> opt, bad = optimizer_search(enumerate_model(spec), spec, count=4, seed=0, confidence=0.9)
        >>> bad, 0 <= opt["fraction_lower"] <= opt["fraction_found"] <= 1
        (0, True)
    """
    model, d, V, Q, n, r = res["model"], spec["d"], spec["vocab"], spec["levels"], spec["n"], spec["radius"]
    accessible, grid = res["sets"][OPT_M], set(grid_levels(Q, r).tolist())
    rng = random.Random(derive_seed(seed, "planted", spec["seed"]))
    targets = torch.tensor(rng.sample(sorted(accessible), min(count, len(accessible))))
    g = generator(seed, "init", spec["seed"])
    init = (torch.rand(len(targets), OPT_M, d, generator=g, dtype=torch.float64) * 2 - 1) * r
    tuned = tune(model, targets, m=OPT_M, init=init, config=TuneConfig(
        steps=OPT_STEPS, lr=OPT_LR, radius=r, levels=Q, restarts=OPT_RESTARTS, seed=seed))
    k = len(targets)
    found, bad = _found(model, tuned.prompts, tuned.success, targets, accessible, grid, n)
    random_targets = [tuple(rng.randrange(V) for _ in range(n)) for _ in range(k)]
    opt = dict(m=OPT_M, sampled=k, found=found, fraction_found=found / k,
               fraction_lower=clopper_pearson_lower(found, k, confidence), confidence=confidence,
               min_rate=OPT_MIN_RATE, steps=OPT_STEPS, lr=OPT_LR, restarts=OPT_RESTARTS, random_sampled=k,
               random_truly_accessible=sum(t in accessible for t in random_targets),
               exact_fraction_of_vocab_n=res["accessible"][OPT_M - 1] / V ** n,
               grid=grid_deviation(tuned.prompts, Q, r))
    return opt, bad


def _log2(x) -> float:
    return float(mpmath.log(mpmath.mpf(x), 2))


def run(ctx) -> list[Check]:
    """All enumeration checks, per model of the profile's settings (quick: d = 3 and d = 4; full: three models).

    ``verify.all`` runs it on ``EXPERIMENT.threads`` (1) torch thread: a second one only spins on tiny models.
    """
    checks, figure = [], []
    s = ctx.settings
    for spec in s.models:
        t0 = time.time()
        tag = f"d{spec['d']}_v{spec['vocab']}_q{spec['levels']}"
        res = enumerate_model(spec)
        d, V, Q, n, r = spec["d"], spec["vocab"], spec["levels"], spec["n"], spec["radius"]
        ctx.log(f"enumeration {tag}: accessible {res['accessible']} maps {res['maps']} ({time.time() - t0:.1f}s)")
        counts = [dict(m=m, prompts=str(grid), packing_bound=str(packing_bound(Q, r, d, m)),
                       packing_equals_grid=bool(packing_bound(Q, r, d, m) == grid), accessible=acc, maps=maps,
                       vocab_n=str(V ** n), vocab_vocab=str(V ** V))
                  for m, grid, acc, maps in zip(res["m"], res["prompts"], res["accessible"], res["maps"])]
        ms = res["m"]
        log_acc = [_log2(c) for c in res["accessible"]]
        log_maps = [_log2(c) for c in res["maps"]]
        (slope_a, r2_a), (slope_m, r2_m) = ((f.slope, f.r2) for f in (fit_linear(ms, log_acc), fit_linear(ms, log_maps)))
        from bounds import log2_prompts_grid
        t1_slope = float(log2_prompts_grid(d, 1, Q))  # T1 grid form per prompt vector
        below = [c < V ** n for c in res["accessible"]]
        checks.append(compare(f"enumeration_{tag}_slope", "slope of log2(accessible) vs m <= T1 slope d*log2(Q)",
                              t1_slope, max(slope_a, 0.0), unit="bits per prompt vector", kind="phenomenon",
                              theorem=THEOREM,
                              params=dict(slope_accessible=slope_a, r2_accessible=r2_a, slope_maps=slope_m,
                                          r2_maps=r2_m, below_vocab_n=below, log2_accessible=log_acc,
                                          counts=counts)))
        if len(ms) >= 3:  # a line through two points always fits: test linearity only with three or more
            checks.append(compare(f"enumeration_{tag}_linearity", "log2(accessible) vs m is linear (R^2 >= 0.9)",
                                  0.9, max(r2_a, 0.0), direction="lower", unit="R^2", kind="phenomenon",
                                  theorem=THEOREM, params=dict(slope=slope_a, log2_accessible=log_acc)))
        # the batched enumeration against a one-prompt-at-a-time loop (m = 1)
        loop = accessible_set_loop(res["model"], Q, 1, r, n)
        union, common_seqs = loop | res["sets"][1], loop & res["sets"][1]
        checks.append(compare(f"enumeration_{tag}_loop_agrees",
                              "batched enumeration == per-prompt loop (m=1): |intersection| >= |union| of the two sets",
                              len(union), len(common_seqs), direction="lower", unit="sequences", kind="instrument",
                              params=dict(loop=len(loop), batched=res["accessible"][0], union=len(union))))
        opt, bad = optimizer_search(res, spec, count=s.targets, seed=ctx.seed, confidence=ctx.confidence)
        claim = (f"STE-AdamW (verify.engine) finds prompts for targets known to be accessible (m={OPT_M}): "
                 f"{100 * ctx.confidence:.6g}% lower confidence bound on the fraction found >= {OPT_MIN_RATE}")
        if bad:
            checks.append(failed(f"enumeration_{tag}_optimizer", claim, f"{bad} optimizer prompts are off the grid, "
                                 "miss their target or are missing from the enumeration", opt, kind="instrument"))
        else:
            checks.append(compare(f"enumeration_{tag}_optimizer", claim, OPT_MIN_RATE, opt["fraction_lower"],
                                  direction="lower", unit="fraction of targets", kind="instrument",
                                  confidence=ctx.confidence, estimate=opt["fraction_found"], params=opt))
        checks.append(grid_premise(f"enumeration_{tag}_optimizer_grid", [opt["grid"]], theorem=THEOREM))
        ctx.log(f"enumeration {tag}: optimizer found {opt['found']}/{opt['sampled']} accessible targets")
        figure.append(dict(d=d, vocab=V, levels=Q, radius=r, n=n, gain=GAIN, seed=spec["seed"], m=ms,
                           prompts=[str(p) for p in res["prompts"]], accessible=res["accessible"], maps=res["maps"],
                           log2_accessible=log_acc, log2_maps=log_maps,
                           log2_prompts=[float(log2_prompts_grid(d, m, Q)) for m in ms], log2_vocab_n=n * math.log2(V),
                           log2_vocab_vocab=V * math.log2(V), slope_accessible=slope_a, slope_maps=slope_m,
                           t1_slope=t1_slope, optimizer=opt))
        ctx.log(f"enumeration {tag}: done in {time.time() - t0:.1f}s")
    write_data(ctx.out, "enumeration", {"models": figure})
    return checks

