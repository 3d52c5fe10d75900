"""``python -m verify.sweeps``: a cramming sweep over (model, m, n, seed, target) that survives and scales.

Usage::

    python -m verify.sweeps [--models tiny natural ...] [--kind random|natural] [--m 1 2] [--n 4 8 16]
                           [--seeds 0] [--targets 8] [--steps 300] [--lr 0.03] [--patience N] [--chunk 1]
                           [--db PATH] [--executor local|ray] [--address ADDR] [--workers N] [--threads N]
                           [--lease SECONDS] [--device cpu|cuda] [--dry-run] [--export-csv FILE]
                           [--export-json FILE]
    python -m verify.sweeps export [--db PATH] [--csv FILE] [--json FILE]

Each trial tunes one soft prompt of m vectors so that the frozen model greedily reproduces one target of
n tokens, first token included (:func:`trial`; the work is done by :func:`verify.engine.tune`). Every
finished trial goes to the results store (:mod:`verify.sweeps.store`, SQLite, ``out/results.sqlite`` unless
``--db`` or ``$PML_RESULTS_DB`` say otherwise) at once; rerunning the same command skips what is stored,
so a sweep killed with ``kill -9`` resumes where it stopped, and ends with exactly the trials of an
uninterrupted run. Tasks go to a local process pool (default) or to Ray (:mod:`verify.sweeps.executors`).
Several sweeps may share one ``--db`` (on one machine, or drivers on a shared file system): each claims a
task's trials in the store before computing them (a lease of ``--lease`` seconds, renewed while it runs),
so together they compute every trial once; a sweep that died leaves claims that expire, and the others
take its trials over. At the end (and as each point completes) the sweep prints every point's success
rate.

Models: ``tiny`` (a seeded random 1-layer width-16 model over 16 tokens, built in memory: for tests),
the zoo's ``natural``, ``witness`` and ``random`` (:mod:`verify.zoo`), ``gguf:PATH`` (a GGUF file) and
``hf:DIR`` (a local Hugging Face causal-LM folder), both through :mod:`verify.real`; models are named,
loaded and their targets and initial prompts drawn by :mod:`verify.subjects`, as in every cramming driver.
Targets (``--kind``): ``random``, i.i.d. uniform over the model's target alphabet; ``natural``, in-domain
text (the zoo's held-out KJV chapters; KJV through the tokenizer for real models).

Determinism: a trial's target and initial prompt are drawn from generators seeded by a hash of
(seed, model, kind, m, n, target), never from global state, and every worker runs with one torch thread
per task, so the same trial gives the same result in any process, executor or order. Targets are
grouped into fixed chunks of ``--chunk`` per task (one batched :func:`verify.engine.tune` call); a chunk
with any trial missing is recomputed whole, so its composition never changes between runs.

Bad input (unknown model, model folder without weights, corrupt or foreign database, unreachable Ray
address, m < 1...) prints one line on stderr and exits 2; nothing stored is ever overwritten.

Example:
    >>> cfg = SweepConfig(models=["tiny"], m=[1, 2], n=[2], seeds=[0], targets=3)
    >>> len(plan(cfg)), len(make_tasks(plan(cfg), chunk=2))
    (6, 4)
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.rng import derive_seed

KINDS = ("random", "natural")
DEFAULT_LEASE = 120.0  # seconds a claim on a task lasts unless its sweep renews it (every third of that)


# ----------------------------------------------------------------------------------------- grid
@dataclass
class SweepConfig:
    """The grid and the tuning settings of a sweep (everything that determines its trials).

    Example:
        >>> SweepConfig(models=["tiny"], m=[1], n=[3]).size
        8
    """

    models: list = field(default_factory=lambda: ["tiny"])
    kind: str = "random"
    m: list = field(default_factory=lambda: [1])
    n: list = field(default_factory=lambda: [4])
    seeds: list = field(default_factory=lambda: [0])
    targets: int = 8
    steps: int = 300
    lr: float = 3e-2
    patience: int | None = None
    device: str = "cpu"

    def __post_init__(self):
        # A value given twice (--m 1 1) is one grid point: plan, dry run and run all count it once.
        for name in ("models", "m", "n", "seeds"):
            setattr(self, name, list(dict.fromkeys(getattr(self, name))))

    @property
    def size(self) -> int:
        return len(self.models) * len(self.m) * len(self.n) * len(self.seeds) * self.targets

    def validate(self) -> None:
        """Raise ValueError with a one-line reason if the grid is not usable."""
        if self.kind not in KINDS:
            raise ValueError(f"--kind {self.kind}: unknown target kind; known: {', '.join(KINDS)}")
        for name, values in (("m", self.m), ("n", self.n)):
            if not values or any(int(v) != v or v < 1 for v in values):
                raise ValueError(f"--{name} {' '.join(map(str, values))}: every {name} must be an integer >= 1")
        if self.targets < 1:
            raise ValueError(f"--targets must be >= 1, got {self.targets}")
        if self.steps < 0:
            raise ValueError(f"--steps must be >= 0, got {self.steps}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"--patience must be >= 1 (or left out: never give up early), got {self.patience}")
        if not self.models:
            raise ValueError("--models needs at least one model")
        from verify.subjects import check_name

        for model in self.models:
            check_name(model)
            if model == "tiny" and self.kind == "natural":
                raise ValueError("model 'tiny' has no natural text; use --kind random")
            if model in ("witness", "random") and self.kind == "natural":
                raise ValueError(f"zoo model {model!r} has no natural text; use --kind random")


def plan(cfg: SweepConfig) -> list[dict]:
    """Every trial of the grid as a spec dict, in a fixed order (model, m, n, seed, target).

    Example:
        >>> [(s["m"], s["target"]) for s in plan(SweepConfig(m=[1, 2], n=[3], targets=2))]
        [(1, 0), (1, 1), (2, 0), (2, 1)]
    """
    specs = []
    for model in cfg.models:
        for m in cfg.m:
            for n in cfg.n:
                for seed in cfg.seeds:
                    for target in range(cfg.targets):
                        spec = {"model": model, "kind": cfg.kind, "m": int(m), "n": int(n), "seed": int(seed),
                                "target": target, "max_steps": int(cfg.steps), "lr": float(cfg.lr),
                                "patience": cfg.patience, "device": cfg.device}
                        specs.append(spec)
    return specs


def make_tasks(specs: list[dict], chunk: int = 1) -> list[dict]:
    """Group trial specs of the same point (model, kind, m, n, seed, settings) into fixed chunks of targets.

    Chunk c of a point always holds targets ``c*chunk .. c*chunk+chunk-1`` (those in ``specs``), so a
    resumed sweep recomputes a chunk with exactly the composition it had.

    Example:
        >>> specs = plan(SweepConfig(targets=5))
        >>> [t["targets"] for t in make_tasks(specs, chunk=2)]
        [[0, 1], [2, 3], [4]]
    """
    if chunk < 1:
        raise ValueError(f"--chunk must be >= 1, got {chunk}")
    tasks: dict = {}
    for spec in specs:
        base = {k: v for k, v in spec.items() if k != "target"}
        ident = (json.dumps(base, sort_keys=True), spec["target"] // chunk)
        task = tasks.setdefault(ident, {"base": base, "targets": [], "chunk": chunk})
        task["targets"].append(spec["target"])
    return list(tasks.values())


def task_specs(task: dict) -> list[dict]:
    """The trial specs of a task, with their store keys.

    Example:
        >>> task = make_tasks(plan(SweepConfig(targets=2)), chunk=2)[0]
        >>> [(s["target"], len(s["key"])) for s in task_specs(task)]
        [(0, 20), (1, 20)]
    """
    from verify.sweeps.store import trial_key

    out = []
    for t in task["targets"]:
        spec = {**task["base"], "target": t}
        out.append({**spec, "key": trial_key(spec)})
    return out


# ----------------------------------------------------------------------------------------- trials
def make_target(spec: dict):
    """The target token ids (1-D tensor of length n) of a trial, drawn from its own seeded generator.

    Random targets do not depend on m, so f(m, n) at every m is measured on the same targets.

    Example:
        >>> spec = {"model": "tiny", "kind": "random", "m": 1, "n": 5, "seed": 0, "target": 2}
        >>> make_target(spec).tolist() == make_target({**spec, "m": 3}).tolist()
        True
    """
    from verify import subjects

    subject = subjects.load(spec["model"], spec.get("device", "cpu"))
    seed = derive_seed("target", spec["model"], spec["kind"], spec["n"], spec["seed"], spec["target"])
    return subjects.targets(subject, spec["kind"], count=1, n=spec["n"], seed=seed)[0]


def initial_prompt(spec: dict, d: int, std: float):
    """The trial's initial prompt, ``randn(m, d) * std`` from its own seeded generator (Kuratov et al.'s initialization).

    Example:
        >>> spec = {"model": "tiny", "kind": "random", "m": 2, "n": 3, "seed": 0, "target": 1}
        >>> p = initial_prompt(spec, d=4, std=0.5); tuple(p.shape), bool((p == initial_prompt(spec, 4, 0.5)).all())
        ((2, 4), True)
    """
    from verify import subjects

    seed = derive_seed("init", spec["model"], spec["kind"], spec["m"], spec["n"], spec["seed"], spec["target"])
    return subjects.initial_prompts([seed], m=spec["m"], d=d, std=std)[0]


def run_task(task: dict) -> list[dict]:
    """Run one chunk of trials (one batched :func:`verify.engine.tune` call); return one result per target.

    This is the only function the executors call: picklable, top level, deterministic given the task.

    Example:
        >>> task = make_tasks(plan(SweepConfig(n=[1], targets=2, steps=20)), chunk=2)[0]
        >>> [r["target"] for r in run_task(task)]
        [0, 1]
    """
    import torch

    from verify import subjects
    from verify.engine import TuneConfig, embedding_std, tune, versions

    specs = task_specs(task)
    base = task["base"]
    model = subjects.load(base["model"], base.get("device", "cpu")).model
    d = model.cfg.d_model
    std = embedding_std(model)
    targets = torch.stack([make_target(s) for s in specs])
    init = torch.stack([initial_prompt(s, d, std) for s in specs])
    config = TuneConfig(steps=base["max_steps"], lr=base["lr"], patience=base.get("patience"))
    started = time.perf_counter()
    result = tune(model, targets, base["m"], config=config, init=init, device=base.get("device", "cpu"))
    seconds = (time.perf_counter() - started) / len(specs)
    ver = versions()
    out = []
    for i, spec in enumerate(specs):
        ce = float(result.ce_bits[i])
        out.append({
            **{k: spec[k] for k in ("key", "model", "kind", "m", "n", "target", "seed", "max_steps")},
            "steps": int(result.steps[i]), "success": bool(result.success[i]),
            "accuracy": float(result.accuracy[i]), "ce_bits": ce if math.isfinite(ce) else None,
            "reason": result.reason[i], "losses": {"ce_bits_best": ce if math.isfinite(ce) else str(ce)},
            "seconds": round(seconds, 6), "versions": ver, "spec": {k: v for k, v in spec.items() if k != "key"},
        })
    return out


def trial(spec: dict) -> dict:
    """One trial: tune a prompt for one target; return its result dict (what the store keeps).

    Example:
        >>> r = trial({"model": "tiny", "kind": "random", "m": 1, "n": 1, "seed": 0, "target": 0,
        ...            "max_steps": 50, "lr": 0.03, "patience": None, "device": "cpu"})
        >>> sorted(k for k in r if k in ("success", "steps", "ce_bits", "key"))
        ['ce_bits', 'key', 'steps', 'success']
    """
    base = {k: v for k, v in spec.items() if k not in ("target", "key")}
    return run_task({"base": base, "targets": [spec["target"]], "chunk": 1})[0]


# ----------------------------------------------------------------------------------------- running
class Progress:
    """A one-line progress report with an ETA, printed at most every ``every`` seconds (and at the end).

    ``others`` counts trials another sweep on the same database stored meanwhile.

    Example:
        >>> p = Progress(total=4, skipped=1, stream=None)
        >>> p.update(1); p.line().split(" eta")[0][:27]
        '[######......] 2/4 trials ('
    """

    def __init__(self, total: int, skipped: int = 0, stream=sys.stderr, every: float = 1.0, width: int = 12):
        self.total, self.skipped, self.stream, self.every, self.width = total, skipped, stream, every, width
        self.done_now = 0
        self.others = 0
        self.started = time.time()
        self._last = 0.0

    def update(self, k: int, *, others: int = 0) -> None:
        self.done_now += k
        self.others += others
        now = time.time()
        if self.stream is not None and (now - self._last >= self.every or self.done + self.skipped >= self.total):
            self._last = now
            print(self.line(), file=self.stream, flush=True)

    @property
    def done(self) -> int:
        return self.done_now + self.others

    def line(self) -> str:
        done = self.done + self.skipped
        bar = int(self.width * done / max(self.total, 1))
        elapsed = time.time() - self.started
        remaining = self.total - done
        eta = elapsed / self.done * remaining if self.done else float("nan")
        eta_s = "?" if math.isnan(eta) else f"{eta:.0f}s"
        others = f", {self.others} by another sweep" if self.others else ""
        return (f"[{'#' * bar}{'.' * (self.width - bar)}] {done}/{self.total} trials "
                f"({self.skipped} stored before{others}) {elapsed:.0f}s elapsed, eta {eta_s}")


def point_of(spec: dict) -> tuple:
    """The grid point a trial belongs to: (model, kind, m, n).

    Example:
        >>> point_of({"model": "tiny", "kind": "random", "m": 1, "n": 4, "seed": 0, "target": 3})
        ('tiny', 'random', 1, 4)
    """
    return (spec["model"], spec["kind"], spec["m"], spec["n"])


def point_line(point: tuple, successes: int, trials: int) -> str:
    """One point's success rate, as the sweep prints it.

    Example:
        >>> point_line(("tiny", "random", 1, 4), 3, 8)
        'point model=tiny kind=random m=1 n=4: 3/8 reproduced (0.38)'
    """
    model, kind, m, n = point
    return f"point model={model} kind={kind} m={m} n={n}: {successes}/{trials} reproduced ({successes / trials:.2f})"


def point_rates(cfg: SweepConfig, store) -> list[str]:
    """Every point of the grid with its success rate over the trials stored so far (a line per point).

    Example:
        >>> import tempfile, os
        >>> from verify.sweeps.executors import LocalExecutor
        >>> from verify.sweeps.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
        >>> cfg = SweepConfig(n=[1], targets=2, steps=20)
        >>> _ = run_sweep(cfg, store, LocalExecutor(workers=1, threads=1), log=lambda m: None)
        >>> point_rates(cfg, store)
        ['point model=tiny kind=random m=1 n=1: 2/2 reproduced (1.00)']
    """
    planned: dict = {}
    for spec in plan(cfg):
        planned.setdefault(point_of(spec), set()).add(_key(spec))
    lines = []
    for point, keys in planned.items():
        model, kind, m, n = point
        rows = [r for r in store.rows(model=model, kind=kind, m=m, n=n) if r["key"] in keys]
        if rows:
            lines.append(point_line(point, sum(r["success"] for r in rows), len(rows))
                         + ("" if len(rows) == len(keys) else f" [{len(rows)} of {len(keys)} trials stored]"))
    return lines


def run_sweep(cfg: SweepConfig, store, executor, *, chunk: int = 1, log=None, lease: float = DEFAULT_LEASE,
              claimant: str | None = None, poll: float | None = None) -> dict:
    """Run every trial of ``cfg`` not yet in ``store``; commit each task's results as they arrive.

    Each task's missing trials are claimed in the store before the task is handed to the executor (tasks
    are pulled one by one as workers free up), so other sweeps on the same store skip them. Trials another
    sweep holds are waited for; its claims are taken over when they expire. Returns a summary dict:
    ``planned``, ``skipped`` (stored before), ``ran`` (trials computed here), ``by_others`` (stored by
    another sweep while this one ran). ``ran`` exceeds what this sweep stored only if it lost a lease.

    Example:
        >>> import tempfile, os
        >>> from verify.sweeps.executors import LocalExecutor
        >>> from verify.sweeps.store import Store
        >>> store = Store(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
        >>> cfg = SweepConfig(n=[1], targets=2, steps=20)
        >>> run_sweep(cfg, store, LocalExecutor(workers=1, threads=1), log=lambda m: None)
        {'planned': 2, 'skipped': 0, 'ran': 2, 'by_others': 0}
        >>> run_sweep(cfg, store, LocalExecutor(workers=1, threads=1), log=lambda m: None)["ran"]
        0
    """
    from verify.sweeps.store import LeaseKeeper, new_claimant

    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    cfg.validate()
    claimant = claimant or new_claimant()
    poll = min(5.0, lease / 4) if poll is None else poll
    specs = plan(cfg)
    tasks = make_tasks(specs, chunk)
    keys_of = [[s["key"] for s in task_specs(task)] for task in tasks]
    point_keys: dict = {}
    for spec in specs:
        point_keys.setdefault(point_of(spec), set()).add(_key(spec))
    done = store.done_keys()
    skipped = sum(1 for s in specs if _key(s) in done)
    todo = [i for i, keys in enumerate(keys_of) if not all(k in done for k in keys)]
    log(f"sweep: {len(specs)} trials planned, {skipped} already stored, {len(todo)} tasks to run "
        f"({executor.describe()}); results -> {store.path}")
    progress = Progress(len(specs), skipped, stream=sys.stderr)
    ran = stored_here = 0
    outcomes: dict = {}  # point -> {key: success} for the trials this sweep stored

    def claimed(indices, held_elsewhere):
        # Hand the executor only tasks this sweep could claim; the executor pulls them as workers free up.
        for i in indices:
            missing = [k for k in keys_of[i] if k not in done]
            if missing and store.claim(missing, claimant=claimant, lease=lease):
                yield tasks[i]
            elif missing:
                held_elsewhere.append(i)

    with LeaseKeeper(store.path, claimant=claimant, lease=lease):
        try:
            waited = False
            while todo:
                held_elsewhere: list = []
                before = ran
                for task, results in executor.map_unordered(run_task, claimed(todo, held_elsewhere)):
                    new = [r for r in results if r["key"] not in done]
                    ran += len(new)
                    stored_here += store.put_many(new)
                    done.update(r["key"] for r in new)
                    progress.update(len(new))
                    for r in new:
                        point = point_of(r)
                        outcomes.setdefault(point, {})[r["key"]] = r["success"]
                        if set(outcomes[point]) == point_keys[point]:
                            wins = sum(outcomes[point].values())
                            log(point_line(point, wins, len(point_keys[point])))
                stored = store.done_keys()
                progress.update(0, others=len(stored - done))
                done |= stored
                todo = [i for i in held_elsewhere if not all(k in done for k in keys_of[i])]
                if todo and ran == before:
                    if not waited:
                        log(f"sweep: waiting for {len(todo)} tasks another sweep on {store.path} is running "
                            f"(taken over if its claims lapse for {lease:g}s)")
                        waited = True
                    time.sleep(poll)
        finally:
            store.release(claimant=claimant)
    if ran > stored_here:
        log(f"sweep: {ran - stored_here} trials computed here were stored first by another sweep "
            f"(their claims had lapsed: raise --lease)")
    return {"planned": len(specs), "skipped": skipped, "ran": ran, "by_others": len(specs) - skipped - stored_here}


def _key(spec: dict) -> str:
    from verify.sweeps.store import trial_key

    return trial_key(spec)


def dry_run(cfg: SweepConfig, db_path: Path, chunk: int) -> str:
    """The planned grid, its size, and how much of it the database already holds (nothing is written).

    Example:
        >>> print(dry_run(SweepConfig(m=[1, 2], n=[4], targets=3), Path("/nonexistent/x.sqlite"), 1))  # doctest: +ELLIPSIS
        grid: models=['tiny'] x kind=random x m=[1, 2] x n=[4] x seeds=[0] x targets=3
        size: 6 trials in 6 tasks (chunk 1); steps <= 300 per trial, lr 0.03
        database /nonexistent/x.sqlite: does not exist yet; all 6 trials to run
    """
    from verify.sweeps.store import Store

    cfg.validate()
    specs = plan(cfg)
    tasks = make_tasks(specs, chunk)
    lines = [f"grid: models={cfg.models} x kind={cfg.kind} x m={cfg.m} x n={cfg.n} x seeds={cfg.seeds} "
             f"x targets={cfg.targets}",
             f"size: {len(specs)} trials in {len(tasks)} tasks (chunk {chunk}); steps <= {cfg.steps} per trial, "
             f"lr {cfg.lr:g}"]
    if db_path.exists() and db_path.stat().st_size > 0:
        with Store(db_path, readonly=True) as store:
            done = store.done_keys()
        have = sum(1 for s in specs if _key(s) in done)
        lines.append(f"database {db_path}: {have} of these trials stored, {len(specs) - have} to run")
    else:
        lines.append(f"database {db_path}: does not exist yet; all {len(specs)} trials to run")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- CLI
PROG = "verify.sweeps"  # what the user types: python -m verify.sweeps (verify.sweeps.sweep works too)
RUN_EPILOG = """\
models: tiny (built in, for tests), the zoo's natural, witness and random, or your own model:
gguf:PATH (a GGUF file) or hf:DIR (a local Hugging Face causal-LM folder with config.json and weights).

Concurrent sweeps on one --db split the grid (each claims its trials in the database first).
Export what a database holds without running anything:
  python -m verify.sweeps export [--db PATH] --csv FILE [--json FILE]
"""


def _run_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {PROG}", description=__doc__.split("\n")[0].split(": ", 1)[1],
                epilog=RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["tiny"], metavar="MODEL",
                   help="tiny, natural, witness, random, gguf:PATH or hf:DIR (default: tiny)")
    p.add_argument("--kind", default="random", help="target kind: random or natural (default: random)")
    p.add_argument("--m", nargs="+", type=int, default=[1], help="prompt lengths (default: 1)")
    p.add_argument("--n", nargs="+", type=int, default=[4], help="target lengths in tokens (default: 4)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds of targets and initial prompts (default: 0)")
    p.add_argument("--targets", type=int, default=8, help="targets per (model, m, n, seed) (default: 8)")
    p.add_argument("--steps", type=int, default=300, help="max optimizer steps per trial (default: 300)")
    p.add_argument("--lr", type=float, default=3e-2, help="learning rate (default: 0.03)")
    p.add_argument("--patience", type=int, default=None,
                   help="give a trial up after this many steps without loss improvement (default: never)")
    p.add_argument("--chunk", type=int, default=1, help="targets per task, one batched tuning call (default: 1)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="(default: cpu)")
    p.add_argument("--db", default=None, metavar="PATH",
                   help="results database (default: $PML_RESULTS_DB, else out/results.sqlite)")
    p.add_argument("--executor", default="local", help="local or ray (default: local)")
    p.add_argument("--address", default=None,
                   help="Ray cluster address HOST:PORT or 'auto' (default: a private local Ray instance)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: usable cores)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per local worker (default: cores // workers; Ray tasks always use 1)")
    p.add_argument("--lease", type=float, default=DEFAULT_LEASE, metavar="SECONDS",
                   help=f"how long a claim on a task lasts unless renewed; a killed sweep's trials are taken "
                        f"over after it (default: {DEFAULT_LEASE:g})")
    p.add_argument("--dry-run", action="store_true", help="print the planned grid and its size, run nothing")
    p.add_argument("--export-csv", default=None, metavar="FILE", help="after the sweep, write every stored trial as CSV")
    p.add_argument("--export-json", default=None, metavar="FILE", help="after the sweep, write every stored trial as JSON")
    return p


def _export_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {PROG} export", description="export stored trials to CSV and/or JSON (runs nothing)")
    p.add_argument("--db", default=None, metavar="PATH",
                   help="results database (default: $PML_RESULTS_DB, else out/results.sqlite)")
    p.add_argument("--csv", default=None, metavar="FILE", help="write every trial as CSV, one row per trial")
    p.add_argument("--json", default=None, metavar="FILE", help="write every trial as JSON")
    return p


def _export(store, csv_path, json_path) -> None:
    if csv_path:
        print(f"exported {store.count()} trials to {store.export_csv(csv_path)}")
    if json_path:
        print(f"exported {store.count()} trials to {store.export_json(json_path)}")


def main(argv=None) -> int:
    """Entry point; returns the exit code (0 done, 2 bad input)."""
    from verify.sweeps.executors import ExecutorError, make_executor
    from verify.model import ModelFileError
    from verify.sweeps.store import Store, StoreError, check_export_path, default_path

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["export"]:
            args = _export_parser().parse_args(argv[1:])
            if not args.csv and not args.json:
                raise UsageError("export needs --csv PATH and/or --json PATH")
            for target in (args.csv, args.json):
                if target:
                    check_export_path(target)
            with Store(Path(args.db) if args.db else default_path(), readonly=True) as store:
                _export(store, args.csv, args.json)
            return 0
        args = _run_parser().parse_args(argv)
        for opt in ("workers", "threads"):
            if getattr(args, opt) is not None and getattr(args, opt) < 1:
                raise UsageError(f"--{opt} must be >= 1, got {getattr(args, opt)}")
        if args.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise UsageError("--device cuda given but no CUDA device is available")
        cfg = SweepConfig(models=args.models, kind=args.kind, m=args.m, n=args.n, seeds=args.seeds,
                          targets=args.targets, steps=args.steps, lr=args.lr, patience=args.patience,
                          device=args.device)
        cfg.validate()
        make_tasks([], args.chunk)
        if not args.lease > 0:
            raise UsageError(f"--lease must be > 0 seconds, got {args.lease:g}")
        db = Path(args.db) if args.db else default_path()
        for target in (args.export_csv, args.export_json):  # a bad export path fails now, not after the sweep
            if target:
                check_export_path(target)
        if args.dry_run:
            print(dry_run(cfg, db, args.chunk))
            return 0
        store = Store(db)
        executor = make_executor(args.executor, address=args.address, workers=args.workers,
                                 threads=args.threads)
        try:
            summary = run_sweep(cfg, store, executor, chunk=args.chunk, lease=args.lease)
            for line in point_rates(cfg, store):
                print(line)
            print(f"sweep: {summary['ran']} trials run here, {summary['by_others']} by another sweep meanwhile, "
                  f"{summary['skipped']} were stored before; {store.count()} trials in {store.path}")
            _export(store, args.export_csv, args.export_json)
        finally:
            executor.close()
            store.close()
        return 0
    except (UsageError, ValueError, StoreError, ExecutorError, ModelFileError) as exc:
        return usage_failure(PROG, exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; finished trials are stored, rerun to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
