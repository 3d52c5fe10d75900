"""Experiment "dataset": N input -> label pairs memorized through ONE shared prompt (docs/theory.md, Consequence B).

Fixed inputs x_1..x_N (distinct random token sequences of length L, the first N of one seeded list) and
random labels y_i of k tokens from the alphabet A: one prompt P must make the frozen model greedily emit
y_i after ``[P; x_i]`` for every i. Several independent labellings (trials) are tuned at once, each its own
group of the engine (one prompt per trial, N sequences per group). A trial succeeds only if all N pairs are
reproduced. N_max(m), the largest N at which every trial succeeded, is found by bracketing and bisection
(:func:`verify.fit.find_n50` with threshold 1).

Consequence B: memorizing every labelling of N inputs needs ``N*k*log2|A| <= log2 Npr(m)``, so
``N_max(m) <= floor(log2 Npr(m)/(k*log2|A|))`` (``bounds.n_max_dataset``). Checks per (model, m):

- ``dataset_count_{model}_m{m}`` (``bound``, statistical): at every measured N,
  ``N*k*log2|A| + log2 f_lower <= log2 Npr(m)`` (f = fraction of random labellings memorized, one-sided
  Clopper-Pearson; the check's level ``ctx.confidence`` is split evenly over the measured N with a success,
  so the check as a whole errs with probability at most ``1 - ctx.confidence``; tightest N reported);
- ``dataset_grid_witness_m{m}`` / ``dataset_box_natural_m{m}`` (``premise``, ``t1_grid`` / ``t1_float``):
  every coordinate of every prompt the engine handed to the model, at every measured N, is one of the Q
  levels ``linspace(-r, r, Q)`` (the witness) or lies in ``[-r, r]`` (the natural model, fp32):
  :func:`verify.checks.grid_deviation`.

Data, not a check: the measured N_max (the largest N at which all ``trials`` random labellings were
memorized) beside Consequence B's N_max. Consequence B speaks of *every* labelling, N_max is measured on
a few random ones, and just past the bound all of them may still fit by chance, so a comparison would fail
for a correct implementation with a probability no budget controls; the count check above is its
statistical form.

Models: the witness with prompts on its Q-level grid (exact count Q^(d*m): the tight regime) and the
natural model with fp32 prompts in [-r, r] (float form).

Figure data ``DIR/data/dataset.json``: ``rows``: [{"model", "m", "k", "input_length", "alphabet_size",
"log2_npr", "npr_form", "n_max_bound", "n_max_measured", "points": [{N, successes, trials}], "grid"}],
``settings``.

Example (inputs are distinct and fixed; labels come from the alphabet):
    >>> x = fixed_inputs(5, 3, alphabet=(0, 1, 2, 3), seed=0)
    >>> x.shape, len({tuple(r) for r in x.tolist()})
    (torch.Size([5, 3]), 5)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from verify.checks import count_check, grid_deviation, grid_premise
from verify.engine import TuneConfig, tune
from verify.fit import find_n50
from verify.registry import Experiment
from verify.report import Check, write_data
from verify.rng import derive_seed

THEOREM = "n_max_dataset"
LIMIT = ("the models: the witness was trained to decode one sequence per prompt, not N input -> label maps "
         "through one prompt, and no model here is built to attain Consequence B")


@dataclass(frozen=True)
class Settings:
    runs: tuple          # (zoo model, m) pairs
    trials: int          # random labellings per N
    k: int               # label tokens per input
    input_length: int
    steps: int
    patience: int
    n_start: int         # first N of the bracketing search


QUICK = Settings(runs=(("witness", 1), ("natural", 1), ("natural", 2)), trials=8, k=1, input_length=3, steps=250,
                 patience=50, n_start=3)
FULL = Settings(runs=(("witness", 1), ("witness", 2), ("natural", 1), ("natural", 2), ("natural", 4)), trials=32,
                k=1, input_length=3, steps=1500, patience=300, n_start=3)
EXPERIMENT = Experiment(
    name="dataset", order=60, results=(THEOREM,), models=("natural", "witness"), profiles=("quick", "full"),
    settings={"quick": QUICK, "full": FULL},
    seconds={"quick": 14, "full": 302},
    statistical_checks=lambda s: len(s.runs))


def fixed_inputs(count: int, length: int, alphabet, seed: int) -> torch.Tensor:
    """``count`` distinct random sequences of ``length`` tokens from ``alphabet``, deterministic in ``seed``.

    Raises ValueError if the alphabet cannot provide that many distinct sequences.
    """
    if len(alphabet) ** length < count:
        raise ValueError(f"only {len(alphabet) ** length} distinct inputs of length {length}, asked for {count}")
    g = torch.Generator().manual_seed(seed)
    a = torch.tensor(alphabet, dtype=torch.long)
    rows, seen = [], set()
    while len(rows) < count:
        row = a[torch.randint(0, len(a), (length,), generator=g)]
        key = tuple(row.tolist())
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return torch.stack(rows)


def memorize(zm, *, m: int, N: int, inputs: torch.Tensor, settings: Settings, seed: int, device: str, levels=None):
    """Tune ``settings.trials`` shared prompts, each on its own random labelling of the first N inputs.

    Returns the :class:`verify.engine.TuneResult` (one group per trial).
    """
    s = settings
    g = torch.Generator().manual_seed(seed)
    a = torch.tensor(zm.alphabet, dtype=torch.long)
    T, k = s.trials, s.k
    labels = a[torch.randint(0, len(a), (T * N, k), generator=g)]
    x = inputs[:N].repeat(T, 1)
    groups = torch.arange(T).repeat_interleave(N)
    config = TuneConfig(steps=s.steps, patience=s.patience, radius=zm.prompt_radius, levels=levels,
                        init_std=zm.embedding_std(), seed=seed)
    return tune(zm.model, labels, m, inputs=x, groups=groups, config=config, device=device)


def run(ctx) -> list[Check]:
    """Run dataset memorization for ``ctx.profile``; returns its checks (see the module docstring)."""
    from bounds import log2_prompts_float, log2_prompts_grid, n_max_dataset
    from verify import zoo

    s = ctx.settings
    t0 = time.time()
    checks, rows, models = [], [], {}
    for name, m in s.runs:
        zm = models.get(name) or models.setdefault(name, zoo.load(name, device=ctx.device))
        levels = zm.levels  # the witness's grid; None (fp32 in the box) for the natural model
        if levels is not None:
            npr, form = log2_prompts_grid(zm.d, m, levels), f"grid Q={levels}"
        else:
            npr, form = log2_prompts_float(zm.d, m, zm.prompt_radius, "fp32"), "float fp32 in [-r, r]"
        k, A = s.k, len(zm.alphabet)
        bound_nmax = n_max_dataset(npr, k, A)
        cap = min(4 * bound_nmax + 4, A ** s.input_length, 4096)
        inputs = fixed_inputs(cap, s.input_length, zm.alphabet, seed=derive_seed(ctx.seed, "inputs", name))
        points = []

        def measure(N, zm=zm, m=m, levels=levels, inputs=inputs, points=points, name=name):
            t0 = time.time()
            result = memorize(zm, m=m, N=N, inputs=inputs, settings=s, seed=derive_seed(ctx.seed, "labels", name, m, N),
                              device=ctx.device, levels=levels)
            points.append({"n": N, "successes": result.n_success, "trials": len(result.success),
                           "mean_accuracy": float(result.accuracy.mean()),
                           "grid": grid_deviation(result.prompts, levels, zm.prompt_radius)})
            ctx.log(f"  dataset {name} m={m} N={N}: {result.n_success}/{len(result.success)} labellings memorized "
                    f"({time.time() - t0:.1f}s)")
            return result.n_success, len(result.success)

        search = find_n50(measure, n_start=min(s.n_start, cap), n_max=cap, threshold=1.0)
        n_max_measured = search.lo or 0
        rows.append({"model": name, "m": m, "k": k, "input_length": s.input_length, "alphabet_size": A,
                     "log2_npr": float(npr), "npr_form": form, "n_max_bound": bound_nmax,
                     "n_max_measured": n_max_measured,
                     "points": [{"N": p["n"], "successes": p["successes"], "trials": p["trials"]} for p in points],
                     "grid": [p["grid"] for p in points]})
        # every measured N with a success is one comparison: split the check's error budget over them
        informative = max(1, sum(p["successes"] > 0 for p in points))
        per_point = 1 - (1 - ctx.confidence) / informative
        prm = {"model": name, "d": zm.d, "m": m, "k": k, "alphabet_size": A, "npr_form": form,
               "per_point_confidence": per_point, "compared_points": informative, "limited_by": LIMIT}
        count = count_check(
            f"dataset_count_{name}_m{m}",
            f"{name} model, {form}, m={m}: N*k*log2|A| + log2 f_lower <= log2 Npr(m) at every measured N "
            "(Consequence B; f = fraction of labellings memorized)",
            points, npr, k * math.log2(A), prm, confidence=per_point, kind="bound", theorem=THEOREM)
        count.confidence = ctx.confidence  # the level of the check as a whole (Bonferroni over its points)
        checks.append(count)
        premise = f"dataset_grid_{name}_m{m}" if levels is not None else f"dataset_box_{name}_m{m}"
        checks.append(grid_premise(premise, [p["grid"] for p in points],
                                   theorem="t1_grid" if levels is not None else "t1_float"))
    settings = asdict(s)
    runs = settings.pop("runs")
    write_data(ctx.out, "dataset", {"rows": rows, "settings": settings, "runs": [list(r) for r in runs],
                                    "seconds": round(time.time() - t0, 1)})
    return checks
