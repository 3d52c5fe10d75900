"""Companion figure: dataset memorization through one shared prompt against Consequence B.

From ``data/dataset.json`` (``verify.experiments.dataset``): N fixed inputs, each with a random label of k tokens from
an alphabet A, must all be reproduced through one shared prompt of m vectors. Left: the fraction of random
labellings memorized against N, per (model, m), with Consequence B's N_max = floor(log2 Npr(m)/(k log2|A|))
as a vertical line of the same style. Right: measured N_max beside the bound (log scale).

Example:
    >>> run_label({"model": "witness", "m": 1, "npr_form": "grid Q=2"})
    'witness, m=1 (grid Q=2)'
"""
from __future__ import annotations

import numpy as np

from figures import style
from figures.source import MissingData, Report, need
from figures.spec import FigureSpec


def run_label(row: dict) -> str:
    """'model, m=M (form of Npr)'."""
    return f"{row['model']}, m={row['m']} ({row.get('npr_form', '')})"


def draw(report: Report):
    """Draw dataset memorization from ``data/dataset.json``; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> series["runs"][0]["n_max_bound"] >= series["runs"][0]["n_max_measured"]
        True
    """
    rows = need(report.data("dataset"), "rows", where="data/dataset.json")
    if not rows:
        raise MissingData("data/dataset.json has no rows")
    fig, (left, right) = style.new_figure(2, width=3.5, height=2.8)
    series = {"runs": []}
    for i, r in enumerate(rows):
        st = style.series_style(i)
        pts = sorted((p["N"], p["successes"], p["trials"]) for p in r["points"])
        n = [p[0] for p in pts]
        f = [p[1] / p[2] for p in pts]
        left.plot(n, f, color=st["color"], marker=st["marker"], linestyle=st["linestyle"], label=run_label(r))
        if r["n_max_bound"] <= 10 * max(n + [1]):  # the natural model's bound is far off any measured N
            left.axvline(r["n_max_bound"], color=st["color"], linestyle="--", linewidth=1)
        series["runs"].append({"label": run_label(r), "N": n, "f": f, "n_max_bound": r["n_max_bound"],
                               "n_max_measured": r["n_max_measured"]})
    all_n = [x for run in series["runs"] for x in run["N"]]
    if max(all_n) > 20 * min(all_n):
        left.set_xscale("log")
    left.set_xlabel("number of input->label pairs N")
    left.set_ylabel("fraction of labellings memorized")
    left.set_title("One shared prompt (dashed: Consequence B)")
    style.legend(left, loc="lower right", fontsize=6.5)
    x = np.arange(len(rows))
    right.bar(x - 0.18, [max(r["n_max_measured"], 0.5) for r in rows], 0.36, color="0.55", edgecolor="0.0",
              label="measured $N_{max}$")
    right.bar(x + 0.18, [r["n_max_bound"] for r in rows], 0.36, color="0.9", edgecolor="0.0", hatch="///",
              label="Consequence B bound")
    right.set_yscale("log")
    right.set_ylim(bottom=0.3)
    for i, r in enumerate(rows):
        for dx, v in ((-0.18, r["n_max_measured"]), (0.18, r["n_max_bound"])):
            right.annotate(f"{v:g}", (i + dx, max(v, 0.5)), xytext=(0, 2), textcoords="offset points", ha="center",
                           fontsize=7)
    right.set_xticks(x)
    right.set_xticklabels([f"{r['model']}\nm={r['m']}" for r in rows], fontsize=7)
    right.set_ylabel("$N_{max}$ (pairs)")
    right.set_title("Largest N memorized vs the bound")
    style.legend(right, loc="upper left", fontsize=6.5)
    right.set_ylim(top=right.get_ylim()[1] * 3)  # room for the legend above the bars
    return fig, series


FIGURE = FigureSpec(
    name="dataset_capacity",
    theorems=("n_max_dataset",),
    order=130,
    title="Dataset memorization through one shared prompt, against Consequence B",
    caption=("Left: fraction of random labellings of N fixed inputs (k-token labels) that one shared prompt reproduces "
             "entirely, against N, per model and prompt length; dashed verticals: Consequence B's N_max where it falls "
             "in range. Right: the largest N with every labelling memorized beside the bound, log scale."),
    shows="Consequence B of T1: N_max(m) <= floor(log2 Npr(m)/(k log2|A|))",
    checks=("dataset_",),
    data=("dataset",),
    draw=draw,
)
