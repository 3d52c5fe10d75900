"""Companion figure: information retained against context length plateaus (T2).

From ``data/copying.json`` (``verify.experiments.copying``): the information the copying model reproduces from a
context of n letters, I(n) = E[correct prefix] * log2 26 bits, against n, beside the perfect copy
n*log2 26: it follows the line up to the copy threshold, then stops growing (on this model it even
collapses past the training lengths: the copy fails early, so no plateau above the peak is reached). T2 bounds what any
transformer can hold about a context of any length by log2 Bw bits; for this model's width and fp32 the
bound is astronomically loose (log2 log2 Bw ~ 10^3), so it is drawn on a log2-log2 scale in the right
panel beside the measured peak, with the gap stated. Caveat (from verify.experiments.copying): T2's mean-field premise
does not hold for a rotary causal model, so this is evidence of degradation, not a test of the mechanism.

Example:
    >>> round(loglog_bits(256.0), 6)
    3.0
"""
from __future__ import annotations

import math

import numpy as np

from figures import style
from figures.source import Report, need
from figures.spec import FigureSpec

LOG2_26 = math.log2(26)


def loglog_bits(bits: float) -> float:
    """log2(log2(bits)): the scale on which T2's bound and a measurement can share an axis."""
    return math.log2(math.log2(bits))


def draw(report: Report):
    """Draw the plateau figure from ``data/copying.json``; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> series["log2_log2_measured"] < series["log2_log2_bound"]
        True
    """
    data = report.data("copying")
    where = "data/copying.json"
    lengths = np.asarray(need(data, "lengths", where=where), dtype=float)
    bits = np.asarray(need(data, "bits_reproduced", where=where), dtype=float)
    t2 = need(data, "t2", where=where)
    peak = float(data.get("peak_bits", bits.max()))
    fig, (left, right) = style.new_figure(2, width=3.5, height=2.7)
    s0 = style.series_style(0)
    left.plot(lengths, bits, color=s0["color"], marker=s0["marker"], linestyle="-", markevery=2,
              label="information reproduced I(n)")
    left.plot(lengths, lengths * LOG2_26, **style.ENVELOPE_STYLE, label="perfect copy: $n\\log_2 26$")
    left.axhline(peak, color="0.3", linestyle="-.", linewidth=1, label=f"peak {peak:.0f} bits, never exceeded")
    if data.get("max_train_len"):
        left.axvspan(0.5, data["max_train_len"] + 0.5, color="0.92", zorder=0, label="training lengths")
    left.set_ylim(0, max(peak * 1.6, 10))
    left.set_xlabel("context length n (letters)")
    left.set_ylabel("bits")
    left.set_title("Information retained stops growing")
    style.legend(left, loc="center right", fontsize=6.5)
    bound_ll = float(t2["log2_log2_bound"])
    measured_ll = loglog_bits(peak)
    right.bar([0, 1], [measured_ll, bound_ll], color=["0.55", "0.9"], edgecolor="0.0", hatch=["", "///"], width=0.6)
    right.set_yscale("log")
    right.set_ylim(bottom=1)
    right.set_xticks([0, 1])
    right.set_xticklabels(["measured peak", "T2 bound"])
    for x, v in ((0, measured_ll), (1, bound_ll)):
        right.annotate(f"{v:.3g}", (x, v), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7)
    right.set_ylabel("log2 log2 (bits)")
    right.set_title(f"T2: log2 Bw = 2^{bound_ll:.0f} bits (d={t2.get('d')}, eps={t2.get('eps')})", fontsize=8)
    series = {"lengths": lengths.tolist(), "bits_reproduced": bits.tolist(), "peak_bits": peak,
              "log2_log2_bound": bound_ll, "log2_log2_measured": measured_ll}
    return fig, series


FIGURE = FigureSpec(
    name="context_plateau",
    theorems=("log2_meanfield",),
    order=80,
    title="Information retained against context length: the plateau, beside T2",
    caption=("Left: bits of a random 26-letter context that the copying model reproduces (correct prefix times "
             "log2 26) against context length; dotted: a perfect copy; dash-dot: the peak, which longer contexts never "
             "exceed. Right: T2's bound on "
             "the information any transformer of this width holds about a context of any length, log2 log2 Bw, "
             "beside log2 log2 of the measured peak (log scale). The bound holds and is astronomically loose; "
             "T2's mean-field premise does not hold for this rotary causal model."),
    shows="T2: the information a transformer keeps about its context is bounded whatever the length",
    checks=("copying_bits_bounded",),
    data=("copying",),
    draw=draw,
)
