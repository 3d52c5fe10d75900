"""Fig. 2: accessibility against n for m = 1..M, natural and random targets, n50 against m (T1), natural growth.

From ``data/cramming.json`` (``verify.experiments.cramming``): for each kind of target (held-out natural text, and
uniformly random letters) and each prompt length m, the measured fractions f(m, n) of targets reproduced,
the binomial maximum-likelihood sigmoid ``f = 1/(1 + exp(k (n - x0)))`` and n50 = x0 (marked). The right
panel puts n50 against m with the linear fit of each kind beside T1's threshold for random targets,
``n50(m) <= (log2 Npr(m) + 1)/log2|A|`` (fp32 prompts in [-r, r]; log scale, since the bound is far above).
The randomly initialised control model's points (m = 1, random targets) join the random-target panel.
The last panel is the natural-text growth the full profile measures (m = 1..6): n50 with its 95% bootstrap
interval over targets, the fitted line and its slope interval, and the curvature the experiment reports
(upper-half / lower-half slope, quadratic term, each with its interval).
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
    what = "natural text" if curve["targets"] == "natural" else f"random letters |A|={curve['alphabet_size']}"
    ax.set_title(f"{curve['model']}: {what}")
    style.legend(ax, loc="upper right")


def _fmt_interval(iv) -> str:
    return f"[{iv[0]:.2f}, {iv[1]:.2f}]" if iv else "(no interval)"


def natural_growth(curve: dict) -> dict:
    """The natural-text n50(m) with its 95% bootstrap intervals, the fitted line with its slope interval, and
    the curvature (upper-half / lower-half slope, quadratic term) with their intervals; MissingData without them.

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> from figures.source import FIXTURE
        >>> g = natural_growth([c for c in cramming_curves(Report(FIXTURE)) if c["targets"] == "natural"][0])
        >>> g["m"] == sorted(g["m"]) and all(lo <= n <= hi for n, (lo, hi) in zip(g["n50"], g["n50_interval"]))
        True
    """
    from figures.source import MissingData

    if curve["slope"] is None or curve.get("slope_interval") is None or any(iv is None for iv in curve["n50_interval"]):
        raise MissingData("data/cramming.json: natural targets lack the n50 intervals or the fitted slope interval")
    cur = curve.get("curvature") or {}
    return {"m": curve["m"], "n50": curve["n50"], "n50_interval": curve["n50_interval"],
            "slope": curve["slope"], "intercept": curve["intercept"], "r2": curve["r2"],
            "slope_interval": curve["slope_interval"],
            "slope_ratio": cur.get("slope_ratio"), "slope_ratio_interval": cur.get("slope_ratio_interval"),
            "quadratic": cur.get("quadratic"), "quadratic_interval": cur.get("quadratic_interval")}


def _growth_panel(ax, g: dict) -> None:
    n50 = np.asarray(g["n50"])
    iv = np.asarray(g["n50_interval"], dtype=float)
    ax.errorbar(g["m"], n50, yerr=[n50 - iv[:, 0], iv[:, 1] - n50], fmt="o", color="0.0", capsize=2.5,
                elinewidth=0.9, label="n50, 95% bootstrap interval")
    ms = np.linspace(0.7, max(g["m"]) + 0.3, 50)
    lo, hi = g["slope_interval"]
    ax.plot(ms, g["slope"] * ms + g["intercept"], color="0.0", linestyle="-", linewidth=1,
            label=f"fit: {g['slope']:.2f} {_fmt_interval(g['slope_interval'])}/vector, $R^2$={g['r2']:.3f}")
    m0 = float(np.mean(g["m"]))
    y0 = g["slope"] * m0 + g["intercept"]  # slope-interval fan through the centroid of the fit
    ax.fill_between(ms, y0 + lo * (ms - m0), y0 + hi * (ms - m0), color="0.75", alpha=0.5, linewidth=0,
                    label="slope interval")
    if g.get("slope_ratio") is not None:
        text = (f"upper/lower-half slope {g['slope_ratio']:.2f} {_fmt_interval(g['slope_ratio_interval'])}\n"
                f"quadratic term {g['quadratic']:.2f} {_fmt_interval(g['quadratic_interval'])}")
        ax.text(0.97, 0.04, text, ha="right", va="bottom", transform=ax.transAxes, fontsize=6)
    ax.set_xticks(g["m"])
    ax.set_xlabel("prompt length m (vectors)")
    ax.set_ylabel("n50 (tokens)")
    ax.set_title(f"natural text, m={min(g['m'])}..{max(g['m'])}: growth")
    style.legend(ax, loc="upper left", fontsize=6)


def draw(report: Report):
    """Draw Fig. 2 from ``data/cramming.json``; return (figure, the series it plotted).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> sorted(series)
        ['control', 'curves', 'fits', 'natural_growth']
    """
    from figures.source import MissingData

    curves = cramming_curves(report)
    control = control_points(report)
    fig, axes = style.new_figure(4, width=3.1, height=2.8)
    by_kind = {c["targets"]: c for c in curves}
    missing = []
    for ax, kind in zip(axes[:2], KINDS):
        if kind in by_kind:
            _accessibility_panel(ax, by_kind[kind], control if kind == "random" else None)
        else:
            missing.append(f"data/cramming.json has no {kind}-target data")
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
            fits[c["targets"]] = {"slope": c["slope"], "intercept": c["intercept"], "r2": c["r2"],
                                  "slope_interval": c.get("slope_interval")}
    rnd = by_kind.get("random")
    if rnd and all(b is not None for b in rnd["n50_bound"]):
        ax.plot(rnd["m"], rnd["n50_bound"], **style.BOUND_STYLE, marker="_",
                label="T1: $(\\log_2 N_{pr}(m)+1)/\\log_2|A|$")
        ax.set_yscale("log")
    else:
        missing.append("data/cramming.json has no T1 bound for random targets")
    ax.set_xticks(sorted({m for c in curves for m in c["m"]}))
    ax.set_xlabel("prompt length m (vectors)")
    ax.set_ylabel("n50 (tokens)")
    ax.set_title("n50 vs m, fits, T1 bound")
    style.legend(ax, loc="center right", fontsize=6)
    series = {"curves": curves, "control": control, "fits": fits}
    try:
        if "natural" not in by_kind:
            raise MissingData("data/cramming.json has no natural-target data")
        series["natural_growth"] = natural_growth(by_kind["natural"])
        _growth_panel(axes[3], series["natural_growth"])
    except MissingData as exc:
        missing.append(str(exc))
        axes[3].text(0.5, 0.5, str(exc), ha="center", va="center", transform=axes[3].transAxes, fontsize=6, wrap=True)
    if missing:
        series["missing"] = missing
    return fig, series


FIGURE = FigureSpec(
    name="fig2_accessibility",
    theorems=("threshold_tokens", "log2_accessible_fraction"),
    order=20,
    title="Fig. 2 - accessibility against n for each m, sigmoid fits, n50 against m beside T1",
    caption=("Left, middle: fraction of targets (held-out natural text; uniformly random letters) that prompt tuning "
             "reproduces exactly with m prompt vectors, against target length n; lines: binomial maximum-likelihood "
             "sigmoid fits, ticks at f = 1/2: n50. Crosses: the randomly initialised control model (m = 1). Right: n50 "
             "against m with least-squares lines, and T1's threshold for random targets (dashed, log scale). Far right: "
             "natural-text n50 for each m on a linear axis with 95% bootstrap intervals over targets, the fitted line "
             "with its slope interval (shaded), and the curvature: upper-half over lower-half slope and the quadratic "
             "term, each with its interval (a ratio near 1 and a quadratic term whose interval covers 0: linear)."),
    shows=("T1 / Consequence A: n50 grows linearly in m, below the threshold (log2 Npr(m)+1)/log2|A|; on natural "
           "text over m = 1..6, with intervals and curvature"),
    checks=("cramming_",),
    data=("cramming",),
    draw=draw,
)
