"""Geometry of the zoo models' final representations, measured for the figures (Fig. 1, Fig. 3, Table 1).

The refinements of T1 ([HMDO] section 5) need the support of the last-layer states (after the final
LayerNorm, before the unembedding): its l_inf radius, the opening angle of a cone around it, per-coordinate
ranges (box), and the next-token cell volumes. As in [HMDO]'s replication code, the support is estimated
from a sample of states: here, the state at every position of in-domain contexts (held-out Bible text for
the natural model, uniformly random alphabet tokens otherwise). Results are cached per process, so Fig. 3
and Table 1 share one Monte Carlo run.

Example:
    >>> import torch
    >>> round(support_stats(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))["theta"], 4)
    1.5708
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

ZOO_ORDER = ("natural", "witness", "random")


@functools.lru_cache(maxsize=None)
def load(name: str):
    """``verify.zoo.load(name)`` once per process (raises what it raises: ModelFileError, ValueError)."""
    from verify import zoo

    torch.set_num_threads(1)  # the figures share 2 cores with whatever else runs
    return zoo.load(name)


def first_loadable(order=ZOO_ORDER):
    """The first zoo model of ``order`` that loads, as (name, ZooModel); MissingData if none does."""
    from figures.source import MissingData

    errors = []
    for name in order:
        try:
            return name, load(name)
        except Exception as exc:  # missing weights: try the next model
            errors.append(f"{name}: {exc}")
    raise MissingData("no zoo model loads (" + "; ".join(errors) + ")")


def contexts(name: str, zm, count: int = 128, length: int = 48, seed: int = 0) -> torch.Tensor:
    """In-domain token contexts (count, length) for a zoo model: held-out text for natural, random tokens else."""
    length = min(length, zm.model.cfg.block_size)
    if name == "natural":
        from verify.zoo import natural_targets

        return natural_targets(count, length, seed=seed)
    g = torch.Generator().manual_seed(seed)
    alphabet = torch.tensor(zm.alphabet)
    return alphabet[torch.randint(0, len(alphabet), (count, length), generator=g)]


@functools.lru_cache(maxsize=None)
def final_states(name: str, count: int = 128, length: int = 48) -> torch.Tensor:
    """Last-layer states at every position of ``count`` contexts of a zoo model, shape (count*length, d)."""
    zm = load(name)
    with torch.no_grad():
        h = zm.model.hidden(contexts(name, zm, count, length))
    return h.reshape(-1, h.shape[-1]).double()


def support_stats(states: torch.Tensor, theta_states: int = 4096, seed: int = 0) -> dict:
    """l_inf radius, opening angle theta and per-coordinate ranges (box sides) of a sample of states (N, d).

    theta = arccos of the smallest pairwise cosine over (up to ``theta_states``) sampled states, the
    definition of [HMDO]'s code and of :func:`verify.real.measure_geometry`, so Table 1 treats the zoo and
    the real models alike.

    Example:
        >>> s = support_stats(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        >>> round(s["theta"], 4), s["radius_inf"], s["sides"]
        (1.5708, 1.0, [1.0, 1.0])
    """
    from verify.real import min_pairwise_cosine

    s = states.double()
    pick = torch.randperm(s.shape[0], generator=torch.Generator().manual_seed(seed))[:theta_states]
    min_cos, _ = min_pairwise_cosine(s[pick])
    return {"radius_inf": float(s.abs().max()), "theta": math.acos(max(-1.0, min(1.0, min_cos))),
            "sides": (s.max(0).values - s.min(0).values).tolist()}


@functools.lru_cache(maxsize=None)
def cell_counts_cached(name: str, samples: int, seed: int = 0) -> np.ndarray:
    """Monte Carlo cell counts of a zoo model over its l_inf ball of final states (see fig3_cells.cell_counts)."""
    from figures.fig3_cells import cell_counts

    zm = load(name)
    return cell_counts(zm.model, zm.radius, samples, seed=seed)
