"""Companion figure: accessible fraction against n on a log axis, under T1's |V|^-n envelope.

Consequence A: at most Npr(m) sequences are accessible, so the accessible fraction of V^n is at most
``min(1, Npr(m)/|V|^n)``: flat at 1, then falling like |V|^-n past n* = log2 Npr(m)/log2|V|. Left: the
tightness witness (``data/precision.json``; random targets over its whole vocabulary, m = 1) at each
precision Q, with each Q's envelope: at Q = 2 the measured fraction hugs its envelope. Right: the natural
model (``data/cramming.json``; random letters, |A|^-n envelope with fp32 prompts), where the envelope stays
at 1 far beyond the measured lengths. Points where no target was reproduced are drawn at 1/trials (the
detection limit) with an open downward triangle. Error bars reach down to the one-sided Clopper-Pearson
lower bound at the report's per-check confidence level (the family-wise budget of ``verify.all``; 95% for
a report without statistical checks), the number the T1 checks compare with the envelope.

Example:
    >>> envelope([1, 2, 3], log2_npr=4.0, log2_vocab=2.0).tolist()
    [1.0, 1.0, 0.25]
"""
from __future__ import annotations

import numpy as np

from figures import style
from figures.source import MissingData, Report, cramming_curves, need
from figures.spec import FigureSpec


def envelope(n, log2_npr: float, log2_vocab: float) -> np.ndarray:
    """T1's bound on the accessible fraction of V^n: min(1, 2^(log2 Npr - n log2|V|))."""
    return np.exp2(np.minimum(0.0, log2_npr - np.asarray(n, dtype=float) * log2_vocab))


def check_level(report: Report) -> float:
    """The per-check confidence level of the report's statistical checks (0.95 if it has none)."""
    return next((c["confidence"] for c in report.checks.values() if c.get("confidence")), 0.95)


def _plot_points(ax, pts, st, label, confidence: float = 0.95):
    from verify.stats import clopper_pearson_lower

    pts = np.asarray(pts, dtype=float).reshape(-1, 3)
    f = pts[:, 1] / pts[:, 2]
    hit = f > 0
    ax.plot(pts[hit, 0], f[hit], color=st["color"], marker=st["marker"], linestyle=st["linestyle"], label=label)
    # down to the one-sided Clopper-Pearson lower bound: what the T1 checks compare with the envelope
    lower = np.array([clopper_pearson_lower(int(s), int(t), confidence) for _, s, t in pts])
    ax.errorbar(pts[hit, 0], f[hit], yerr=[f[hit] - lower[hit], np.zeros(hit.sum())], fmt="none",
                ecolor=st["color"], elinewidth=0.8, capsize=2)
    if (~hit).any():
        ax.plot(pts[~hit, 0], 1 / pts[~hit, 2], color=st["color"], marker="v", markerfacecolor="none",
                linestyle="none")
    return {"n": pts[:, 0].tolist(), "f": f.tolist(), "f_lower": lower.tolist(), "trials": pts[:, 2].tolist()}


def witness_series(report: Report) -> dict:
    """The witness's m = 1 rows of data/precision.json: vocabulary, and per Q its log2 Npr and points.

    Example:
        >>> from pathlib import Path
        >>> [r["q"] for r in witness_series(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))["rows"]]
        ['q2', 'q4', 'q16', 'q256', 'fp32']
    """
    data = report.data("precision")
    where = "data/precision.json"
    vocab = int(need(data, "model", "vocab", where=where))
    rows = [r for r in need(data, "rows", where=where) if int(r["m"]) == 1]
    if not rows:
        raise MissingData("data/precision.json has no m = 1 rows")
    return {"vocab": vocab, "rows": [{"q": r["q"], "log2_npr": float(r["log2_npr"]),
                                      "points": [[p["n"], p["successes"], p["trials"]] for p in r["points"]]}
                                     for r in rows]}


def draw(report: Report):
    """Draw the accessible fraction (log) under T1's envelope; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> sorted(series)
        ['natural', 'witness']
    """
    panels, missing = {}, []
    try:
        panels["witness"] = witness_series(report)
    except MissingData as exc:
        missing.append(str(exc))
    try:
        rnd = [c for c in cramming_curves(report) if c["targets"] == "random"]
        if not rnd:
            raise MissingData("data/cramming.json has no random-target series")
        panels["natural"] = rnd[0]
    except MissingData as exc:
        missing.append(str(exc))
    if not panels:
        raise MissingData("; ".join(missing))
    fig, (left, right) = style.new_figure(2, width=3.5, height=2.8)
    series, level = {}, check_level(report)
    if "witness" in panels:
        w = panels["witness"]
        lv = float(np.log2(w["vocab"]))
        series["witness"] = {"vocab": w["vocab"], "rows": []}
        for i, row in enumerate(w["rows"]):
            st = style.series_style(i)
            got = _plot_points(left, row["points"], st, f"{row['q']}", level)
            ns = np.arange(0, max(got["n"]) + 2)
            env = envelope(ns, row["log2_npr"], lv)
            left.plot(ns, env, color=st["color"], linestyle=":", linewidth=1)
            series["witness"]["rows"].append({"q": row["q"], **got, "envelope_n": ns.tolist(), "envelope": env.tolist()})
        left.set_yscale("log")
        left.set_ylim(bottom=min(0.5 / max(max(r["trials"]) for r in series["witness"]["rows"]), 0.1), top=1.5)
        left.set_title(f"Witness, m=1, |V|={w['vocab']} (dotted: $N_{{pr}}/|V|^n$)")
    else:
        left.text(0.5, 0.5, missing[0], ha="center", va="center", transform=left.transAxes, fontsize=7)
    if "natural" in panels:
        c = panels["natural"]
        series["natural"] = {"alphabet_size": c["alphabet_size"], "rows": []}
        for i, m in enumerate(c["m"]):
            st = style.series_style(i)
            got = _plot_points(right, c["points"][i], st, f"m={m}", level)
            ns = np.arange(0, max(got["n"]) + 2)
            env = envelope(ns, c["log2_prompts"][i], c["log2_alphabet"])
            series["natural"]["rows"].append({"m": m, **got, "envelope_n": ns.tolist(), "envelope": env.tolist()})
        right.plot(ns, env, **style.BOUND_STYLE, label="T1 envelope (=1 here)")
        right.set_yscale("log")
        right.set_ylim(top=1.5)
        right.set_title(f"Natural model, random letters |A|={c['alphabet_size']}")
    else:
        right.text(0.5, 0.5, missing[-1], ha="center", va="center", transform=right.transAxes, fontsize=7)
    for ax in (left, right):
        ax.set_xlabel("target length n")
        ax.set_ylabel("accessible fraction (log)")
        style.legend(ax, loc="lower left", fontsize=6.5)
    if missing:
        series["missing"] = missing
    return fig, series


FIGURE = FigureSpec(
    name="accessible_fraction",
    theorems=("log2_accessible_fraction", "t1_grid"),
    order=90,
    title="Accessible fraction against n on a log axis, under T1's |V|^-n envelope",
    caption=("Fraction of uniformly random targets that prompt tuning reproduces, log scale, against target length. "
             "Left: the tightness witness at each prompt precision Q (m = 1), each with T1's envelope "
             "min(1, Q^d/|V|^n) (dotted, same shade). Right: the natural model with fp32 prompts (envelope = 1 over "
             "this range). Error bars: down to the one-sided Clopper-Pearson lower bound at the report's per-check "
             "confidence level (the family-wise budget the checks use). Open triangles: "
             "no target reproduced, drawn at 1/trials."),
    shows="T1 / Consequence A: the accessible fraction is at most Npr(m)/|V|^n, decaying like |V|^-n past n*",
    checks=("precision_capacity_",),  # the natural model's random-target points are data (no check)
    data=("precision", "cramming"),
    draw=draw,
)
