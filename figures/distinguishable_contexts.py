"""Companion figure: distinguishable contexts against length n, for a model without positions (T2, exact).

From ``data/contexts.json`` (``verify.experiments.contexts``): a tiny non-causal transformer with no positional
encoding over an alphabet of A letters. Left: every one of the A^n contexts of length n is run and the
distinct outputs counted exactly (fine precision): the count never exceeds the number of multisets
C(n+A-1, A-1) (the mean-field lemma: the model sees only the empirical measure), far below A^n; the same
model with a causal mask (still no positions) exceeds the multiset count: the mask leaks order. Right: at
a coarse precision eps the cumulative number of distinguishable contexts over all lengths <= n stops
growing (saturation length marked), for several eps; T2's bound on that number is stated in the title.

Example:
    >>> multiset_count(3, 4)
    15
"""
from __future__ import annotations

import math

import numpy as np

from figures import style
from figures.source import Report, need
from figures.spec import FigureSpec


def multiset_count(alphabet: int, n: int) -> int:
    """C(n + A - 1, A - 1): multisets of size n over A letters."""
    return math.comb(n + alphabet - 1, alphabet - 1)


def draw(report: Report):
    """Draw the distinguishable-contexts figure from ``data/contexts.json``; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> all(c <= m for c, m in zip(series["count"], series["multisets"]))
        True
    """
    data = report.data("contexts")
    where = "data/contexts.json"
    a = int(need(data, "alphabet", where=where))
    exh = need(data, "exhaustive", where=where)
    sat = need(data, "saturation", where=where)
    t2 = data.get("t2") or {}
    fig, (left, right) = style.new_figure(2, width=3.5, height=2.8)
    n = np.asarray(exh["n"], dtype=float)
    contexts = [float(a) ** k for k in exh["n"]]
    s0, s1 = style.series_style(0), style.series_style(1)
    left.plot(n, contexts, **style.ENVELOPE_STYLE, label="all contexts $A^n$")
    left.plot(n, exh["multisets"], **style.BOUND_STYLE, label="multisets $\\binom{n+A-1}{A-1}$")
    left.plot(n, exh["count"], color=s0["color"], marker=s0["marker"], linestyle="none", markersize=6,
              label=f"distinct outputs, no positions (eps {data.get('eps_fine')})")
    if exh.get("causal_count"):
        left.plot(n, exh["causal_count"], color=s1["color"], marker=s1["marker"], linestyle=s1["linestyle"],
                  markerfacecolor="none", markersize=7, label="same model, causal mask")
    left.set_yscale("log")
    left.set_xlabel("context length n")
    left.set_ylabel("number of contexts (log)")
    left.set_title(f"Exhaustive count, alphabet A={a}")
    style.legend(left, loc="upper left", fontsize=6.5)
    lengths = np.asarray(sat["n"], dtype=float)
    right.plot(lengths, sat["cumulative"], color=s0["color"], marker=s0["marker"], markevery=4, linestyle="-",
               label=f"cumulative, eps {data.get('eps')}")
    more = data.get("more_eps") or {}
    for i, (eps, cum) in enumerate(sorted(more.items(), key=lambda kv: -float(kv[0]))):
        st = style.series_style(i + 2)
        right.plot(lengths[: len(cum)], cum, color=st["color"], marker=st["marker"], markevery=4,
                   linestyle=st["linestyle"], label=f"cumulative, eps {eps}")
    right.plot(lengths, sat["per_length"], color="0.6", linestyle="-", linewidth=0.8, marker="x", markevery=4,
               label=f"length n only, eps {data.get('eps')}")
    if sat.get("saturation_length"):
        right.axvline(sat["saturation_length"], color="0.3", linestyle="--", linewidth=1,
                      label=f"saturation length {sat['saturation_length']}")
    right.set_yscale("log")
    right.set_xlabel("context length n")
    right.set_ylabel("distinguishable contexts (log)")
    title = "Finite precision: the count saturates"
    if t2.get("log2_log2_bound") is not None:
        title += f"\nT2: log2 Bw = 2^{t2['log2_log2_bound']:.1f} bits vs {t2.get('log2_count', float('nan')):.1f} measured"
    right.set_title(title, fontsize=8)
    style.legend(right, loc="lower right", fontsize=6.5)
    series = {"n": exh["n"], "count": exh["count"], "multisets": exh["multisets"], "contexts": contexts,
              "causal_count": exh.get("causal_count"), "saturation_n": sat["n"], "cumulative": sat["cumulative"],
              "per_length": sat["per_length"], "saturation_length": sat.get("saturation_length"),
              "more_eps": more, "t2": t2}
    return fig, series


FIGURE = FigureSpec(
    name="distinguishable_contexts",
    theorems=("log2_meanfield",),
    order=100,
    title="Distinguishable contexts against length, for a model without positional encoding",
    caption=("Left: exact number of distinct outputs over all A^n contexts of length n of a tiny non-causal "
             "transformer without positions (circles), never above the number of multisets (dashed), far below A^n "
             "(dotted); with a causal mask (squares) order leaks and the multiset bound no longer applies. Right: at "
             "coarse precision the cumulative number of distinguishable contexts stops growing (saturation length "
             "dashed), for several eps; T2's bound in the title."),
    shows="T2 (mean-field): without positions a transformer sees only the empirical measure, so memory is bounded",
    checks=("contexts_",),
    data=("contexts",),
    draw=draw,
)
