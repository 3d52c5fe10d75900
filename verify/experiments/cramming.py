"""Experiment "cramming": how many tokens m soft-prompt vectors make the natural model reproduce (T1, Consequence A).

For m = 1..M and two kinds of targets (uniformly random over the alphabet A of lowercase letters, and
held-out natural text), :func:`verify.fit.find_n50` measures the accessible fraction f(m, n) at a few n
chosen adaptively (bracket, then bisect) and fits a sigmoid whose crossing of 1/2 is n50(m); then n50 is
fitted linearly in m. Prompts are kept in the box [-r, r] (r = the model's ``prompt_radius``) and stored
in fp32, so T1's float form ``log2 Npr(m) = d*m*log2 #{fp32 values in [-r, r]}`` holds exactly.

Checks (THEORY.md, "What an empirical counterpoint must satisfy"), on random targets, per m:

- ``cramming_random_count_m{m}``: every measured n satisfies ``n*log2|A| + log2 f_lower <= log2 Npr(m)``
  (one-sided 95% Clopper-Pearson lower bound f_lower; the tightest point is the one reported);
- ``cramming_random_n50_m{m}``: ``n50(m) <= (log2 Npr(m) + 1)/log2|A|``;
- ``cramming_random_soft_t1_m{m}``: mean residual cross-entropy (bits, 95% upper confidence bound of the
  mean) >= ``n*log2|A| - log2 Npr(m)``; the floor is negative at these n (fp32 prompts carry thousands of
  bits), so the check is vacuous on this model and says so; the witness (verify.experiments.precision) makes it tight.

Requirements (direction "lower"), on natural text: ``cramming_natural_n50_m1`` (n50 at m = 1 >= 8 tokens)
and ``cramming_natural_linear_r2`` (R^2 of the linear fit of n50 on m >= 0.95).

Control: ``cramming_control_count_m1`` runs the randomly initialised model on a small grid (its checks
pass for the vacuous reason that prompt tuning stores almost nothing in it; the claim says so).

Figure data ``DIR/data/cramming.json``: ``model`` (name, d, vocab, prompt_radius, alphabet_size),
``settings`` (profile settings), ``kinds``: {"random"|"natural": {"per_m": {m: {"points": [{n, successes,
trials, f, f_lower, mean_ce_bits, ce_ucb_bits, accuracy}], "sigmoid": {x0, k, bracketed, n50}, "n50",
"trainings", "linear_sweep_trainings"}}, "fit": {slope, intercept, r2}}}, ``bounds``: {m: {"log2_npr",
"n50_bound_random"}}, ``control``: points of the random model.

Example (the check helper on synthetic points: 20/20 successes at 8 letters, bound 40 bits):
    >>> pts = [{"n": 8, "successes": 20, "trials": 20}]
    >>> c = count_check("demo", "claim", pts, log2_npr=40, log2_alphabet=4.7)
    >>> c.passed, 37 < c.empirical < 38
    (True, True)
"""
from __future__ import annotations

import math
import time

import mpmath

from verify import subjects
from verify.engine import TuneConfig, tune
from verify.fit import fit_linear, find_n50
from verify.checks import count_check, point_record, soft_check
from verify.report import Check, compare, failed, write_data
from verify.rng import derive_seed

SETTINGS = {
    # quick: CI on 2 cores (cramming's share of the 10-minute budget is about 2.5 minutes)
    "quick": dict(ms=(1, 2, 3), count=16, steps=200, patience=50, n_start_random=7, n_start_natural=14,
                  control_ns=(1, 2, 3), control_count=16),
    "full": dict(ms=(1, 2, 3, 4, 5), count=48, steps=1500, patience=300, n_start_random=7, n_start_natural=14,
                 control_ns=(1, 2, 3, 4), control_count=48),
}
def measure(zm, *, kind: str, m: int, n: int, count: int, settings: dict, seed: int, device: str) -> dict:
    """Tune ``count`` targets of one kind at (m, n) on zoo model ``zm``; return the point record.

    Drawn as every cramming driver draws (:mod:`verify.subjects`): the targets depend on (kind, n) only, so
    f(m, n) at every m is measured on the same targets; each target's initial prompt has its own seed.
    """
    subject = subjects.from_zoo(zm)
    targets = subjects.targets(subject, kind, count=count, n=n, seed=derive_seed(seed, "target", zm.name, kind, n))
    std = zm.embedding_std()
    init = subjects.initial_prompts([derive_seed(seed, "init", zm.name, kind, m, n, i) for i in range(count)],
                                    m=m, d=zm.d, std=std)
    config = TuneConfig(steps=settings["steps"], patience=settings["patience"], radius=zm.prompt_radius,
                        init_std=std, seed=derive_seed(seed, "restart", zm.name, kind, m, n))
    result = tune(zm.model, targets, m, config=config, init=init, device=device)
    return point_record(n, result)


def n50_curve(zm, *, kind: str, settings: dict, seed: int, device: str, log) -> dict:
    """n50(m) for every m of the profile, each by an adaptive search started where the line so far points."""
    per_m, n_guess, growth, found = {}, settings[f"n_start_{kind}"], 1.6, []
    for m in settings["ms"]:
        records = {}

        def measure_n(n, m=m, records=records):
            t0 = time.time()
            rec = measure(zm, kind=kind, m=m, n=n, count=settings["count"], settings=settings, seed=seed,
                          device=device)
            records[n] = rec
            log(f"  cramming {kind} m={m} n={n}: {rec['successes']}/{rec['trials']} ({time.time() - t0:.1f}s)")
            return rec["successes"], rec["trials"]

        limit = zm.model.cfg.block_size - m
        search = find_n50(measure_n, n_start=max(1, min(limit, n_guess)), n_max=limit, growth=growth)
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


def run(ctx) -> list[Check]:
    """Run the cramming experiment for ``ctx.profile``; returns its checks (see the module docstring)."""
    from bounds import log2_prompts_float
    from verify import zoo

    s = SETTINGS[ctx.profile]
    t0 = time.time()
    zm = zoo.load("natural", device=ctx.device)
    log2_a = math.log2(len(zm.alphabet))
    npr = {m: log2_prompts_float(zm.d, m, zm.prompt_radius, "fp32") for m in s["ms"]}
    common = {"model": "natural", "d": zm.d, "prompt_radius": zm.prompt_radius, "alphabet_size": len(zm.alphabet),
              "npr_form": "float fp32 in [-r, r]"}
    checks: list[Check] = []
    data = {"model": {"name": "natural", "d": zm.d, "vocab": zm.vocab, "prompt_radius": zm.prompt_radius,
                      "alphabet_size": len(zm.alphabet)}, "settings": dict(s), "kinds": {},
            "bounds": {m: {"log2_npr": float(npr[m]), "n50_bound_random": float((npr[m] + 1) / log2_a)} for m in s["ms"]}}
    for kind in ("random", "natural"):
        per_m = n50_curve(zm, kind=kind, settings=s, seed=ctx.seed, device=ctx.device, log=ctx.log)
        ms = [m for m in s["ms"] if math.isfinite(per_m[m]["n50"])]
        fit = fit_linear(ms, [per_m[m]["n50"] for m in ms]) if len(ms) >= 2 else None
        data["kinds"][kind] = {"per_m": per_m, "fit": None if fit is None else fit.to_json()}
        if kind == "random":
            for m in s["ms"]:
                prm = {**common, "m": m, "n50": per_m[m]["n50"]}
                checks.append(count_check(
                    f"cramming_random_count_m{m}",
                    f"natural model, m={m}, random targets over |A|={len(zm.alphabet)}: "
                    "n*log2|A| + log2 f_lower <= log2 Npr(m) at every measured n (T1, Consequence A)",
                    per_m[m]["points"], npr[m], log2_a, prm))
                n50 = per_m[m]["n50"]
                if math.isfinite(n50):
                    checks.append(compare(
                        f"cramming_random_n50_m{m}",
                        f"natural model, m={m}: n50 <= (log2 Npr(m) + 1)/log2|A| (threshold of Consequence A)",
                        bound=(npr[m] + 1) / mpmath.log(len(zm.alphabet), 2), empirical=max(n50, 0.0),
                        unit="tokens", params=prm))
                else:
                    checks.append(failed(f"cramming_random_n50_m{m}", "n50 <= (log2 Npr(m) + 1)/log2|A|",
                                         "the search did not bracket the crossing of 1/2", prm))
                checks.append(soft_check(
                    f"cramming_random_soft_t1_m{m}",
                    f"natural model, m={m}: mean residual cross-entropy >= n*log2|A| - log2 Npr(m) "
                    "(soft T1; floor <= 0 for fp32 prompts, so vacuous here)",
                    per_m[m]["points"], npr[m], log2_a, prm))
    nat = data["kinds"]["natural"]
    n50_1 = nat["per_m"][s["ms"][0]]["n50"]
    if math.isfinite(n50_1):
        checks.append(compare("cramming_natural_n50_m1", "natural model, natural text: n50 at m=1 >= 8 tokens",
                              bound=8, empirical=max(n50_1, 0.0), direction="lower", unit="tokens",
                              params={**common, "m": 1}))
    else:
        checks.append(failed("cramming_natural_n50_m1", "n50 at m=1 >= 8 tokens", "no crossing of 1/2 found"))
    if nat["fit"] is not None:
        checks.append(compare("cramming_natural_linear_r2",
                              f"natural text: n50 linear in m (R^2 >= 0.95; slope {nat['fit']['slope']:.2f} tokens/vector)",
                              bound=0.95, empirical=max(nat["fit"]["r2"], 0.0), direction="lower", unit="R^2",
                              params={**common, **nat["fit"], "ms": list(s["ms"])}))
    else:
        checks.append(failed("cramming_natural_linear_r2", "n50 linear in m (R^2 >= 0.95)", "fewer than 2 n50 values"))
    checks += control(ctx, s, data)
    data["seconds"] = round(time.time() - t0, 1)
    write_data(ctx.out, "cramming", data)
    return checks


def control(ctx, s: dict, data: dict) -> list[Check]:
    """The randomly initialised model on a small grid of n at m = 1: the vacuous control."""
    from bounds import log2_prompts_float
    from verify import zoo

    zm = zoo.load("random", device=ctx.device)
    points = []
    for n in s["control_ns"]:
        rec = measure(zm, kind="random", m=1, n=n, count=s["control_count"], settings=s, seed=ctx.seed,
                      device=ctx.device)
        ctx.log(f"  cramming control m=1 n={n}: {rec['successes']}/{rec['trials']}")
        points.append(rec)
    npr = log2_prompts_float(zm.d, 1, zm.prompt_radius, "fp32")
    data["control"] = {"model": "random", "d": zm.d, "prompt_radius": zm.prompt_radius, "m": 1, "points": points,
                       "log2_npr": float(npr)}
    return [count_check(
        "cramming_control_count_m1",
        "CONTROL (random-init model, vacuous by design: prompt tuning stores almost nothing in it): "
        "n*log2|A| + log2 f_lower <= log2 Npr(1)",
        points, npr, math.log2(len(zm.alphabet)), {"model": "random", "d": zm.d, "m": 1})]
