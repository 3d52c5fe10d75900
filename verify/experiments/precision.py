"""Experiment "precision": how close prompt tuning gets to T1's d*m*log2(Q) bits, and where it attains it.

Two kinds of witness, both frozen :class:`verify.model.Transformer` models run through the same prompt-tuning
engine (:mod:`verify.engine`, one prompt per target, no encoder):

- the sign-reader family (:mod:`verify.witness_family`, built by hand for each m; width d = 16, vocabulary
  2^16): target token j is the sign pattern of prompt vector j, so on the Q = 2 grid every target of length m
  (but those with a constant sign pattern) has exactly one prompt. Measured: bits(m) for m = 1, 2, 3, the
  constructive side of T1 (the slope d*log2(Q) cannot be improved in general);
- the trained witness (``verify.zoo.load("witness")``, width 16, vocabulary 16, a decoder pre-trained jointly
  with an encoder), with prompts quantized to Q = 2, 4, 16, 256 levels on ``linspace(-r, r, Q)``
  (straight-through), so ``log2 Npr(m) = d*m*log2(Q)`` exactly, or kept in fp32 in [-r, r] (float form).

For each row the fraction f of uniformly random targets of length n over the vocabulary V that are
reproduced is measured for n = n0, n0+1, ... (until none is, or the estimate falls twice in a row). The
capacity is ``max_n [n*log2|V| + log2 f(n)]`` bits (:func:`verify.measure.capacity`): a point estimate
with a one-sided Clopper-Pearson interval at ``ctx.confidence``, split over the n the scan could measure.

Checks (all statistical, at ``ctx.confidence``):

- ``precision_capacity_q{Q}_m{m}`` (bound, ``t1_grid``): capacity lower bound <= d*m*log2(Q);
- ``precision_soft_t1_q{Q}_m{m}`` (bound, ``cross_entropy_floor``): at one n past the threshold (where the
  floor n*log2|V| - d*m*log2(Q) is positive and the target fits in the context), the upper confidence bound
  of the mean residual cross-entropy >= the floor;
- ``precision_tightness_q2_m1`` (instrument): on the trained witness with Q = 2 the capacity's lower bound is
  at least half of d*m*log2(Q) (prompt tuning finds most of what the grid holds);
- ``precision_signs_attains_t1_m{m}`` (instrument, ``t1_grid``): on the sign reader, the capacity's lower
  bound is at least 95% of d*m*log2(2) (prompt tuning finds the prompts the construction has);
- ``precision_grid_q{Q}_m{m}``, ``precision_signs_grid_m{m}`` (premise, ``t1_grid``) and
  ``precision_box_fp32_m{m}`` (premise, ``t1_float``): every coordinate of every prompt the engine handed
  to the model (all targets, all n of the row) is one of the Q levels ``linspace(-r, r, Q)``, or lies in
  ``[-r, r]`` for the fp32 row (:func:`verify.checks.grid_deviation`, which builds the grid without the
  quantizer). T1's grid count holds only for prompts on that grid.

Data, not checks (they hold whatever is measured): the fp32 rows (log2 Npr = 16*m*31 bits is more than any
target that fits in the trained witness's 64-token context carries), soft T1 where its floor is <= 0, and
the sign reader's capacity against d*m (true by construction: its targets past token m are fixed by the
first m, so no measurement can exceed d*m bits).

Figure data ``DIR/data/precision.json``: ``model``, ``settings``, ``confidence``, ``rows``: [{"q": Q or
"fp32", "m", "log2_npr", "capacity" (n, bits, bits_lower, bits_upper, ...), "capacity_bits" (= its
bits_lower), "tightness" (bits/log2_npr) and "tightness_interval", "points": [{n, successes, trials, f,
mean_ce_bits, sd_ce_bits, ce_count, accuracy}], "soft_points"}], ``tightest``, ``signs``: the sign reader's
rows {m: {"log2_npr", "capacity", "ratio", "ratio_interval", "points"}}.

Example (the number of n a scan may measure, for the Bonferroni split):
    >>> scan_range(d=16, m=1, vocab=16, q=2, trained_levels=2, max_n_extra=3, block_size=64)
    (3, 7)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass


from verify.checks import grid_premise
from verify.engine import TuneConfig
from verify.measure import RECORD_CODE, capacity, ce_upper, file_hash, point_record, tune_chunked
from verify.store import PointStore
from verify.registry import Experiment
from verify.report import Check, compare, failed, write_data
from verify.rng import derive_seed

WITNESS = dict(d=16, vocab=16, levels=2, block_size=64)  # the trained witness (checked against the loaded model)
SIGNS_D = 16
SOFT_LIMIT = ("the optimizer: the floor is what no grid prompt can avoid, the mean cross-entropy also pays "
              "for the probability a tuned prompt leaves on wrong tokens of targets it does reproduce")
ATTAIN_FRACTION = 0.95  # the sign reader must store at least this fraction of d*m*log2(Q)


@dataclass(frozen=True)
class Settings:
    qs: tuple[int, ...]           # grid levels Q measured on the trained witness
    fp32: bool                    # also the unquantized fp32 row (data)
    ms: tuple[int, ...]           # prompt lengths on the trained witness
    count: int                    # targets per (Q, m, n)
    steps: int
    patience: int
    max_n_extra: int              # n measured past T1's threshold at most
    restarts: int                 # fresh-init retries of failed targets (Q = 2 only)
    soft_count: int               # targets at the soft-T1 point
    soft_steps: int
    signs_ms: tuple[int, ...]     # prompt lengths of the sign-reader family
    signs_count: int              # targets per (m, n) on the sign reader


def soft_n(d: int, m: int, q: int, vocab: int) -> int:
    """The n of the soft-T1 point: two tokens past T1's threshold, so the floor is positive.

    Example:
        >>> soft_n(16, 1, 2, 16)
        6
    """
    from bounds import log2_prompts_grid
    return int(float(log2_prompts_grid(d, m, q)) // math.log2(vocab)) + 2


def scan_range(*, d: int, m: int, vocab: int, q, trained_levels: int, max_n_extra: int, block_size: int):
    """First and last n a scan measures at most (q None: fp32, taken as 32 bits per coordinate).

    Example:
        >>> scan_range(d=16, m=2, vocab=16, q=None, trained_levels=2, max_n_extra=3, block_size=64)
        (7, 62)
    """
    log2_v = math.log2(vocab)
    trained_bits = d * m * math.log2(trained_levels)
    n0 = max(1, int(trained_bits // log2_v) - 1)
    n_stop = int(trained_bits * (math.log2(q) if q else 32) // log2_v) + max_n_extra
    return n0, min(n_stop, block_size - m)


def statistical_count(s: Settings) -> int:
    """How many statistical checks a profile makes (declared in EXPERIMENT; a test compares with a run).

    Example:
        >>> statistical_count(EXPERIMENT.settings["quick"]), statistical_count(EXPERIMENT.settings["full"])
        (12, 19)
    """
    w = WITNESS
    soft = sum(soft_n(w["d"], m, q, w["vocab"]) + m <= w["block_size"] for m in s.ms for q in s.qs)
    tight = int(2 in s.qs and 1 in s.ms)
    return len(s.qs) * len(s.ms) + soft + tight + len(s.signs_ms)


_QUICK = Settings(qs=(2, 4, 16, 256), fp32=True, ms=(1,), count=64, steps=250, patience=50, max_n_extra=3, restarts=2,
                  soft_count=32, soft_steps=120, signs_ms=(1, 2, 3), signs_count=128)
_FULL = Settings(qs=(2, 4, 16, 256), fp32=True, ms=(1, 2), count=128, steps=300, patience=75, max_n_extra=4,
                 restarts=2, soft_count=128, soft_steps=300, signs_ms=(1, 2, 3), signs_count=256)
EXPERIMENT = Experiment(
    name="precision", order=50, results=("t1_grid", "cross_entropy_floor"), models=("witness",),
    profiles=("quick", "full"),
    # restarts: measured on the witness (Q=2, m=1, n=4, 64 targets): 35/64 reproduced without restarts,
    # 40/64 with 2, 41/64 with 4, so one or a few retries separate "no prompt" from "optimizer missed it".
    settings={"quick": _QUICK, "full": _FULL},
    seconds={"quick": 36, "full": 230},
    statistical_checks=statistical_count)


def q_label(q) -> str:
    """Name of a precision in check names: ``q2``, ``q256`` or ``fp32``.

    Example:
        >>> q_label(4), q_label(None)
        ('q4', 'fp32')
    """
    return "fp32" if q is None else f"q{q}"


def _point(zm, *, q, m: int, n: int, count: int, steps: int, patience: int, restarts: int, seed: int,
           device: str) -> dict:
    from verify import subjects

    tseed = derive_seed(seed, "precision", q_label(q), m, n)
    targets = subjects.targets(subjects.from_zoo(zm), "random", count=count, n=n, seed=tseed)
    config = TuneConfig(steps=steps, patience=patience, radius=zm.prompt_radius, levels=q,
                        init_std=zm.embedding_std(), seed=tseed, restarts=restarts)
    result = tune_chunked(zm.model, targets, m, config=config, device=device, chunk=4096)
    return point_record(n, result, levels=q, radius=zm.prompt_radius)


def scan(zm, *, q, m: int, settings: Settings, seed: int, device: str, log, store: PointStore, tag: str) -> list[dict]:
    """Measure f at n = n0, n0+1, ... for one (Q, m); stop when nothing is reproduced or capacity falls twice."""
    s = settings
    log2_v = math.log2(zm.vocab)
    n0, n_last = scan_range(d=zm.d, m=m, vocab=zm.vocab, q=q, trained_levels=zm.levels or 2,
                            max_n_extra=s.max_n_extra, block_size=zm.model.cfg.block_size)
    points, best, falls = [], -math.inf, 0
    restarts = s.restarts if q == 2 else 0
    for n in range(n0, n_last + 1):
        t0 = time.time()
        key = {"model": tag, "q": q, "m": m, "n": n, "count": s.count, "steps": s.steps, "patience": s.patience,
               "restarts": restarts, "seed": seed, "device": device}
        rec = store.get(key, lambda n=n: _point(zm, q=q, m=m, n=n, count=s.count, steps=s.steps, patience=s.patience,
                                                restarts=restarts, seed=seed, device=device))
        points.append(rec)
        log(f"  precision {q_label(q)} m={m} n={n}: {rec['successes']}/{rec['trials']} ({time.time() - t0:.1f}s)")
        if rec["successes"] == 0:
            break
        cap = n * log2_v + math.log2(rec["f"])
        falls = falls + 1 if cap < best else 0
        best = max(best, cap)
        if falls >= 2:
            break
    return points


def tightness(cap: dict, log2_npr: float) -> tuple[float, list]:
    """Capacity / log2 Npr as a point estimate and its interval.

    Example:
        >>> tightness({"bits": 16.0, "bits_lower": 15.5, "bits_upper": 16.0}, 16.0)
        (1.0, [0.96875, 1.0])
    """
    return cap["bits"] / log2_npr, [cap["bits_lower"] / log2_npr, cap["bits_upper"] / log2_npr]


def signs_rows(ctx, s: Settings, store: PointStore) -> tuple[list[Check], dict]:
    """The sign-reader family: bits(m) at m in ``s.signs_ms``, against d*m*log2(2) = 16*m bits."""
    import torch

    from verify import engine, witness_family

    checks, rows = [], {}
    tag = "signs:" + file_hash(engine.__file__, witness_family.__file__, *RECORD_CODE)
    for m in s.signs_ms:
        model = witness_family.build(m, SIGNS_D).to(ctx.device)
        vocab = model.cfg.vocab_size
        from bounds import log2_prompts_grid
        npr = float(log2_prompts_grid(SIGNS_D, m, 2))  # T1 grid form, Q = 2
        points = []
        n_range = range(max(1, m - 1), m + 2)
        for n in n_range:
            def measure(n=n):
                tseed = derive_seed(ctx.seed, "precision", "signs", m, n)
                targets = torch.randint(0, vocab, (s.signs_count, n), generator=torch.Generator().manual_seed(tseed))
                # the right prompt is found in a few steps (every bit has its own gradient): 60 steps, patience 10
                config = TuneConfig(steps=60, patience=10, radius=witness_family.PROMPT_RADIUS, levels=2,
                                    init_std=0.1, seed=tseed)
                result = tune_chunked(model, targets, m, config=config, device=ctx.device, chunk=64)
                return point_record(n, result, levels=2, radius=witness_family.PROMPT_RADIUS)

            key = {"model": tag, "m": m, "n": n, "count": s.signs_count, "seed": ctx.seed, "device": ctx.device}
            t0 = time.time()
            rec = store.get(key, measure)
            points.append(rec)
            ctx.log(f"  precision signs m={m} n={n}: {rec['successes']}/{rec['trials']} ({time.time() - t0:.1f}s)")
        cap = capacity(points, math.log2(vocab), ctx.confidence, max_points=len(n_range))
        ratio, ratio_int = tightness(cap, npr)
        rows[m] = {"log2_npr": npr, "capacity": cap, "ratio": ratio, "ratio_interval": ratio_int, "points": points,
                   "vocab": vocab, "d": SIGNS_D}
        prm = {"model": f"witness_family.build({m})", "d": SIGNS_D, "vocab": vocab, "m": m, "q": 2,
               "capacity": cap, "ratio": ratio, "ratio_interval": ratio_int,
               "points": [{k: p[k] for k in ("n", "successes", "trials")} for p in points]}
        checks.append(compare(
            f"precision_signs_attains_t1_m{m}",
            f"sign reader, grid Q=2, m={m}: prompt tuning stores {cap['bits']:.3f} bits "
            f"[{cap['bits_lower']:.3f}, {cap['bits_upper']:.3f}] = {ratio:.4f} [{ratio_int[0]:.4f}, {ratio_int[1]:.4f}] "
            f"of d*m*log2(Q) = {npr}: lower bound >= {ATTAIN_FRACTION:g} of it (T1 attained)",
            bound=ATTAIN_FRACTION * npr, empirical=cap["bits_lower"], direction="lower", unit="bits",
            kind="instrument", theorem="t1_grid", confidence=ctx.confidence, estimate=cap["bits"], params=prm))
        checks.append(grid_premise(f"precision_signs_grid_m{m}", [p["grid"] for p in points], theorem="t1_grid"))
    return checks, rows


def run(ctx) -> list[Check]:
    """Run the precision experiment for ``ctx.profile``; returns its checks (see the module docstring)."""
    from bounds import log2_prompts_float, log2_prompts_grid
    from verify import engine, zoo

    s: Settings = ctx.settings
    t0 = time.time()
    zm = zoo.load("witness", device=ctx.device)
    got = dict(d=zm.d, vocab=zm.vocab, levels=zm.levels, block_size=zm.model.cfg.block_size)
    if got != WITNESS:
        raise ValueError(f"the witness changed ({got}); update WITNESS, which sizes the declared checks")
    store = PointStore(ctx.out, "precision")
    tag = "witness:" + file_hash(engine.__file__, zoo.WEIGHTS_DIR / "witness.pt", *RECORD_CODE)
    log2_v = math.log2(zm.vocab)
    checks: list[Check] = []
    rows = []
    for m in s.ms:
        for q in s.qs + ((None,) if s.fp32 else ()):
            if q is None:
                npr, form = float(log2_prompts_float(zm.d, m, zm.prompt_radius, "fp32")), "float fp32 in [-r, r]"
            else:
                npr, form = float(log2_prompts_grid(zm.d, m, q)), f"grid Q={q}"
            points = scan(zm, q=q, m=m, settings=s, seed=ctx.seed, device=ctx.device, log=ctx.log, store=store, tag=tag)
            n0, n_last = scan_range(d=zm.d, m=m, vocab=zm.vocab, q=q, trained_levels=zm.levels,
                                    max_n_extra=s.max_n_extra, block_size=zm.model.cfg.block_size)
            cap = capacity(points, log2_v, ctx.confidence, max_points=n_last - n0 + 1)
            tight, tight_int = tightness(cap, npr)
            row = {"q": q_label(q), "m": m, "log2_npr": npr, "capacity": cap, "capacity_bits": cap["bits_lower"],
                   "tightness": tight, "tightness_interval": tight_int, "best_n": cap["n"], "points": points,
                   "npr_form": form, "soft_points": []}
            rows.append(row)
            prm = {"model": "witness", "d": zm.d, "vocab": zm.vocab, "m": m, "q": q_label(q), "npr_form": form,
                   "capacity": cap, "tightness": tight, "tightness_interval": tight_int,
                   "points": [{k: p[k] for k in ("n", "successes", "trials")} for p in points]}
            handed = list(points)  # every point whose prompts the model saw: the grid premise is checked on all
            if q is None:
                checks.append(grid_premise(f"precision_box_fp32_m{m}", [p["grid"] for p in handed], theorem="t1_float"))
                continue  # fp32 capacity: data (see the module docstring)
            checks.append(compare(
                f"precision_capacity_{q_label(q)}_m{m}",
                f"witness, {form}, m={m}: capacity {cap['bits']:.2f} bits, lower bound <= log2 Npr(m) = {npr:g} (T1)",
                bound=npr, empirical=cap["bits_lower"], unit="bits", kind="bound", theorem="t1_grid",
                confidence=ctx.confidence, estimate=cap["bits"], params=prm))
            n_soft = soft_n(zm.d, m, q, zm.vocab)
            if n_soft + m <= zm.model.cfg.block_size:
                key = {"model": tag, "soft": True, "q": q, "m": m, "n": n_soft, "count": s.soft_count,
                       "steps": s.soft_steps, "patience": s.patience, "seed": ctx.seed, "device": ctx.device}
                rec = store.get(key, lambda: _point(zm, q=q, m=m, n=n_soft, count=s.soft_count, steps=s.soft_steps,
                                                    patience=s.patience, restarts=0, seed=ctx.seed, device=ctx.device))
                ctx.log(f"  precision {q_label(q)} m={m} n={n_soft} (soft T1): mean cross-entropy {rec['mean_ce_bits']:.2f} bits")
                row["soft_points"] = [rec]
                handed.append(rec)
                floor = n_soft * log2_v - npr
                ucb = ce_upper(rec, ctx.confidence)
                if math.isfinite(ucb):
                    checks.append(compare(
                        f"precision_soft_t1_{q_label(q)}_m{m}",
                        f"witness, {form}, m={m}, n={n_soft}: mean residual cross-entropy {rec['mean_ce_bits']:.2f} bits, "
                        f"upper confidence bound >= n*log2|V| - log2 Npr(m) = {floor:g} bits (soft T1)",
                        bound=floor, empirical=max(ucb, 0.0), direction="lower", unit="bits", kind="bound",
                        theorem="cross_entropy_floor", confidence=ctx.confidence, estimate=rec["mean_ce_bits"],
                        params={**prm, "n": n_soft, "mean_ce_bits": rec["mean_ce_bits"], "limited_by": SOFT_LIMIT}))
                else:
                    c = failed(f"precision_soft_t1_{q_label(q)}_m{m}", "soft T1", "no finite cross-entropy measured",
                               kind="bound", theorem="cross_entropy_floor")
                    c.confidence = ctx.confidence
                    checks.append(c)
            checks.append(grid_premise(f"precision_grid_{q_label(q)}_m{m}", [p["grid"] for p in handed],
                                       theorem="t1_grid"))
            if q == 2 and m == 1:
                checks.append(compare(
                    "precision_tightness_q2_m1",
                    f"witness, Q=2, m=1: capacity {cap['bits']:.2f} bits [{cap['bits_lower']:.2f}, {cap['bits_upper']:.2f}] "
                    f"(tightness {tight:.3f} [{tight_int[0]:.3f}, {tight_int[1]:.3f}]): lower bound >= half of "
                    f"d*m*log2(Q) = {npr:g} bits",
                    bound=npr / 2, empirical=cap["bits_lower"], direction="lower", unit="bits", kind="instrument",
                    theorem="t1_grid", confidence=ctx.confidence, estimate=cap["bits"], params=prm))
    sign_checks, signs = signs_rows(ctx, s, store)
    checks += sign_checks
    tightest = max((r for r in rows if r["q"] != "fp32"), key=lambda r: r["tightness"], default=None)
    write_data(ctx.out, "precision", {
        "model": {"name": "witness", "d": zm.d, "vocab": zm.vocab, "prompt_radius": zm.prompt_radius,
                  "trained_levels": zm.levels},
        "settings": asdict(s), "confidence": ctx.confidence, "rows": rows, "signs": signs,
        "tightest": None if tightest is None else {k: tightest[k] for k in ("q", "m", "tightness", "tightness_interval",
                                                                          "capacity_bits", "log2_npr")},
        "seconds": round(time.time() - t0, 1)})
    return checks
