"""Experiment "geometry": the final-representation space of the zoo models, measured for Fig. 1, Fig. 3 and Table 1.

The refinements of T1 ([HMDO] section 5) need the support of the last-layer states (after the final
LayerNorm, before the unembedding): its l_inf radius, the opening angle theta of a cone around it,
per-coordinate ranges (box), and the next-token cell volumes. As in [HMDO]'s replication code, the support
is estimated from a sample of states: the state at every position of in-domain contexts (held-out Bible
text for the natural model, uniformly random alphabet tokens otherwise). Cell volumes are estimated by
Monte Carlo: points uniform in the l_inf ball of radius ``zoo.radius`` are sent through the unembedding and
assigned to ``argmax(logits)`` (not to the nearest unembedding row, which differs when the rows have
unequal norms). Fig. 1's plane cut is the argmax on a grid of the plane through three final states.

It is an instrument, not a check: everything here is data (the figures compute the bounds from it), so
:func:`run` returns no checks. Figure data ``DIR/data/geometry.json``:

- ``models``: per zoo model that loads, in the order natural, witness, random: ``d``, ``vocab``, ``dtype``,
  ``radius`` (the zoo's measured l_inf radius), ``support`` (``radius_inf``, ``theta``, ``sides`` of the
  sampled states, ``states``: how many) and ``cells`` (``samples``, ``counts`` per token, ``seed``);
- ``missing``: one line per zoo model that did not load;
- ``plane_cut``: on the first model that loads, ``axis_u``/``axis_v`` grid coordinates, ``tokens[j][i]`` the
  argmax at (axis_u[i], axis_v[j]), ``points`` (plane coordinates of the three final states),
  ``predicted`` (the model's next token after each context), ``points_argmax`` (the grid rule at the
  points), ``contexts`` (their token ids), ``model`` and ``byte_level``.

Example:
    >>> import torch
    >>> from verify.model import ModelConfig, Transformer
    >>> model = Transformer(ModelConfig(vocab_size=4, d_model=8, n_layer=1, n_head=2)).eval()
    >>> counts, _ = cell_counts(model.head, 8, 4, radius=1.0, samples=1000, seed=0)
    >>> int(counts.sum()), len(counts)
    (1000, 4)
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from verify import subjects
from verify.measure import cell_counts
from verify.lm_geometry import min_pairwise_cosine
from verify.registry import Experiment
from verify.report import Check, write_data
from verify.rng import derive_seed

ZOO_ORDER = ("natural", "witness", "random")


@dataclass(frozen=True)
class Settings:
    """Sample sizes of the geometry measurement."""

    cell_samples: int          # Monte Carlo points for the cell volumes
    contexts: int = 128        # in-domain contexts whose states sample the support
    context_length: int = 48
    theta_states: int = 4096   # states the opening angle is taken over (all pairs)
    plane_resolution: int = 120


EXPERIMENT = Experiment(
    name="geometry", order=65, results=(), profiles=("quick", "full"),
    settings={"quick": Settings(cell_samples=200_000), "full": Settings(cell_samples=2_000_000, plane_resolution=200)},
    seconds={"quick": 2, "full": 13},
    statistical_checks={"quick": 0, "full": 0})


@torch.no_grad()
def support_stats(states: torch.Tensor, theta_states: int = 4096, seed: int = 0) -> dict:
    """l_inf radius, opening angle theta and per-coordinate ranges (box sides) of a sample of states (N, d).

    theta = arccos of the smallest pairwise cosine over (up to ``theta_states``) sampled states, the
    definition of [HMDO]'s code and of :func:`verify.lm_geometry.measure_geometry`, so Table 1 treats the zoo and
    the real models alike.

    Example:
        >>> s = support_stats(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        >>> round(s["theta"], 4), s["radius_inf"], s["sides"]
        (1.5708, 1.0, [1.0, 1.0])
    """
    s = states.double()
    pick = torch.randperm(s.shape[0], generator=torch.Generator().manual_seed(seed))[:theta_states]
    min_cos, _ = min_pairwise_cosine(s[pick])
    return {"radius_inf": float(s.abs().max()), "theta": math.acos(max(-1.0, min(1.0, min_cos))),
            "sides": (s.max(0).values - s.min(0).values).tolist(), "states": int(s.shape[0])}


def contexts(zm, *, count: int, length: int, seed: int) -> torch.Tensor:
    """In-domain token contexts (count, length): held-out text for the natural model, random tokens else."""
    subject = subjects.from_zoo(zm)
    kind = "natural" if subject.natural is not None else "random"
    return subjects.targets(subject, kind, count=count, n=min(length, zm.model.cfg.block_size), seed=seed)


def plane_basis(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Origin (centroid) and orthonormal basis (2, d) of the affine plane through three states (3, d).

    Example:
        >>> o, b = plane_basis(torch.eye(3, dtype=torch.float64))
        >>> torch.allclose(b @ b.T, torch.eye(2, dtype=torch.float64))
        True
    """
    s = states.double()
    origin = s.mean(0)
    u = s[1] - s[0]
    u = u / u.norm()
    v = s[2] - s[0]
    v = v - (v @ u) * u  # Gram-Schmidt: the plane is exactly the one through the three points
    if v.norm() < 1e-12:
        raise ValueError("the three final states are collinear: no plane through them")
    return origin, torch.stack([u, v / v.norm()])


@torch.no_grad()
def plane_cut(model, contexts: torch.Tensor, resolution: int = 160, margin: float = 1.6) -> dict:
    """Argmax next token on a square grid of the plane through the final states of ``contexts`` (3, T).

    Returns lists (JSON-able): ``axis_u``/``axis_v`` grid coordinates, ``tokens[j][i]`` the argmax at
    (axis_u[i], axis_v[j]), ``points`` the plane coordinates of the three final states, ``predicted`` the
    model's own next token after each context, and ``points_argmax`` the grid rule evaluated at the points.

    Example:
        >>> from verify.model import ModelConfig, Transformer
        >>> model = Transformer(ModelConfig(vocab_size=6, d_model=8, n_layer=1, n_head=2)).eval()
        >>> cut = plane_cut(model, torch.tensor([[1, 2], [3, 4], [5, 0]]), resolution=5)
        >>> len(cut["axis_u"]), len(cut["tokens"]), len(cut["points"])
        (5, 5, 3)
    """
    model = model.float().eval()
    states = model.hidden(contexts)[:, -1, :].double()
    origin, basis = plane_basis(states)
    coords = (states - origin) @ basis.T  # exact: the states lie in the plane
    half = margin * float(coords.abs().max())
    axis = torch.linspace(-half, half, resolution, dtype=torch.float64)
    uu, vv = torch.meshgrid(axis, axis, indexing="xy")
    grid = origin + uu.reshape(-1, 1) * basis[0] + vv.reshape(-1, 1) * basis[1]
    head = model.head
    tokens = head(grid.float()).argmax(-1).reshape(resolution, resolution)
    back = (origin + coords @ basis).float()
    return {
        "axis_u": axis.tolist(), "axis_v": axis.tolist(), "tokens": tokens.tolist(),
        "points": coords.tolist(), "predicted": model(contexts)[:, -1, :].argmax(-1).tolist(),
        "points_argmax": head(back).argmax(-1).tolist(),
    }


@torch.no_grad()
def spread_contexts(model, contexts: torch.Tensor, k: int = 3) -> torch.Tensor:
    """``k`` of ``contexts`` whose final states are far apart and, where possible, predict different tokens
    (greedy farthest-point choice), so the plane shows several cells around well-separated states.

    Example:
        >>> from verify.model import ModelConfig, Transformer
        >>> m = Transformer(ModelConfig(vocab_size=5, d_model=8, n_layer=1, n_head=2)).eval()
        >>> spread_contexts(m, torch.randint(0, 5, (6, 4), generator=torch.Generator().manual_seed(0))).shape
        torch.Size([3, 4])
    """
    states = model.hidden(contexts)[:, -1, :].double()
    predicted = model.head(states.float()).argmax(-1)
    chosen = [int(states.norm(dim=1).argmax())]
    while len(chosen) < k:
        dist = torch.cdist(states, states[chosen]).min(dim=1).values
        fresh = torch.tensor([int(p) not in {int(predicted[c]) for c in chosen} for p in predicted])
        dist[~fresh] *= 1e-3  # prefer a new predicted token; fall back to distance alone
        dist[chosen] = -1
        chosen.append(int(dist.argmax()))
    return contexts[chosen]


def measure_model(zm, *, settings: Settings, seed: int) -> dict:
    """Support statistics and Monte Carlo cell counts of one zoo model (one entry of ``models``)."""
    ctx = contexts(zm, count=settings.contexts, length=settings.context_length,
                   seed=derive_seed(seed, "geometry", "contexts", zm.name))
    with torch.no_grad():
        h = zm.model.hidden(ctx.to(next(zm.model.parameters()).device))
    states = h.reshape(-1, h.shape[-1]).double().cpu()
    cell_seed = derive_seed(seed, "geometry", "cells", zm.name)
    model = zm.model.cpu()
    counts = cell_counts(model.head, zm.d, model.cfg.vocab_size, zm.radius, settings.cell_samples, seed=cell_seed)[0].numpy()
    return {"d": zm.d, "vocab": zm.vocab, "dtype": zm.dtype, "radius": zm.radius,
            "support": support_stats(states, settings.theta_states, seed=derive_seed(seed, "geometry", "theta", zm.name)),
            "cells": {"samples": settings.cell_samples, "counts": counts.tolist(), "seed": cell_seed}}


def measure_plane(zm, *, settings: Settings, seed: int) -> dict:
    """Fig. 1's plane cut on one zoo model, through three well-spread in-domain contexts."""
    model = zm.model.cpu()
    chosen = spread_contexts(model, contexts(zm, count=32, length=24, seed=derive_seed(seed, "geometry", "plane")))
    cut = plane_cut(model, chosen, resolution=settings.plane_resolution)
    cut.update(model=zm.name, contexts=chosen.tolist(), byte_level=zm.vocab == 256)
    return cut


def run(ctx) -> list[Check]:
    """Measure every zoo model that loads and write ``data/geometry.json``; no checks (see the module docstring)."""
    from verify import zoo

    s = ctx.settings
    t0 = time.time()
    data = {"settings": asdict(s), "models": {}, "missing": []}
    for name in ZOO_ORDER:
        try:
            zm = zoo.load(name)  # on the CPU: the Monte Carlo is cheap, the figures' numbers stay CPU numbers
        except Exception as exc:  # a zoo model without weights: the others are still measured
            data["missing"].append(f"{name}: {exc}")
            continue
        data["models"][name] = measure_model(zm, settings=s, seed=ctx.seed)
        if "plane_cut" not in data:
            data["plane_cut"] = measure_plane(zm, settings=s, seed=ctx.seed)
        ctx.log(f"  geometry {name}: radius {zm.radius:.3g}, theta {data['models'][name]['support']['theta']:.3f}, "
                f"{s.cell_samples} Monte Carlo points ({time.time() - t0:.1f}s)")
    data["seconds"] = round(time.time() - t0, 1)
    write_data(ctx.out, "geometry", data)
    return []
