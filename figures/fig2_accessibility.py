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
from figures.source import MissingData, Report, need
from figures.spec import FigureSpec
from verify.fit import sigmoid

KINDS = ("natural", "random")


def _points(entry: dict) -> list[tuple[int, int, int]]:
    """(n, successes, trials) of a per-m entry, whether stored as records or as [n, s, t] triples."""
    out = []
    for p in entry.get("points", []):
        if isinstance(p, dict):
            out.append((int(p["n"]), int(p["successes"]), int(p["trials"])))
        else:
            out.append((int(p[0]), int(p[1]), int(p[2])))
    return sorted(out)


def cramming_curves(report: Report) -> list[dict]:
    """One dict per kind of target from data/cramming.json, normalised for the figures.

    Keys: model, targets, alphabet_size, log2_alphabet, m (list), n50, points (per m: [[n, s, t]]),
    sigmoid (per m: {x0, k} or None), slope/intercept/r2 (None without a fit), log2_prompts and
    n50_bound (per m, T1's float form).

    Example:
        >>> from pathlib import Path
        >>> [c["targets"] for c in cramming_curves(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))]
        ['natural', 'random']
    """
    data = report.data("cramming")
    model = need(data, "model", where="data/cramming.json")
    kinds = need(data, "kinds", where="data/cramming.json")
    bounds = data.get("bounds", {})
    a = int(model["alphabet_size"])
    curves = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        per_m = need(kinds, kind, "per_m", where="data/cramming.json")
        ms = sorted(int(m) for m in per_m)
        entries = [per_m[str(m)] if str(m) in per_m else per_m[m] for m in ms]
        fit = kinds[kind].get("fit") or {}
        bnd = [bounds.get(str(m), bounds.get(m, {})) for m in ms]
        curves.append({
            "model": model.get("name", "natural"), "targets": kind, "alphabet_size": a, "log2_alphabet": math.log2(a),
            "m": ms, "n50": [float(e["n50"]) if e.get("n50") is not None else float("nan") for e in entries],
            "points": [[list(p) for p in _points(e)] for e in entries],
            "sigmoid": [({"x0": e["fit"]["x0"], "k": e["fit"]["k"]} if e.get("fit") else None) for e in entries],
            "slope": fit.get("slope"), "intercept": fit.get("intercept"), "r2": fit.get("r2"),
            "log2_prompts": [b.get("log2_npr") for b in bnd], "n50_bound": [b.get("n50_bound_random") for b in bnd],
            "bound_form": "T1 float form, fp32 prompts in [-r, r]",
        })
    if not curves:
        raise MissingData("data/cramming.json has no target kinds")
    return curves


def control_points(report: Report) -> list[list[int]]:
    """(n, successes, trials) of the random-init control model at m = 1, [] if not measured.

    Example:
        >>> from pathlib import Path
        >>> pts = control_points(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> all(len(p) == 3 and 0 <= p[1] <= p[2] for p in pts)
        True
    """
    ctrl = report.data("cramming").get("control") or {}
    return [list(p) for p in _points(ctrl)]


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
