"""Companion figure: the mean-field lemma (T2's premise), invariance errors in float64.

From ``data/meanfield.json`` (``verify.experiments.meanfield``): for each model (positional encoding, causal or not,
number of layers) and each statement (permutation equivariance, duplication invariance, and their causal
one-layer forms), the largest |difference| of logits on random inputs. Without positions the statements
hold to rounding (~1e-15, below the 1e-12 tolerance); learned, sinusoidal and rotary positions, and a
causal stack of several layers, break them by O(1).

Example:
    >>> row_label({"positional": "none", "causal": True, "n_layer": 3, "statement": "last_duplication"})
    'none, causal, 3 layers: last_duplication'
"""
from __future__ import annotations

import numpy as np

from figures import style
from figures.source import MissingData, Report, need
from figures.spec import FigureSpec

FLOOR = 1e-18  # an exact zero drawn on a log axis


def row_label(row: dict) -> str:
    """'positional, causal|non-causal, L layer(s): statement'."""
    layers = f"{row['n_layer']} layer" + ("s" if row["n_layer"] != 1 else "")
    return f"{row['positional']}, {'causal' if row['causal'] else 'non-causal'}, {layers}: {row['statement']}"


def draw(report: Report):
    """Draw the invariance errors from ``data/meanfield.json``; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> series["holds"][0]
        True
    """
    data = report.data("meanfield")
    rows = need(data, "rows", where="data/meanfield.json")
    if not rows:
        raise MissingData("data/meanfield.json has no rows")
    tol, brk = float(data.get("tolerance", 1e-12)), float(data.get("break_threshold", 0.05))
    labels = [row_label(r) for r in rows]
    errors = [float(r["max_abs_error"]) for r in rows]
    fig, ax = style.new_figure(width=6.4, height=0.24 * len(rows) + 1.2)
    y = np.arange(len(rows))[::-1]
    holds = [e <= tol for e in errors]
    ax.barh(y, [max(e, FLOOR) for e in errors], color=["0.8" if h else "0.3" for h in holds], edgecolor="0.0",
            hatch=["" if h else "///" for h in holds], linewidth=0.6, height=0.7)
    ax.axvline(tol, **style.BOUND_STYLE, label=f"tolerance {tol:g}: the lemma holds below")
    ax.axvline(brk, color="0.4", linestyle=":", linewidth=1.4, label=f"break threshold {brk:g}")
    ax.set_xscale("log")
    ax.set_xlim(FLOOR * 10, 100)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.grid(False, axis="y")
    ax.set_xlabel("max |difference| of logits (float64)")
    ax.set_title("Mean-field lemma: exact without positions, broken by positions and causal stacks")
    style.legend(ax, loc="upper center", bbox_to_anchor=(0.4, -0.12), ncol=2)
    return fig, {"labels": labels, "max_abs_error": errors, "holds": holds, "tolerance": tol, "break_threshold": brk}


FIGURE = FigureSpec(
    name="meanfield_invariance",
    theorems=("log2_meanfield",),
    order=120,
    title="The mean-field lemma (T2's premise): invariance errors with and without positions",
    caption=("Largest |difference| of logits (float64, log scale) between a model's output and its permuted or "
             "duplicated counterpart, per model and statement. Light bars: below the 1e-12 tolerance (the lemma "
             "holds: no positions, non-causal, or one causal layer); dark hatched bars: broken (learned, sinusoidal, "
             "rotary positions; causal stacks of several layers)."),
    shows="T2's premise: without positions attention is permutation-equivariant and duplication-invariant",
    checks=("meanfield_",),
    data=("meanfield",),
    draw=draw,
)
