"""Fig. 3: the next-token cell-volume distribution D and its n-fold convolutions D^1..D^4 (non-uniform cells).

Cell volumes come from ``data/geometry.json`` (``verify.experiments.geometry``: Monte Carlo points uniform
in the l_inf ball of the final states, radius ``zoo.radius``, assigned to ``argmax(logits)``), for the first
zoo model measured (natural, else witness, else random). Token t's cell volume is the fraction of points it
gets; D is the distribution of log2 of that volume over the tokens that get any (as in [HMDO]'s
replication code; the count of empty cells is reported). A uniformly random sequence of n tokens owns a cell of volume prod_j v_j, whose log2 is
distributed as D^n (n-fold convolution). The non-uniform-cell refinement (bounds.refinements) says a
typical sequence is no longer accessible once the median of D^n falls below 1/Pk: n* is that n.

Left panel: D^1..D^4 with their medians (vertical lines). Right panel: the median of D^n against n up to
n*, beside the threshold log2 Pk and T1's uniform-cell line n*log2|V|.

Example (the fixture report the tests use):
    >>> from figures.source import FIXTURE
    >>> data = compute(Report(FIXTURE))
    >>> data["model"], data["n_star"] >= 1
    ('natural', True)
"""
from __future__ import annotations

import math

import numpy as np

import bounds
from figures import style
from figures.source import Report, zoo_geometry
from figures.spec import FigureSpec

DISPLAY_BIN_BITS = 1 / 8


def log2_volume_distribution(log2_volumes: np.ndarray, n: int, bin_bits: float = DISPLAY_BIN_BITS):
    """Distribution of the sum of n iid draws of ``log2_volumes`` (uniform over entries), on a lattice.

    Returns (support in bits, probability mass). Exact on the lattice of step ``bin_bits``.

    Example:
        >>> x, p = log2_volume_distribution(np.array([-1.0, -2.0]), 2, bin_bits=1.0)
        >>> x.tolist(), p.round(3).tolist()
        ([-4.0, -3.0, -2.0], [0.25, 0.5, 0.25])
    """
    idx = np.rint(np.asarray(log2_volumes) / bin_bits).astype(np.int64)
    low = idx.min()
    mass = np.bincount(idx - low).astype(float)
    mass /= mass.sum()
    dist = np.array([1.0])
    for _ in range(n):
        dist = np.convolve(dist, mass)
    dist = np.clip(dist, 0, None)
    dist /= dist.sum()
    return (low * n + np.arange(dist.size)) * bin_bits, dist


def log2_packing_one_vector(d: int, radius: float, dtype: str) -> tuple[float, str]:
    """log2 Pk of the l_inf ball of final states (radius ``radius``) at the model's precision (T1 ball form).

    Example:
        >>> round(log2_packing_one_vector(1, 1.0, "fp32")[0], 3)
        24.0
    """
    return float(bounds.log2_prompts_ball(d, 1, radius, dtype)), f"ball r={radius:.3g}, {dtype}"


def compute(report: Report) -> dict:
    """Cell volumes of the first zoo model measured, D^1..D^4, medians, threshold and n*."""
    from bounds.refinements import median_log2_volume_product, nonuniform_threshold

    geo = zoo_geometry(report)
    name, g = next(iter(geo["models"].items()))
    counts = np.asarray(g["cells"]["counts"])
    samples = int(g["cells"]["samples"])
    volumes = counts[counts > 0] / samples
    log2_pk, pk_form = log2_packing_one_vector(g["d"], g["radius"], g["dtype"])
    n_star = nonuniform_threshold(volumes, log2_pk)
    # medians at n = 1..4 and on a grid up to past n*, for the right panel
    ns = sorted(set([1, 2, 3, 4] + np.unique(np.geomspace(1, max(n_star + 2, 6), 20).round().astype(int)).tolist()))
    medians = [median_log2_volume_product(volumes, k) for k in ns]
    dists = {}
    for k in (1, 2, 3, 4):
        x, p = log2_volume_distribution(np.log2(volumes), k)
        dists[str(k)] = {"log2_volume": x.tolist(), "mass": p.tolist()}
    return {
        "model": name, "samples": samples, "radius": g["radius"], "vocab": g["vocab"], "d": g["d"],
        "counts": counts.tolist(), "empty_cells": int((counts == 0).sum()),
        "log2_volumes": np.log2(volumes).tolist(), "distributions": dists,
        "n": ns, "median_log2_product": medians, "log2_packing": log2_pk, "packing_form": pk_form,
        "n_star": n_star, "n_t1": log2_pk / math.log2(g["vocab"]),
    }


def draw(report: Report):
    """Draw Fig. 3 (Monte Carlo cell volumes of a zoo model); return (figure, the series it plotted)."""
    data = compute(report)
    fig, (left, right) = style.new_figure(2, width=3.6, height=2.8)
    for k in (1, 2, 3, 4):
        dist = data["distributions"][str(k)]
        x, p = np.asarray(dist["log2_volume"]), np.asarray(dist["mass"])
        s = style.series_style(k - 1)
        # coarsen to ~1/2-bit bins for display so the curves are not spiky
        step = max(1, int(round(0.5 / DISPLAY_BIN_BITS)))
        xs = x[: x.size // step * step].reshape(-1, step).mean(1)
        ps = p[: p.size // step * step].reshape(-1, step).sum(1)
        left.plot(xs, ps, color=s["color"], linestyle=s["linestyle"], marker=s["marker"], markevery=max(1, xs.size // 8),
                  label=f"$D^{k}$")
        med = data["median_log2_product"][data["n"].index(k)]
        left.axvline(med, color=s["color"], linestyle=s["linestyle"], linewidth=0.9)
    threshold = -data["log2_packing"]
    lo = left.get_xlim()[0]
    if threshold >= lo:
        left.axvline(threshold, **style.BOUND_STYLE, label="threshold $-\\log_2 P_k$")
    else:
        left.annotate(f"threshold $-\\log_2 P_k$ = {threshold:.0f} bits ←", xy=(0.02, 0.93),
                      xycoords="axes fraction", fontsize=7)
    left.set_xlabel("log2 cell volume of an n-token sequence")
    left.set_ylabel("probability (per 1/2 bit)")
    left.set_title(f"$D^n$, medians as vertical lines ({data['model']}, {data['empty_cells']} empty cells)")
    style.legend(left, loc="center left")

    # per-token view: the threshold log2(Pk)/n is a falling curve that the medians cross at n*
    ns, med = np.asarray(data["n"]), -np.asarray(data["median_log2_product"])
    right.plot(ns, med / ns, **style.series_style(0), label="median of $D^n$ / n (non-uniform cells)")
    right.axhline(math.log2(data["vocab"]), color="0.35", linestyle="-.", linewidth=1.2,
                  label="uniform cells: $\\log_2|V|$ (T1)")
    grid = np.geomspace(1, max(ns.max(), data["n_t1"]) * 1.3, 200)
    right.plot(grid, data["log2_packing"] / grid, **style.BOUND_STYLE, label=f"$\\log_2 P_k / n$ ({data['packing_form']})")
    right.axvline(data["n_star"], color="0.3", linestyle=":", linewidth=1)
    right.annotate(f"n* = {data['n_star']}  (T1: {data['n_t1']:.1f})", xy=(data["n_star"], med[-1] / ns[-1]),
                   xytext=(0.05, 0.08), textcoords="axes fraction", fontsize=7,
                   arrowprops=dict(arrowstyle="->", color="0.3"))
    right.set_xscale("log")
    right.set_ylim(0, 2.2 * max(float((med / ns).max()), math.log2(data["vocab"])))
    right.set_xlabel("sequence length n")
    right.set_ylabel("bits per token")
    right.set_title("Where a typical sequence loses its cell")
    style.legend(right, loc="upper right")
    series = {
        "model": data["model"], "log2_volumes": data["log2_volumes"], "n": data["n"],
        "median_log2_product": data["median_log2_product"], "log2_packing": data["log2_packing"],
        "n_star": data["n_star"], "empty_cells": data["empty_cells"],
        "distributions": data["distributions"],
    }
    return fig, series


FIGURE = FigureSpec(
    name="fig3_cells",
    theorems=("nonuniform",),
    order=30,
    title="Fig. 3 - cell-volume distribution D and its convolutions D^1..D^4 (non-uniform cells refinement)",
    caption=("Left: distribution of log2 next-token cell volume for sequences of n = 1..4 uniformly random tokens "
             "(n-fold convolution of D), volumes by Monte Carlo with the argmax of the logits over uniform points "
             "in the l_inf ball of the final states; vertical lines: medians, dashed: the threshold -log2 Pk. "
             "Right: median against n until it crosses log2 Pk at n*, beside T1's uniform-cell line."),
    shows="the non-uniform-cell refinement of T1 ([HMDO] section 5) and its threshold n*",
    data=("geometry",),
    computed="medians and n* by bounds.refinements",
    draw=draw,
)
