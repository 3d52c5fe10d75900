"""Experiment "cramming": how many tokens m soft-prompt vectors make the natural model reproduce, as m grows.

For each m and two kinds of targets (held-out natural text, and uniformly random strings over the alphabet A
of lowercase letters), :func:`verify.fit.find_n50` measures the accessible fraction f(m, n) at a few n chosen
adaptively (bracket, then bisect) and fits a sigmoid whose crossing of 1/2 is n50(m). Prompts are kept in
the box [-r, r] (r = the model's ``prompt_radius``) in fp32. Every n50 gets an interval from a bootstrap over
the targets (:func:`verify.fit.bootstrap_n50`), and so do the slope of n50 on m and the curvature.

What T1 says here, and why it is data, not a check: with fp32 prompts in [-8, 8], log2 Npr(m) is about
3970*m bits (float form, ``t1_float``), while a target that fits in the model's context (128 tokens) carries
at most 127*log2(26) = 597 bits. So "n*log2|A| + log2 f <= log2 Npr(m)", "n50 <= (log2 Npr + 1)/log2|A|"
and soft T1's cross-entropy floor (negative at every such n) hold on this model whatever is measured: they
are reported in the data with their room (bound/measured), not as checks. The witness experiment
(:mod:`verify.experiments.precision`) is where T1 can be attained and can fail.

Checks (both statistical, at ``ctx.confidence``; bootstrap intervals are standard errors, taken as half the
width of the central 68% of the resamples, times the normal quantile of the level):

- ``cramming_natural_n50_m1`` (instrument): the natural model memorizes in-domain text, n50 at m = 1 at
  least 8 tokens: at n = 8, m = 1, the one-sided Clopper-Pearson lower bound of f over ``instrument_count``
  targets is at least 1/2 (f falls with n, so f(8) >= 1/2 is n50 >= 8; a dedicated point, because the
  bootstrap interval of a fitted n50 is not reliable that far in its tail);
- ``cramming_natural_not_superlinear`` (phenomenon, ``threshold_tokens``): T1's threshold is linear in m
  and capacity grows at most linearly; the ratio of the slope of n50 over the upper half of the m range to
  the slope over the lower half is at most 1: the lower confidence bound of the difference of the two slopes
  (a linear function of the n50s, so its bootstrap error is close to normal) is <= 0 (fails only if growth is
  significantly superlinear), compared as difference <= z*se (both sides non-negative, nothing clipped; a
  negative difference, concave growth, passes with room inf). Its power is stated: the check's params give
  the smallest slope difference (and slope ratio) it flags with probability 1/2 at this sample size, z*se,
  and with probability 0.9, (z + z_0.9)*se. The ratio and the quadratic coefficient are reported with their
  intervals (a ratio below 1: concave growth, the optimizer's budget being one reason).

Figure data ``DIR/data/cramming.json``: ``model``, ``settings``, ``kinds``: {"random"|"natural": {"per_m":
{m: {"points": [{n, successes, trials, f, mean_ce_bits, sd_ce_bits, ce_count, accuracy}], "fit", "n50",
"n50_interval", "n50_se", "trainings", "linear_sweep_trainings"}}, "fit": {slope, intercept, r2},
"slope_interval", "curvature": {...}}}, ``bounds``: {m: {"log2_npr", "n50_bound_random"}}, ``room``: the
float-form T1 room at every random point, ``confidence``, ``instrument_point``, ``control``: points of the
random-init model.

Example (the curvature summary of exactly linear n50s):
    >>> c = curvature([1, 2, 3, 4], [10.0, 20.0, 30.0, 40.0])
    >>> round(c["slope_ratio"], 6), abs(round(c["quadratic"], 6))
    (1.0, 0.0)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from verify.engine import TuneConfig, tune
from verify.fit import bootstrap_n50, curvature, find_n50, fit_linear, halves
from verify.measure import file_hash, point_record
from verify.store import PointStore
from verify.registry import Experiment
from verify.report import Check, compare, failed, write_data
from verify.rng import derive_seed
from verify.stats import clopper_pearson_lower

THEOREM = "threshold_tokens"  # Consequence A: the threshold n* = C*m is linear in m
N50_M1_MIN = 8                # instrument: the natural model memorizes at least 8 in-domain bytes with one vector


@dataclass(frozen=True)
class Settings:
    ms_natural: tuple[int, ...]   # prompt lengths for natural-text targets
    ms_random: tuple[int, ...]    # prompt lengths for uniformly random targets
    count: int                    # targets per (m, n)
    steps: int                    # optimizer steps per target at most
    patience: int                 # steps without improvement before a target gives up
    n_start_random: int
    n_start_natural: int
    control_ns: tuple[int, ...]   # n measured on the random-init control model (m = 1)
    control_count: int
    resamples: int                # bootstrap resamples of the targets
    tol: int = 1                  # the n50 search stops bisecting when its bracket is this narrow
    instrument_count: int = 64    # targets at the instrument point (m = 1, n = N50_M1_MIN; f there is about 0.9)


EXPERIMENT = Experiment(
    name="cramming", order=40, results=(THEOREM,), models=("natural",), profiles=("quick", "full"),
    settings={
        # quick: m = 1..3, 16 targets per point; 3.7 minutes measured on a 2-core machine at load average 8
        "quick": Settings(ms_natural=(1, 2, 3), ms_random=(1, 2, 3), count=16, steps=200, patience=50,
                          n_start_random=7, n_start_natural=14, control_ns=(1, 2, 3), control_count=16,
                          resamples=1000),
        # full: m = 1..6 on natural text (a real range for the slope and the curvature), 24 targets per point;
        # 18.5 minutes measured on a 2-core machine at load average 10 (a point at m = 6, n = 72: about 30 s)
        "full": Settings(ms_natural=(1, 2, 3, 4, 5, 6), ms_random=(1, 2, 3), count=24, steps=300, patience=75,
                         n_start_random=7, n_start_natural=14, control_ns=(1, 2, 3, 4), control_count=24,
                         resamples=2000, tol=2),
    },
    seconds={"quick": 67, "full": 384},
    statistical_checks={"quick": 2, "full": 2})


def normal_quantile(confidence: float) -> float:
    """One-sided standard normal quantile of a confidence level.

    Example:
        >>> round(normal_quantile(0.975), 3)
        1.96
    """
    from scipy.stats import norm

    return float(norm.ppf(confidence))


def spread(samples) -> float:
    """Robust bootstrap standard error: half the width of the central 68% of the finite samples.

    Example:
        >>> round(spread(np.random.default_rng(0).normal(0, 2, 20000)), 1)
        2.0
    """
    v = np.asarray(samples, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan")
    lo, hi = np.percentile(v, [15.865, 84.135])
    return float((hi - lo) / 2)


def measure(zm, *, kind: str, m: int, n: int, count: int, settings: Settings, seed: int, device: str) -> dict:
    """Tune ``count`` targets of one kind at (m, n) on zoo model ``zm``; return the point record."""
    from verify import subjects

    s = settings
    tseed = derive_seed(seed, "cramming", kind, m, n)
    targets = subjects.targets(subjects.from_zoo(zm), "random" if kind == "control" else kind, count=count, n=n,
                               seed=tseed)
    config = TuneConfig(steps=s.steps, patience=s.patience, radius=zm.prompt_radius,
                        init_std=zm.embedding_std(), seed=tseed)
    return point_record(n, tune(zm.model, targets, m, config=config, device=device))


def n50_curve(zm, *, kind: str, ms, settings: Settings, seed: int, device: str, log, store: PointStore,
              tag: str) -> dict:
    """n50(m) for every m, each by an adaptive search started where the line so far points."""
    s = settings
    per_m, n_guess, growth, found = {}, getattr(s, f"n_start_{kind}"), 1.6, []
    for m in ms:
        records = {}

        def measure_n(n, m=m, records=records):
            t0 = time.time()
            key = {"model": tag, "kind": kind, "m": m, "n": n, "count": s.count, "steps": s.steps,
                   "patience": s.patience, "seed": seed, "device": device}
            rec = store.get(key, lambda: measure(zm, kind=kind, m=m, n=n, count=s.count, settings=s, seed=seed,
                                                 device=device))
            records[n] = rec
            log(f"  cramming {kind} m={m} n={n}: {rec['successes']}/{rec['trials']} ({time.time() - t0:.1f}s)")
            return rec["successes"], rec["trials"]

        limit = zm.model.cfg.block_size - m
        search = find_n50(measure_n, n_start=max(1, min(limit, n_guess)), n_max=limit, growth=growth, tol=s.tol)
        summary = search.to_json()
        summary["order"] = [n for n, _, _ in summary.pop("points")]  # measuring order of the adaptive search
        per_m[m] = {**summary, "points": [records[n] for n in sorted(records)]}
        if math.isfinite(search.n50):
            found.append((m, search.n50))
            # next m: extrapolate the line through the last two n50 (or through the origin), and bracket
            # with smaller steps since the guess is now informed by data
            if len(found) >= 2:
                (m1, a), (m2, b) = found[-2], found[-1]
                n_guess = int(round(b + (b - a) / (m2 - m1)))
            else:
                n_guess = int(round(search.n50 * (m + 1) / m))
            n_guess, growth = max(1, n_guess), 1.25
    return per_m


def intervals(per_m: dict, ms, resamples: int, seed: int, z95: float) -> dict:
    """Bootstrap the targets of every point: n50 samples per m, and the line and curvature on each resample.

    Adds ``n50_se`` and a 95% ``n50_interval`` to each m; returns the joint samples (rows: resamples).
    """
    samples = np.stack([bootstrap_n50([(p["n"], p["successes"], p["trials"]) for p in per_m[m]["points"]],
                                      resamples=resamples, seed=derive_seed(seed, "bootstrap", m)) for m in ms], axis=1)
    for j, m in enumerate(ms):
        se = spread(samples[:, j])
        per_m[m]["n50_se"] = se
        per_m[m]["n50_interval"] = [per_m[m]["n50"] - z95 * se, per_m[m]["n50"] + z95 * se]
    return samples


def summarize(kind_data: dict, ms, samples: np.ndarray, z95: float) -> None:
    """Slope and curvature of n50 on m with bootstrap standard errors and 95% intervals (in place)."""
    n50 = [kind_data["per_m"][m]["n50"] for m in ms]
    kind_data["fit"] = fit_linear(ms, n50).to_json()
    slopes = np.array([np.polyfit(ms, row, 1)[0] for row in samples])
    se = spread(slopes)
    slope = kind_data["fit"]["slope"]
    kind_data["slope_se"], kind_data["slope_interval"] = se, [slope - z95 * se, slope + z95 * se]
    if len(ms) >= 3:
        cur = curvature(ms, n50)
        boot = [curvature(ms, row) for row in samples]
        for key in ("slope_ratio", "slope_difference", "quadratic"):
            k_se = spread([b[key] for b in boot])
            cur[f"{key}_se"] = k_se
            cur[f"{key}_interval"] = [cur[key] - z95 * k_se, cur[key] + z95 * k_se]
        kind_data["curvature"] = cur


def run(ctx) -> list[Check]:
    """Run the cramming experiment for ``ctx.profile``; returns its checks (see the module docstring)."""
    from bounds import log2_prompts_float
    from verify import engine, zoo

    s: Settings = ctx.settings
    confidence = ctx.confidence
    z, z95 = normal_quantile(confidence), normal_quantile(0.975)
    t0 = time.time()
    zm = zoo.load("natural", device=ctx.device)
    store = PointStore(ctx.out, "cramming")
    tag = "natural:" + file_hash(engine.__file__, zoo.WEIGHTS_DIR / "natural.pt")
    log2_a = math.log2(len(zm.alphabet))
    all_ms = sorted(set(s.ms_natural) | set(s.ms_random))
    npr = {m: float(log2_prompts_float(zm.d, m, zm.prompt_radius, "fp32")) for m in all_ms}
    data = {"model": {"name": "natural", "d": zm.d, "vocab": zm.vocab, "prompt_radius": zm.prompt_radius,
                      "alphabet_size": len(zm.alphabet), "block_size": zm.model.cfg.block_size},
            "settings": asdict(s), "confidence": confidence, "kinds": {},
            "bounds": {m: {"log2_npr": npr[m], "n50_bound_random": (npr[m] + 1) / log2_a} for m in all_ms}}
    common = {"model": "natural", "d": zm.d, "prompt_radius": zm.prompt_radius}
    for kind, ms in (("natural", s.ms_natural), ("random", s.ms_random)):
        per_m = n50_curve(zm, kind=kind, ms=ms, settings=s, seed=ctx.seed, device=ctx.device, log=ctx.log, store=store,
                          tag=tag)
        kd = {"per_m": per_m}
        data["kinds"][kind] = kd
        good = [m for m in ms if math.isfinite(per_m[m]["n50"])]
        if len(good) == len(ms) and len(ms) >= 2:
            samples = intervals(per_m, ms, s.resamples, ctx.seed, z95)
            summarize(kd, list(ms), samples, z95)
            kd["_samples"] = samples
    # T1's float form on this model: data with its room (see the module docstring)
    data["room"] = {m: [{"n": p["n"], "measured_bits": p["n"] * log2_a + math.log2(p["f"]) if p["successes"] else None,
                         "log2_npr": npr[m]} for p in data["kinds"]["random"]["per_m"][m]["points"]]
                    for m in s.ms_random}

    checks: list[Check] = []
    nat = data["kinds"]["natural"]
    m1 = s.ms_natural[0]
    key = {"model": tag, "kind": "natural", "m": m1, "n": N50_M1_MIN, "count": s.instrument_count, "steps": s.steps,
           "patience": s.patience, "seed": ctx.seed, "device": ctx.device}
    rec = store.get(key, lambda: measure(zm, kind="natural", m=m1, n=N50_M1_MIN, count=s.instrument_count,
                                         settings=s, seed=derive_seed(ctx.seed, "instrument"), device=ctx.device))
    data["instrument_point"] = rec
    f_lower = clopper_pearson_lower(rec["successes"], rec["trials"], confidence)
    n50_1, se_1 = nat["per_m"][m1]["n50"], nat["per_m"][m1].get("n50_se", float("nan"))
    checks.append(compare(
        "cramming_natural_n50_m1",
        f"natural model, natural text, m={m1}: n50 >= {N50_M1_MIN} tokens, i.e. f(n={N50_M1_MIN}) >= 1/2 "
        f"({rec['successes']}/{rec['trials']} reproduced; lower confidence bound; fitted n50 = {n50_1:.1f} "
        f"+- {z95 * se_1:.1f} at 95%)",
        bound=0.5, empirical=f_lower, direction="lower", unit="fraction", kind="instrument", confidence=confidence,
        estimate=rec["f"], params={**common, "m": m1, "n": N50_M1_MIN, "successes": rec["successes"],
                                   "trials": rec["trials"], "n50": n50_1, "n50_se": se_1}))
    cur = nat.get("curvature")
    if cur is not None and math.isfinite(cur["slope_difference_se"]):
        diff, d_se, s_lo = cur["slope_difference"], cur["slope_difference_se"], cur["slope_lower_half"]
        fit, si = nat["fit"], nat["slope_interval"]
        lo_half, hi_half = halves(s.ms_natural)
        z90 = normal_quantile(0.9)   # power 0.9 at the shift (z + z90) * se
        detectable_ratio = 1 + z * d_se / s_lo if s_lo > 0 else float("inf")
        claim = (f"natural text, m = {s.ms_natural[0]}..{s.ms_natural[-1]}: n50 grows at most linearly in m "
                 f"(slope {fit['slope']:.2f} [{si[0]:.2f}, {si[1]:.2f}] tokens/vector at 95%, R^2 {fit['r2']:.3f}); "
                 f"slope over m in {hi_half} / slope over m in {lo_half} = {cur['slope_ratio']:.2f} "
                 f"[{cur['slope_ratio_interval'][0]:.2f}, {cur['slope_ratio_interval'][1]:.2f}] at 95%, "
                 f"quadratic coefficient {cur['quadratic']:.2f} [{cur['quadratic_interval'][0]:.2f}, "
                 f"{cur['quadratic_interval'][1]:.2f}]: the slope difference (upper half - lower half) "
                 f"{diff:.2f} <= {z * d_se:.2f}, the smallest difference this sample size flags (z * se at the "
                 f"check's confidence; detected with probability 1/2 at a slope ratio of "
                 f"{detectable_ratio:.2f}, about 0.9 at {z * d_se + z90 * d_se:.2f})")
        # The verdict is "the lower confidence bound of the difference is <= 0"; written as diff <= z*se, both
        # sides are non-negative without clipping the measured slopes (a negative diff, concave growth, passes).
        checks.append(compare("cramming_natural_not_superlinear", claim, bound=z * d_se,
                              empirical=max(diff, 0.0), direction="upper", unit="tokens/vector",
                              kind="phenomenon", theorem=THEOREM, confidence=confidence,
                              params={**common, "ms": list(s.ms_natural), **fit, "slope_interval_95": si, **cur,
                                      "detectable_slope_difference": z * d_se,
                                      "detectable_slope_difference_power_0.9": (z + z90) * d_se,
                                      "detectable_slope_ratio": detectable_ratio}))
    else:
        checks.append(failed("cramming_natural_not_superlinear", "n50 grows at most linearly in m",
                             "n50 not found at every m, or fewer than 3 values of m", kind="phenomenon",
                             theorem=THEOREM))
    for c in checks:
        c.confidence = confidence
    control(ctx, s, data, store)
    for kd in data["kinds"].values():
        kd.pop("_samples", None)
    data["seconds"] = round(time.time() - t0, 1)
    write_data(ctx.out, "cramming", data)
    return checks


def control(ctx, s: Settings, data: dict, store: PointStore) -> None:
    """The randomly initialised model on a small grid of n at m = 1 (data: prompt tuning stores little in it)."""
    from bounds import log2_prompts_float
    from verify import engine, zoo

    zm = zoo.load("random", device=ctx.device)
    points = []
    for n in s.control_ns:
        key = {"model": "random:" + file_hash(engine.__file__), "kind": "control", "m": 1, "n": n, "count": s.control_count, "steps": s.steps,
               "patience": s.patience, "seed": ctx.seed, "device": ctx.device}
        rec = store.get(key, lambda n=n: measure(zm, kind="control", m=1, n=n, count=s.control_count, settings=s,
                                                 seed=ctx.seed, device=ctx.device))
        ctx.log(f"  cramming control m=1 n={n}: {rec['successes']}/{rec['trials']}")
        points.append(rec)
    data["control"] = {"model": "random", "d": zm.d, "prompt_radius": zm.prompt_radius, "m": 1, "points": points,
                       "log2_npr": float(log2_prompts_float(zm.d, 1, zm.prompt_radius, "fp32"))}
