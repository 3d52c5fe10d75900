"""What the bounds need to know of a model's last layer, measured from the model itself (:func:`measure_geometry`),
for a real LM (:mod:`verify.real`) or a zoo model alike:

- ``r``: the l_inf radius of last-layer states (after the final norm, the states the LM head reads),
  over uniformly random token prompts, as a function of prompt length l: ``r(l) = max |h|_inf`` over all
  sampled prompts of length <= l. In a causal model the state at position t of a random sequence is
  the last state of its random prefix of length t+1, so one forward pass of length L samples every
  length 1..L at once. L doubles until r(L) exceeds r(L/2) by less than ``tol`` (it "settles").
  As in [HMDO]'s replication code (``generate_embeddings.py``), lengths below ``min_length`` (default
  4) are left out: the first positions of a causal LM are attention sinks, not typical states.
- ``theta``: the opening angle, ``arccos`` of the smallest cosine similarity between two sampled states
  (the largest angle between any two of them), the definition of [HMDO]'s code
  (``th_bounds_estimation.ipynb``: ``theta = arccos(min_cos)``) behind its Table 2. The cone refinement
  (docs/theory.md) then uses the spherical sector of half-angle theta/2. This is an estimate from samples: a
  set whose pairwise angles are at most theta lies in a cone of half-angle theta/2 only approximately.

Next-token cells (:func:`lm_cell_counts`, :func:`cell_volumes`) give the non-uniform column of [HMDO]'s Table 1,
and :func:`bound_slopes` T1's tokens per vector for the measured r and theta (from :mod:`bounds`).

Example:
    >>> round(bound_slopes(576, 49152, 56.43)["float_fp32"])   # SmolLM2-135M: T1's float form, tokens per vector
    1148
"""
from __future__ import annotations

import math
import time

import torch


@torch.no_grad()
def last_layer_states(lm, length: int, samples: int, seed: int, batch: int = 8, alphabet=None) -> torch.Tensor:
    """Final states of ``samples`` uniformly random token sequences of ``length``: (samples, length, d).

    Position t holds the last state of the random prompt of length t+1 (causal model).
    """
    device = lm.tok_emb.weight.device
    ids = torch.tensor(alphabet if alphabet is not None else range(lm.cfg.vocab_size), dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    tokens = ids[torch.randint(0, len(ids), (samples, length), generator=g)]
    out = []
    for start in range(0, samples, batch):
        out.append(lm.hidden(tokens[start:start + batch].to(device)).float().cpu())
    return torch.cat(out)


def min_pairwise_cosine(states: torch.Tensor, chunk: int = 4096) -> tuple[float, float]:
    """(smallest, mean) cosine similarity over all pairs of distinct rows of ``states`` (n, d).

    Example:
        >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
        >>> [round(v, 4) for v in min_pairwise_cosine(s)]
        [0.0, 0.4714]
    """
    x = states.double()
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-30)
    n = x.shape[0]
    if n < 2:
        raise ValueError("need at least two states")
    lo, total = math.inf, 0.0
    for start in range(0, n, chunk):
        block = x[start:start + chunk] @ x.T  # (c, n)
        rows = torch.arange(start, min(start + chunk, n))
        block[torch.arange(len(rows)), rows] = math.nan  # exclude self-pairs
        lo = min(lo, float(block.nan_to_num(math.inf).min()))
        total += float(block.nan_to_num(0.0).sum())
    return lo, total / (n * (n - 1))


@torch.no_grad()
def measure_geometry(lm, *, samples: int = 32, start_length: int = 32, max_length: int = 512,
                     min_length: int = 4, tol: float = 0.02, seed: int = 0, theta_states: int = 4096,
                     batch: int = 8, settle_from: int = 128, log=None) -> dict:
    """Measure r (l_inf radius of last-layer states) against prompt length until it settles, and theta.

    Doubles the sampled length L from ``start_length`` until ``r(L) <= (1 + tol) * r(L/2)`` with
    ``L >= settle_from`` (a short prompt can look settled before rarer large states show up), or until
    ``max_length``. Returns ``r``, ``r_l2``, ``theta`` (radians), ``lo``/``hi`` (per-coordinate minimum
    and maximum of the sampled states: the box), ``min_cos``, ``mean_cos``, ``settled``,
    ``curve`` ([(l, r(l)), ...] at powers of two), the settings, and the seconds taken.

    Example:
        >>> from verify.model import ModelConfig, Transformer
        >>> toy = Transformer(ModelConfig(vocab_size=16, d_model=8, n_layer=1, n_head=2)).freeze()
        >>> g = measure_geometry(toy, samples=4, start_length=8, max_length=16)
        >>> 0 < g["r"] < 10 and 0 <= g["theta"] <= math.pi and g["curve"][-1][0] <= 16
        True
    """
    t0 = time.time()
    alphabet = lm.alphabet() if hasattr(lm, "alphabet") else None
    length = max(start_length, 2 * min_length)
    prev_r, settled, curve, states = None, False, [], None
    pooled = []  # states of every round: r and theta are taken over all of them
    round_ = 0
    while True:
        states = last_layer_states(lm, length, samples, seed + round_, batch=batch, alphabet=alphabet)
        round_ += 1
        usable = states[:, min_length - 1:, :]  # positions >= min_length-1: prompt lengths >= min_length
        pooled.append(usable.reshape(-1, usable.shape[-1]))
        per_pos = usable.abs().amax(dim=(0, 2))  # l_inf radius per prompt length
        cummax = torch.cummax(per_pos, dim=0).values
        curve = [(l, float(cummax[l - min_length])) for l in _powers(min_length, length)]
        r_now = float(cummax[-1])
        r_half = float(cummax[length // 2 - min_length]) if length // 2 >= min_length else None
        if log:
            log(f"geometry: length {length}: r = {r_now:.4g}" + (f" (r at {length // 2}: {r_half:.4g})" if r_half else ""))
        if r_half is not None and r_now <= (1 + tol) * r_half and length >= min(settle_from, max_length):
            settled = True
            break
        if length * 2 > max_length:
            break
        prev_r = r_now
        length *= 2
    flat = torch.cat(pooled)
    g = torch.Generator().manual_seed(seed + 7919)
    pick = torch.randperm(flat.shape[0], generator=g)[:theta_states]
    min_cos, mean_cos = min_pairwise_cosine(flat[pick])
    min_cos = max(-1.0, min(1.0, min_cos))
    return {"r": float(flat.abs().max()), "r_l2": float(flat.norm(dim=1).max()), "theta": math.acos(min_cos),
            "lo": flat.amin(dim=0).tolist(), "hi": flat.amax(dim=0).tolist(), "states": int(flat.shape[0]),
            "min_cos": min_cos, "mean_cos": mean_cos, "settled": settled, "curve": curve,
            "max_length": length, "samples": samples, "min_length": min_length, "tol": tol,
            "states_for_theta": int(len(pick)), "seconds": round(time.time() - t0, 2), "seed": seed,
            "previous_r": prev_r}


def _powers(lo: int, hi: int) -> list[int]:
    out, l = [], 1
    while l <= hi:
        if l >= lo:
            out.append(l)
        l *= 2
    if out[-1] != hi:
        out.append(hi)
    return out


# ----------------------------------------------------------------------------------------- bounds
def bound_slopes(d: int, vocab: int, r: float, theta: float | None = None, alphabet: int | None = None) -> dict:
    """T1's slope C (tokens per prompt vector) for a model with width d and measured radius r.

    Forms: ``fp32``/``fp16``: ball form with eps the machine epsilon (2^-23, 2^-10, docs/theory.md conventions);
    ``hmdo_rel``: eps = 2^(log2 r - 11) as in [HMDO]'s code; ``float_fp32``/``float_fp16``: float form
    (count of representable values in [-r, r]); ``bits16``: Kuratov et al.'s 16-bit maximum capacity;
    ``*_cone``: with the cone refinement at opening angle theta. Slopes are in tokens of ``alphabet``
    symbols (default: the vocabulary), i.e. log2 Npr per vector / log2 |A|.

    Example:
        >>> s = bound_slopes(576, 49152, r=10.0)
        >>> round(s["bits16"], 2)   # 16 * 576 / log2(49152)
        591.34
    """
    import mpmath

    from bounds import (DEFAULT_DPS, log2_cone_fraction, log2_prompts_ball, log2_prompts_bits, log2_prompts_float,
                        tokens_per_vector)

    with mpmath.workdps(DEFAULT_DPS):
        log2_a = mpmath.log(alphabet or vocab, 2)
        out = {}
        for name, eps in (("fp32", mpmath.mpf(2) ** -23), ("fp16", mpmath.mpf(2) ** -10),
                          ("hmdo_rel", mpmath.mpf(2) ** (mpmath.log(r, 2) - 11))):
            out[name] = float(log2_prompts_ball(d, 1, r, eps) / log2_a)
            if theta is not None and 0 < theta <= math.pi:
                out[name + "_cone"] = float((log2_prompts_ball(d, 1, r, eps) + log2_cone_fraction(d, theta)) / log2_a)
        for dtype in ("fp32", "fp16"):
            out[f"float_{dtype}"] = float(log2_prompts_float(d, 1, r, dtype) / log2_a)
        out["bits16"] = float(log2_prompts_bits(d, 1, 16) / log2_a)
        if alphabet is None:  # cross-check with the library's own Consequence A
            assert abs(float(tokens_per_vector(d, vocab, radius=r, eps=mpmath.mpf(2) ** -23)) - out["fp32"]) < 1e-6
    return out


# ----------------------------------------------------------------------------------------- next-token cells
def lm_head(lm):
    """The LM head of a loaded real model as a callable from final states (k, d) to logits (float32), on
    the head's device: what :func:`verify.measure.cell_counts` counts the next-token cells of.

    Example:
        >>> head = torch.nn.Linear(4, 3, bias=False)
        >>> lm = type("L", (), {"hf": type("H", (), {"get_output_embeddings": lambda self: head})()})()
        >>> lm_head(lm)(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
    """
    head = lm.hf.get_output_embeddings()
    w = head.weight.detach().float()
    bias = getattr(head, "bias", None)
    b = bias.detach().float() if bias is not None else 0

    def logits(x):
        return x.to(w.device) @ w.T + b
    return logits


def lm_cell_counts(lm, radius: float, samples: int, *, seed: int = 0, snapshots: tuple = ()):
    """:func:`verify.measure.cell_counts` of a real model's head, 2048 points at a time (the stream the
    committed Table 1 rows were measured with)."""
    from verify.measure import cell_counts

    return cell_counts(lm_head(lm), lm.cfg.d_model, lm.cfg.vocab_size, radius, samples, seed=seed, batch=2048,
                       snapshots=snapshots)


def cell_volumes(counts, samples: int | None = None) -> "np.ndarray":
    """Cell volumes (fractions of the support) from Monte Carlo counts, every cell > 0, summing to 1.

    A cell no point hit is not empty, only small: dropping it keeps only the larger cells, so the
    median product of volumes, and with it the non-uniform bound, depends on the sample size (it falls
    as more points find more small cells). Instead the Good-Turing estimate of the mass no point hit,
    M0 = (cells hit once)/N (at least 1/N when no cell was hit once), is spread evenly over the cells
    not hit, and the cells hit get (1 - M0) * count/N: a consistent estimate whose non-uniform bound
    settles as N grows (:func:`table1_row` reports it at N/4, N/2 and N to show it).

    Example:
        >>> [round(float(v), 3) for v in cell_volumes([3, 1, 0, 0])]
        [0.562, 0.188, 0.125, 0.125]
    """
    import numpy as np

    c = np.asarray(counts, dtype=float)
    n = float(samples if samples is not None else c.sum())
    empty = c == 0
    if not empty.any():
        return c / n
    missing = max(float((c == 1).sum()), 1.0) / n
    v = (1 - missing) * c / n
    v[empty] = missing / empty.sum()
    return v
