"""Counting distinguishable outputs: the orders a context is run in, and greedy eps-packings of outputs.

Shared by the T2 experiments (``contexts``, ``t2_vocab``): a set of outputs pairwise more than eps apart is
a set of contexts distinguishable at eps, so the size of any packing is a lower bound on how many the model
tells apart (measured <= the true maximum <= the bound).
"""
from __future__ import annotations

import numpy as np
import torch


def orders(tokens: torch.Tensor, seed: int) -> torch.Tensor:
    """Each context of ``tokens`` (batch, n) in three orders: as given, reversed, and a seeded random
    permutation of each row; shape (3 * batch, n). A model without positional information gives the three
    the same output; a positional leak tells them apart.

    Example:
        >>> orders(torch.tensor([[0, 0, 1]]), seed=0)[:2].tolist()
        [[0, 0, 1], [1, 0, 0]]
    """
    g = torch.Generator().manual_seed(seed)
    perm = torch.argsort(torch.rand(tokens.shape, generator=g), dim=1)
    return torch.cat([tokens, tokens.flip(1), torch.gather(tokens, 1, perm)])


def cell_representatives(points: torch.Tensor, eps: float) -> torch.Tensor:
    """One point per cell of side eps/4 (the first in scanline order of the cells).

    Example:
        >>> cell_representatives(torch.tensor([[0.0], [0.01], [0.2]], dtype=torch.float64), 0.1).flatten().tolist()
        [0.0, 0.2]
    """
    keys = torch.floor(points / (eps / 4)).long()
    _, first = np.unique(keys.numpy(), axis=0, return_index=True)
    return points[torch.as_tensor(first)]


def extend_packing(centers: torch.Tensor, points: torch.Tensor, eps: float) -> torch.Tensor:
    """Greedily add to `centers` the points more than eps from every center (and from each other), in
    scanline order of the cells of side eps/4 (k-d trees: distances <= eps conflict).

    The points are thinned to one per cell of side eps/4 first: a packing of a subset is still a packing.

    Example:
        >>> c = extend_packing(torch.zeros(0, 1, dtype=torch.float64),
        ...                    torch.tensor([[0.0], [0.05], [0.2]], dtype=torch.float64), 0.1)
        >>> c.flatten().tolist()
        [0.0, 0.2]
    """
    from scipy.spatial import cKDTree

    cand = cell_representatives(points, eps).numpy()
    if len(centers) and len(cand):
        cand = cand[cKDTree(centers.numpy()).query_ball_point(cand, eps, return_length=True) == 0]
    if not len(cand):
        return centers
    tree, alive, new = cKDTree(cand), np.ones(len(cand), dtype=bool), []
    for i in range(len(cand)):
        if alive[i]:
            new.append(i)
            alive[tree.query_ball_point(cand[i], eps)] = False
    return torch.cat([centers, torch.as_tensor(cand[new])])


def scan_packing(points: torch.Tensor, eps: float) -> int:
    """Size of a greedy eps-packing of `points` visited in scanline order of the eps/4 cells.

    Example:
        >>> scan_packing(torch.tensor([[0.0], [0.05], [0.2]], dtype=torch.float64), 0.1)
        2
    """
    return len(extend_packing(points[:0], points, eps))
