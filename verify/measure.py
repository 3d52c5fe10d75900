"""Measured points of prompt tuning: one (m, n) batch of targets as a record, capacities with intervals (the
points are kept by :class:`verify.store.PointStore`).

A *point* is what :func:`verify.engine.tune` measured on ``trials`` targets of length n with prompts of
length m: successes, the fraction f, and the residual cross-entropy (mean, standard deviation, count of
finite values, so that a confidence bound on the mean can be taken later at any level). Experiments keep
points, not confidence bounds: the level (``ctx.confidence``) depends on the whole run, the measurement does
not.

The *capacity* of a scan over n is ``max_n [n*log2|V| + log2 f(n)]`` bits (log2 of the number of accessible
sequences, at the best n); :func:`capacity` reports it as a point estimate with a one-sided Clopper-Pearson
interval at a given level, split (Bonferroni) over the points the scan could have measured.

Example:
    >>> pts = [{"n": 4, "successes": 64, "trials": 64}, {"n": 5, "successes": 2, "trials": 64}]
    >>> c = capacity(pts, log2_vocab=4.0, confidence=0.95)
    >>> c["n"], round(c["bits"], 2), round(c["bits_lower"], 2), c["bits_upper"]
    (4, 16.0, 15.92, 16.0)
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch

import verify.checks
from verify.checks import grid_deviation
from verify.stats import clopper_pearson_lower, clopper_pearson_upper

# the code that writes a point's record: part of a stored point's key, so a changed record is re-measured
RECORD_CODE = (Path(__file__), Path(verify.checks.__file__))


def leading_matches(pred: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per row (last dimension), the number of leading positions where ``pred`` equals ``targets``: the
    greedy prefix a prompt reproduces, the correct prefix of a copy.

    Example:
        >>> leading_matches(torch.tensor([[1, 2, 3], [1, 0, 3]]), torch.tensor([[1, 2, 4], [1, 2, 3]])).tolist()
        [2, 1]
    """
    return (pred == targets).long().cumprod(dim=-1).sum(dim=-1)


@torch.no_grad()
def cell_counts(head, d: int, vocab: int, radius: float, samples: int, *, seed: int = 0, batch: int = 8192,
                snapshots: tuple = (), device="cpu") -> tuple[torch.Tensor, dict]:
    """Monte Carlo next-token cells: how many of ``samples`` points uniform in ``[-radius, radius]^d`` (T1's
    l_inf ball) the head (a callable from states (k, d) to logits (k, |V|)) sends to each token (argmax).

    Returns (counts (|V|,), {k: counts after the first k points for k in ``snapshots``}). The points are
    drawn on the CPU from one seeded generator, ``batch`` at a time (the batch is part of the stream).

    Example:
        >>> head = torch.nn.Linear(4, 3, bias=False)
        >>> c, snap = cell_counts(head, 4, 3, 1.0, 100, seed=1, batch=30, snapshots=(50,))
        >>> int(c.sum()), int(snap[50].sum())
        (100, 50)
    """
    g = torch.Generator().manual_seed(seed)
    counts = torch.zeros(vocab, dtype=torch.long)
    snaps, done = {}, 0
    marks = sorted(set(int(k) for k in snapshots if 0 < k < samples))
    while done < samples:
        k = min(batch, samples - done, *(mk - done for mk in marks if mk > done))
        x = ((torch.rand(k, d, generator=g) * 2 - 1) * radius).to(device)
        counts += torch.bincount(head(x).argmax(-1).cpu(), minlength=vocab)
        done += k
        if done in marks:
            snaps[done] = counts.clone()
    return counts, snaps


def point_record(n: int, result, *, levels: int | None = None, radius: float | None = None) -> dict:
    """The record of one measured (m, n): counts, fraction, cross-entropy summary (bits), teacher-forced accuracy.

    With ``radius``, also ``grid``: how far the prompts the model saw are from the Q-level grid (``levels``)
    or the box (``levels=None``), :func:`verify.checks.grid_deviation`.

    Example:
        >>> from types import SimpleNamespace
        >>> r = SimpleNamespace(success=torch.tensor([True, False]), ce_bits=torch.tensor([1.0, 3.0]),
        ...                     accuracy=torch.tensor([1.0, 0.5]), reason=["reproduced", "patience"])
        >>> rec = point_record(5, r); rec["successes"], rec["f"], rec["mean_ce_bits"], round(rec["sd_ce_bits"], 3)
        (1, 0.5, 2.0, 1.414)
    """
    s, t = int(result.success.sum()), len(result.success)
    ce = result.ce_bits.double().numpy()
    finite = ce[np.isfinite(ce)]
    return {"n": n, "successes": s, "trials": t, "f": s / t,
            "mean_ce_bits": float(finite.mean()) if finite.size else float("nan"),
            "sd_ce_bits": float(finite.std(ddof=1)) if finite.size > 1 else 0.0, "ce_count": int(finite.size),
            "accuracy": float(result.accuracy.mean()),
            "nan_failures": sum(1 for r in result.reason if r.startswith("loss became")),
            **({} if radius is None else {"grid": grid_deviation(result.prompts, levels, radius)})}


def ce_upper(point: dict, confidence: float) -> float:
    """One-sided upper confidence bound on the point's mean cross-entropy (Student t, from its summary).

    Example:
        >>> round(ce_upper({"mean_ce_bits": 2.0, "sd_ce_bits": 1.0, "ce_count": 3}, 0.95), 3)
        3.686
    """
    k = point.get("ce_count", 0)
    if k < 2:
        return point.get("mean_ce_bits", float("nan"))
    from scipy.stats import t as student_t

    return float(point["mean_ce_bits"] + student_t.ppf(confidence, k - 1) * point["sd_ce_bits"] / math.sqrt(k))


def capacity(points: list[dict], log2_vocab: float, confidence: float, max_points: int | None = None) -> dict:
    """Capacity ``n*log2|V| + log2 f`` at the n whose lower bound is largest: point estimate and interval.

    ``bits_lower``/``bits_upper`` are one-sided Clopper-Pearson bounds at level ``1 - (1 - confidence)/k``
    each, k = ``max_points`` (the most points the scan could measure; default: those given), so the lower
    bound of the maximum holds at ``confidence`` whichever n attains it. No success anywhere: 0 bits, n None.

    Example:
        >>> capacity([{"n": 3, "successes": 0, "trials": 8}], 4.0, 0.95)["n"] is None
        True
    """
    k = max(max_points or len(points), 1)
    level = 1 - (1 - confidence) / k
    best = None
    for p in points:
        if p["successes"] == 0:
            continue
        lower = p["n"] * log2_vocab + math.log2(clopper_pearson_lower(p["successes"], p["trials"], level))
        if best is None or lower > best[0]:
            best = (lower, p)
    if best is None:
        return {"n": None, "bits": 0.0, "bits_lower": 0.0, "bits_upper": 0.0, "level_per_point": level}
    lower, p = best
    return {"n": p["n"], "bits": p["n"] * log2_vocab + math.log2(p["successes"] / p["trials"]),
            "bits_lower": max(lower, 0.0),
            "bits_upper": p["n"] * log2_vocab + math.log2(clopper_pearson_upper(p["successes"], p["trials"], level)),
            "successes": p["successes"], "trials": p["trials"], "level_per_point": level}


def tune_chunked(model, targets: torch.Tensor, m: int, *, config, device, chunk: int):
    """:func:`verify.engine.tune` on ``chunk`` targets at a time (memory: large vocabularies), results joined.

    Example:
        >>> from verify.model import ModelConfig, Transformer
        >>> from verify.engine import TuneConfig
        >>> model = Transformer(ModelConfig(vocab_size=8, d_model=16, n_layer=1, n_head=2)).freeze()
        >>> r = tune_chunked(model, torch.tensor([[3], [5], [1]]), 1, config=TuneConfig(steps=5), device="cpu", chunk=2)
        >>> len(r.success), len(r.reason)
        (3, 3)
    """
    from types import SimpleNamespace

    from verify.engine import tune

    parts = [tune(model, targets[i:i + chunk], m, config=config, device=device) for i in range(0, len(targets), chunk)]
    return SimpleNamespace(success=torch.cat([r.success for r in parts]), ce_bits=torch.cat([r.ce_bits for r in parts]),
                           accuracy=torch.cat([r.accuracy for r in parts]),
                           reason=[x for r in parts for x in r.reason], prompts=torch.cat([r.prompts for r in parts]))


def file_hash(*paths) -> str:
    """Short hash of files' bytes (the measuring code and weights a stored point came from).

    Example:
        >>> len(file_hash(__file__))
        12
    """
    h = hashlib.sha256()
    for path in paths:
        h.update(Path(path).read_bytes())
    return h.hexdigest()[:12]


