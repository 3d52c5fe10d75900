"""Experiment "prefix_tuning": prefix tuning's count (bounds/prefix.py) checked on a small frozen model.

A frozen random :class:`verify.model.Transformer` (``scaled_init``, so its greedy output depends on its
input) gets a prefix-tuning adapter: per layer, m key rows and m value rows of width d_kv = d (every head
has its key/value head), read by every position's attention (``kv_prefix`` of the model). The prefix values
lie on a Q-level grid in [-r, r] (``verify.engine.quantize``). After one fixed start token, the model
decodes n tokens greedily. Every one of the Q^(2*L*m*d_kv) grid prefixes is run (exhaustively: no
optimizer can miss one), giving the exact set of accessible targets; ``trials`` targets uniform on A^n
are then drawn and counted as accessible or not. Checks per n-sweep:

- ``prefix_count`` (``bound``, theorem ``prefix_grid``, statistical): at every measured n,
  ``n*log2|A| + log2 f_lower <= log2 Npr_prefix = 2*L*m*d_kv*log2 Q`` (f_lower one-sided Clopper-Pearson
  at the check's level, split over the measured n; tightest n and room reported);
- ``prefix_grid_levels`` (``premise``, theorem ``prefix_grid``): every coordinate of the enumerated
  prefixes is one of the Q levels ``linspace(-r, r, Q)`` (:func:`verify.checks.grid_deviation`: the grid
  the count assumes, built without the quantizer that made the prefixes);
- ``prefix_is_read`` (``instrument``): the prefixes reach more than one output at the shortest n (the
  frozen model reads them; otherwise the bound check would pass vacuously).

Figure data ``DIR/data/prefix_tuning.json``: settings, ``log2_npr``, ``distinct_outputs`` per n, points.

Example (the grid of 2 levels in [-1, 1] over 2 values):
    >>> grid_prefixes(2, 1.0, 2).tolist()
    [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]]
"""
from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass

import torch

from verify.checks import count_check, grid_deviation, grid_premise
from verify.registry import Experiment
from verify.report import Check, compare, write_data
from verify.rng import derive_seed

THEOREM = "prefix_grid"


@dataclass(frozen=True)
class Settings:
    vocab: int          # |V| = |A|: targets are uniform over the whole vocabulary
    d_model: int
    n_layer: int
    levels: int         # Q
    radius: float       # r: the grid spans [-r, r]
    m: int              # virtual tokens
    lengths: tuple      # target lengths n
    trials: int         # random targets per n
    gain: float         # scaled_init gain
    model_seed: int


QUICK = Settings(vocab=4, d_model=4, n_layer=1, levels=2, radius=2.0, m=1, lengths=(3, 4, 5), trials=1000,
                 gain=3.0, model_seed=5)
FULL = Settings(vocab=4, d_model=4, n_layer=1, levels=3, radius=2.0, m=1, lengths=(4, 5, 6, 7), trials=2000,
                gain=3.0, model_seed=5)
EXPERIMENT = Experiment(name="prefix_tuning", order=35, results=(THEOREM,), profiles=("quick", "full"),
                        settings={"quick": QUICK, "full": FULL}, seconds={"quick": 0.8, "full": 1},
                        statistical_checks={"quick": 1, "full": 1})


def grid_prefixes(levels: int, radius: float, values: int) -> torch.Tensor:
    """Every point of the Q-level grid of [-r, r]^values, (Q^values, values), levels from verify.engine.quantize."""
    from verify.engine import quantize

    axis = quantize(torch.linspace(-radius, radius, levels), levels=levels, radius=radius)
    return torch.tensor(list(itertools.product(axis.tolist(), repeat=values)))


def frozen_model(s: Settings):
    """The frozen random model of the experiment (no positions: the prefix is the only thing that varies)."""
    from verify.model import ModelConfig, Transformer, scaled_init

    cfg = ModelConfig(vocab_size=s.vocab, d_model=s.d_model, n_layer=s.n_layer, n_head=1, positional="learned",
                      block_size=64)
    return scaled_init(Transformer(cfg), gain=s.gain, seed=s.model_seed).freeze()


@torch.no_grad()
def accessible_outputs(model, prefixes: torch.Tensor, s: Settings, n: int, batch: int = 4096) -> set:
    """Greedy outputs of length n after start token 0 for every prefix (rows: 2*L*m*d values each)."""
    out = set()
    L, m, d = s.n_layer, s.m, s.d_model
    for start in range(0, len(prefixes), batch):
        p = prefixes[start:start + batch].view(-1, L, 2, m, d)
        kv = [(p[:, layer, 0], p[:, layer, 1]) for layer in range(L)]
        tokens = torch.zeros(len(p), 1, dtype=torch.long)
        out.update(map(tuple, model.generate_greedy(None, n, tokens=tokens, kv_prefix=kv).tolist()))
    return out


def run(ctx) -> list[Check]:
    """Run the prefix-tuning count for ``ctx.profile``; returns its checks (module docstring)."""
    import mpmath

    from bounds import DEFAULT_DPS, log2_prefixes_grid

    s = ctx.settings
    t0 = time.time()
    model = frozen_model(s)
    values = 2 * s.n_layer * s.m * s.d_model
    prefixes = grid_prefixes(s.levels, s.radius, values)
    log2_npr = log2_prefixes_grid(s.n_layer, s.m, s.d_model, s.levels)
    g = torch.Generator().manual_seed(derive_seed(ctx.seed, "prefix_tuning"))
    points, distinct = [], {}
    for n in s.lengths:
        reachable = accessible_outputs(model, prefixes, s, n)
        distinct[n] = len(reachable)
        targets = torch.randint(0, s.vocab, (s.trials, n), generator=g).tolist()
        hits = sum(tuple(t) in reachable for t in targets)
        points.append({"n": n, "successes": hits, "trials": s.trials})
        if ctx.log:
            ctx.log(f"prefix_tuning: n = {n}: {len(reachable)} distinct outputs of {len(prefixes)} prefixes; "
                    f"{hits}/{s.trials} random targets accessible")
    used = [p for p in points if p["successes"] > 0]
    level = 1 - (1 - ctx.confidence) / max(1, len(used))           # split over the measured n
    params = {**asdict(s), "values_per_prefix": values, "prefixes": len(prefixes), "confidence_per_point": level,
              "limited_by": "the model: the enumerated prefixes' greedy outputs collide (fewer distinct outputs than "
                            "prefixes); exact enumeration, no optimizer in the way"}
    with mpmath.workdps(DEFAULT_DPS):                               # the bound's digits
        log2_vocab = mpmath.log(s.vocab, 2)
    checks = [count_check("prefix_count", "n*log2|A| + log2 f_lower <= 2*L*m*d_kv*log2 Q (prefix tuning, grid)",
                          points, log2_npr, log2_vocab, params, confidence=level, kind="bound",
                          theorem=THEOREM)]
    checks.append(grid_premise("prefix_grid_levels", [grid_deviation(prefixes, s.levels, s.radius)], theorem=THEOREM,
                               what="prefix"))
    shortest = min(s.lengths)
    checks.append(compare("prefix_is_read", "the grid prefixes reach more than one output (the model reads them)",
                          bound=2, empirical=distinct[shortest], direction="lower", unit="distinct outputs",
                          params={"n": shortest}, kind="instrument"))
    write_data(ctx.out, "prefix_tuning", {"settings": asdict(s), "log2_npr": float(log2_npr),
                                          "distinct_outputs": distinct, "points": points,
                                          "seconds": round(time.time() - t0, 2)})
    return checks
