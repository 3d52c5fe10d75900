"""Checks shared by the T1 experiments: the count form over measured points, and the grid premise.

T1's count form, ``n*log2|A| + log2 f_lower <= log2 Npr``, checked by :func:`count_check`; the prompts the
engine handed to the model lie on T1's grid (:func:`grid_deviation`, :func:`grid_premise`).

An experiment that measures accessible fractions f at several lengths (``dataset``: N labellings through
one prompt) checks that no measured point stores more than T1 allows; the points themselves are recorded
by :mod:`verify.measure`. Every number is compared at the precision of ``bounds``
(``bounds.evaluate.DEFAULT_DPS``).

Example (20/20 successes at 8 letters of a 26-letter alphabet, bound 40 bits):
    >>> pts = [{"n": 8, "successes": 20, "trials": 20}]
    >>> c = count_check("demo", "claim", pts, log2_npr=40, log2_alphabet=4.7, confidence=0.95)
    >>> c.passed, 37 < c.empirical < 38
    (True, True)
"""
from __future__ import annotations

import mpmath

from bounds.evaluate import DEFAULT_DPS
from verify.report import Check, compare, mpf
from verify.stats import clopper_pearson_lower


def count_check(name: str, claim: str, points: list[dict], log2_npr, log2_alphabet, params: dict | None = None, *,
                confidence: float, **compare_args) -> Check:
    """T1 count check over measured points: ``n*log2|A| + log2 f_lower <= log2 Npr`` at the tightest point.

    Points with no success give no information (f_lower = 0) and are skipped; if none is left, the
    empirical side is 0 bits (the check then holds vacuously). ``confidence`` is the level of f_lower and
    is recorded on the check (a statistical check); ``compare_args`` (kind, theorem) go to :func:`compare`.

    Example:
        >>> count_check("x", "c", [{"n": 10, "successes": 10, "trials": 10}], 8, 1.0, confidence=0.95).passed
        False
    """
    best, best_pt, estimate = mpmath.mpf(0), None, mpmath.mpf(0)
    with mpmath.workdps(DEFAULT_DPS):
        for p in points:
            if p["successes"] == 0:
                continue
            f_lower = clopper_pearson_lower(p["successes"], p["trials"], confidence)
            bits = p["n"] * mpf(log2_alphabet) + mpmath.log(mpf(f_lower), 2)
            if best_pt is None or bits > best:
                best, best_pt = bits, p
            # the point estimate (f itself) at every point: the room the bound has before sampling error
            estimate = max(estimate, p["n"] * mpf(log2_alphabet) + mpmath.log(mpf(p["successes"]) / p["trials"], 2))
        best = max(best, mpmath.mpf(0))
    prm = dict(params or {})
    prm["tightest_point"] = None if best_pt is None else {k: best_pt[k] for k in ("n", "successes", "trials")}
    prm["points"] = [{k: p[k] for k in ("n", "successes", "trials")} for p in points]
    return compare(name, claim, bound=mpf(log2_npr), empirical=best, unit="bits", params=prm, confidence=confidence,
                   estimate=estimate, **compare_args)


def grid_deviation(prompts, levels: int | None, radius: float) -> dict:
    """How far ``prompts`` are from T1's grid: the ``levels`` values ``linspace(-radius, radius, levels)``.

    The grid is built here from ``linspace`` alone (not from the quantizer it checks). A coordinate is off
    the grid if no level lies within ``1e-5 * radius`` (float32 rounding); ``outside`` counts coordinates
    with ``|x| > radius`` (same tolerance). ``levels=None``: the box only (fp32 prompts clamped to
    ``[-radius, radius]``), ``off_grid`` is 0. ``distinct``: how many different values occur.

    Example:
        >>> import torch
        >>> grid_deviation(torch.tensor([[-1.0, 1 / 3], [1.0, -1 / 3]]), 4, 1.0)
        {'levels': 4, 'radius': 1.0, 'coordinates': 4, 'distinct': 4, 'off_grid': 0, 'outside': 0}
        >>> grid_deviation(torch.tensor([-1.0, 0.0, 1.0, 1.5]), 4, 1.0)["off_grid"]  # 0 is no level of Q = 4
        2
    """
    import torch

    x = prompts.detach().double().flatten().cpu()
    tol = 1e-5 * radius
    off = 0
    if levels is not None:
        grid = torch.linspace(-radius, radius, levels, dtype=torch.float64)
        i = torch.searchsorted(grid, x).clamp(1, levels - 1)
        nearest = torch.minimum((x - grid[i - 1]).abs(), (x - grid[i]).abs())
        off = int((nearest > tol).sum())
    return {"levels": levels, "radius": float(radius), "coordinates": int(x.numel()),
            "distinct": int(torch.unique(x).numel()), "off_grid": off, "outside": int((x.abs() > radius + tol).sum())}


def grid_premise(name: str, deviations: list[dict], *, theorem: str, what: str = "prompt") -> Check:
    """Premise check: every coordinate handed to the model is one of the Q grid levels inside [-r, r] (or,
    without levels, inside the box), over all ``deviations`` (from :func:`grid_deviation`, one grid).

    Example:
        >>> import torch
        >>> ok = grid_deviation(torch.tensor([-1.0, 1.0]), 2, 1.0)
        >>> grid_premise("g", [ok], theorem="t1_grid").passed
        True
        >>> grid_premise("g", [ok, grid_deviation(torch.tensor([0.0]), 2, 1.0)], theorem="t1_grid").passed
        False
    """
    levels, radius = deviations[0]["levels"], deviations[0]["radius"]
    if any((d["levels"], d["radius"]) != (levels, radius) for d in deviations):
        raise ValueError(f"{name}: the deviations are from different grids")
    total = {k: sum(d[k] for d in deviations) for k in ("coordinates", "off_grid", "outside")}
    where = (f"one of the Q = {levels} levels linspace(-r, r, Q)" if levels is not None else "inside the box")
    return compare(name, f"every {what} coordinate handed to the model is {where}, r = {radius:g}",
                   bound=0, empirical=total["off_grid"] + total["outside"], unit="coordinates off the grid",
                   params={"levels": levels, "radius": radius, **total,
                           "distinct_max": max(d["distinct"] for d in deviations)},
                   kind="premise", theorem=theorem)
