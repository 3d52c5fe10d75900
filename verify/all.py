"""``python -m verify.all``: run every check of the companion and write the report.

Usage::

    python -m verify.all [--profile quick|full] [--out DIR] [--seed N] [--device cpu|cuda] [--only NAME] [--fresh]

Each experiment is a module with ``run(ctx) -> list[Check]`` (see :mod:`verify.report`). Its checks are
saved to ``DIR/checks/NAME.json`` as soon as it finishes, so an interrupted run loses nothing it had
finished: rerunning with the same ``--out``, profile and seed reuses those and runs only the rest
(``--fresh`` recomputes everything). Exit code: 0 iff every check passes, 1 if any fails, 2 on bad usage.
"""
from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.cli import ArgumentParser as _Parser, UsageError

from verify.report import Check, failed, markdown_table, write_report

# Order matters only for the progress bar: cheap, exact checks first.
EXPERIMENTS: tuple[str, ...] = (
    "verify.experiments.meanfield", "verify.experiments.contexts", "verify.experiments.enumeration",
    "verify.experiments.cramming", "verify.experiments.precision", "verify.experiments.dataset",
    "verify.experiments.copying",
    "verify.experiments.real_cramming",  # a pretrained LM; runs only under --profile real (GPU advised)
)
PROFILES = ("quick", "full", "real")
REAL_ONLY = ("verify.experiments.real_cramming",)
# Committed models each experiment loads: a missing or corrupt file is bad input (exit 2), found before any work.
ZOO_MODELS = {"verify.experiments.cramming": ("natural",), "verify.experiments.precision": ("witness",),
              "verify.experiments.dataset": ("natural", "witness")}


@dataclass
class Context:
    """What every experiment receives: profile, seed, device, output folder, a progress reporter, its typed
    settings for the profile (``None``: the experiment takes ``EXPERIMENT.settings_for(ctx.profile)``) and
    ``confidence``, the per-check confidence level every statistical check uses (Bonferroni over the
    statistical checks of the run, set by ``verify.all``; the default is the level for one check alone)."""

    profile: str = "quick"
    seed: int = 0
    device: str = "cpu"
    out: Path = Path("out/verify")
    log: callable = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))
    settings: Any = None
    confidence: float = 1 - 1e-3

    @property
    def quick(self) -> bool:
        return self.profile == "quick"


def parse_args(argv):
    p = _Parser(prog="python -m verify.all", description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="quick", help="quick (CI, <= 10 min on 2 cores), full, or real (a pretrained LM)")
    p.add_argument("--out", default="out/verify", help="output folder for report.json, report.md, data/")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help="run only this experiment (repeatable); names: " + ", ".join(short(e) for e in EXPERIMENTS))
    p.add_argument("--fresh", action="store_true", help="ignore checks saved by an earlier, interrupted run")
    args = p.parse_args(argv)
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda given but no CUDA device is available")
    names = {short(e): e for e in EXPERIMENTS}
    if args.only:
        unknown = [o for o in args.only if o not in names]
        if unknown:
            raise UsageError(f"unknown experiment {unknown[0]!r}; known: {', '.join(names)}")
    return args


def short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def _progress(i: int, total: int, name: str, started: float) -> str:
    width = 24
    done = int(width * i / max(total, 1))
    elapsed = time.time() - started
    eta = "" if i == 0 else f" eta {elapsed / i * (total - i):5.0f}s"
    return f"[{'#' * done}{'.' * (width - done)}] {i}/{total} {name:<12} {elapsed:5.0f}s{eta}"


def preflight(modules: list[str]) -> None:
    """Load every committed model the selected experiments need; raise ModelFileError (one line) if one is bad.

    Example:
        >>> preflight(["verify.experiments.meanfield"])  # needs no committed model
    """
    from verify import zoo

    for name in sorted({z for m in modules for z in ZOO_MODELS.get(m, ())}):
        zoo.load(name)
    if "verify.experiments.copying" in modules:
        from verify.experiments import copying
        from verify.model import Transformer

        for path in (copying.WEIGHTS, copying.WEIGHTS_NOPE):
            Transformer.load(path)


def run_experiment(module: str, ctx: Context) -> list[Check]:
    """Import and run one experiment; a crash becomes a failed check with its reason, and the run goes on."""
    try:
        return list(importlib.import_module(module).run(ctx))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one broken experiment must not hide the others' results
        tb = traceback.format_exc(limit=3)
        (ctx.out / "errors").mkdir(parents=True, exist_ok=True)
        (ctx.out / "errors" / f"{short(module)}.txt").write_text(tb)
        return [failed(short(module), "experiment ran to completion", f"{type(exc).__name__}: {exc}",
                       {"crashed": True})]


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        print(f"verify.all: error: {exc}", file=sys.stderr)
        return 2
    # --profile real runs the pretrained-LM experiment alone; quick and full run everything else.
    modules = [e for e in EXPERIMENTS if (not args.only or short(e) in args.only)
               and (args.profile == "real") == (e in REAL_ONLY)]
    from verify.model import ModelFileError

    try:
        preflight(modules)
    except ModelFileError as exc:
        print(f"verify.all: error: {exc}", file=sys.stderr)
        return 2
    ctx = Context(profile=args.profile, seed=args.seed, device=args.device, out=Path(args.out))
    ctx.out.mkdir(parents=True, exist_ok=True)
    saved = ctx.out / "checks"
    saved.mkdir(exist_ok=True)
    checks: list[Check] = []
    started = time.time()
    timings = {}
    for i, module in enumerate(modules):
        name = short(module)
        print(_progress(i, len(modules), name, started), file=sys.stderr, flush=True)
        cache = saved / f"{name}.json"
        key = {"profile": args.profile, "seed": args.seed}
        if cache.exists() and not args.fresh:
            blob = json.loads(cache.read_text())
            if blob.get("key") == key:
                checks += [Check(**c) for c in blob["checks"]]
                timings[name] = blob.get("seconds")
                continue
        t0 = time.time()
        result = run_experiment(module, ctx)
        timings[name] = round(time.time() - t0, 1)
        crashed = any(c.params.get("crashed") for c in result)
        if not crashed:  # a crash is retried on the next run, a finished experiment is kept
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps({"key": key, "seconds": timings[name],
                                       "checks": [c.to_json() for c in result]}, default=str))
            tmp.replace(cache)
        checks += result
        write_report(ctx.out, checks, {"profile": args.profile, "seed": args.seed, "seconds": timings})
    print(_progress(len(modules), len(modules), "done", started), file=sys.stderr, flush=True)
    write_report(ctx.out, checks, {"profile": args.profile, "seed": args.seed, "seconds": timings,
                                   "total_seconds": round(time.time() - started, 1)})
    print(markdown_table(checks))
    n_fail = sum(not c.passed for c in checks)
    print(f"\n{sum(c.vacuous for c in checks)} vacuous (ratio > 1000); report: {ctx.out / 'report.md'}")
    print(f"verify: {len(checks) - n_fail} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
