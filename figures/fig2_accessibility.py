"""Fig. 2: accessibility against n for m = 1..M, natural and random targets, and n50 against m (T1).

From ``data/cramming.json`` (``verify.experiments.cramming``): for each kind of target (held-out natural text, and
uniformly random letters) and each prompt length m, the measured fractions f(m, n) of targets reproduced,
the binomial maximum-likelihood sigmoid ``f = 1/(1 + exp(k (n - x0)))`` and n50 = x0 (marked). The right
panel puts n50 against m with the linear fit of each kind beside T1's threshold for random targets,
``n50(m) <= (log2 Npr(m) + 1)/log2|A|`` (fp32 prompts in [-r, r]; log scale, since the bound is far above).
The randomly initialised control model's points (m = 1, random targets) join the random-target panel.
"""
from __future__ import annotations

import math

import numpy as np

from figures import style
from figures.source import Report, control_points, cramming_curves
from figures.spec import FigureSpec
from verify.fit import sigmoid

KINDS = ("natural", "random")  # panel order


def _accessibility_panel(ax, curve: dict, control: list | None = None) -> None:
    nmax = max((p[0] for pts in curve["points"] for p in pts), default=1)
    grid = np.linspace(0.5, nmax * 1.15 + 1, 300)
    for i, m in enumerate(curve["m"]):
        st = style.series_style(i)
        pts = np.asarray(curve["points"][i], dtype=float).reshape(-1, 3)
        ax.plot(pts[:, 0], pts[:, 1] / pts[:, 2], color=st["color"], marker=st["marker"], linestyle="none",
                label=f"m={m}")
        sg = curve["sigmoid"][i]
        if sg is not None:
            ax.plot(grid, sigmoid(grid, sg["x0"], sg["k"]), color=st["color"], linestyle=st["linestyle"],
                    linewidth=1.0)
        n50 = curve["n50"][i]
        if math.isfinite(n50):
            ax.plot([n50], [0.5], marker="|", color="0.0", markersize=10, markeredgewidth=1.5)
            ax.annotate(f"{n50:.1f}", (n50, 0.5), xytext=(2, 4), textcoords="offset points", fontsize=6.5)
    if control:
        pts = np.asarray(control, dtype=float)
        ax.plot(pts[:, 0], pts[:, 1] / pts[:, 2], marker="x", color="0.0", linestyle=":",
                label="random-init model, m=1")
    ax.axhline(0.5, color="0.6", linewidth=0.6)
    ax.set_ylim(-0.04, 1.04)
    ax.set_xlabel("target length n (tokens)")
    ax.set_ylabel("accessible fraction f(m, n)")
    what = "natural text" if curve["targets"] == "natural" else f"random letters, |A|={curve['alphabet_size']}"
    ax.set_title(f"{curve['model']} model, {what}")
    style.legend(ax, loc="upper right")


def draw(report: Report):
    """Draw Fig. 2 from ``data/cramming.json``; return (figure, the series it plotted).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> sorted(series)
        ['control', 'curves', 'fits']
    """
    curves = cramming_curves(report)
    control = control_points(report)
    fig, axes = style.new_figure(3, width=3.2, height=2.7)
    by_kind = {c["targets"]: c for c in curves}
    for ax, kind in zip(axes[:2], KINDS):
        if kind in by_kind:
            _accessibility_panel(ax, by_kind[kind], control if kind == "random" else None)
        else:
            ax.text(0.5, 0.5, f"no {kind}-target data", ha="center", va="center", transform=ax.transAxes)
    ax = axes[2]
    fits = {}
    for i, c in enumerate(curves):
        st = style.series_style(i)
        ax.plot(c["m"], c["n50"], color=st["color"], marker=st["marker"], linestyle="none",
                label=f"n50, {c['targets']} targets")
        if c["slope"] is not None:
            ms = np.linspace(min(c["m"]), max(c["m"]), 50)
            ax.plot(ms, c["slope"] * ms + c["intercept"], color=st["color"], linestyle=st["linestyle"], linewidth=1,
                    label=f"fit: {c['slope']:.2f}/vector, $R^2$={c['r2']:.3f}")
            fits[c["targets"]] = {"slope": c["slope"], "intercept": c["intercept"], "r2": c["r2"]}
    rnd = by_kind.get("random")
    if rnd and all(b is not None for b in rnd["n50_bound"]):
        ax.plot(rnd["m"], rnd["n50_bound"], **style.BOUND_STYLE, marker="_",
                label="T1: $(\\log_2 N_{pr}(m)+1)/\\log_2|A|$")
        ax.set_yscale("log")
    ax.set_xticks(sorted({m for c in curves for m in c["m"]}))
    ax.set_xlabel("prompt length m (vectors)")
    ax.set_ylabel("n50 (tokens)")
    ax.set_title("n50 against m, linear fits, T1 bound")
    style.legend(ax, loc="center right", fontsize=6)
    series = {"curves": curves, "control": control, "fits": fits}
    return fig, series


FIGURE = FigureSpec(
    name="fig2_accessibility",
    title="Fig. 2 - accessibility against n for each m, sigmoid fits, n50 against m beside T1",
    caption=("Left, middle: fraction of targets (held-out natural text; uniformly random letters) that prompt tuning "
             "reproduces exactly with m prompt vectors, against target length n; lines: binomial maximum-likelihood "
             "sigmoid fits, ticks at f = 1/2: n50. Crosses: the randomly initialised control model (m = 1). Right: n50 "
             "against m with least-squares lines, and T1's threshold for random targets (dashed, log scale)."),
    shows="T1 / Consequence A: n50 grows linearly in m, below the threshold (log2 Npr(m)+1)/log2|A|",
    checks=("cramming_",),
    data=("cramming",),
    draw=draw,
)
