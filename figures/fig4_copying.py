"""Fig. 4: exact-copy accuracy against string length, with its sigmoid fit (degradation with length).

From ``data/copying.json`` (``verify.experiments.copying``): a small transformer trained to copy random strings over 26
letters of length up to ``max_train_len`` is evaluated at every length up to three times that. Left: exact
copy accuracy (and per-character accuracy) against length with the decreasing sigmoid
``1/(1 + exp(k (n - n0)))``; n0, the copy threshold, marked; the training range shaded. Right: the fraction
of the string copied before the first error, log scale, with the exponential decay fitted past n0.
"""
from __future__ import annotations

import numpy as np

from figures import style
from figures.source import Report, need
from figures.spec import FigureSpec
from verify.fit import sigmoid


def draw(report: Report):
    """Draw Fig. 4 from ``data/copying.json``; return (figure, the series it plotted).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> series["sigmoid"]["n0"] > 0
        True
    """
    data = report.data("copying")
    where = "data/copying.json"
    lengths = np.asarray(need(data, "lengths", where=where), dtype=float)
    exact = need(data, "exact_accuracy", where=where)
    char = data.get("char_accuracy")
    fraction = need(data, "fraction_copied", where=where)
    sig = need(data, "sigmoid", where=where)
    decay = data.get("decay") or {}
    max_train = data.get("max_train_len")
    fig, (left, right) = style.new_figure(2, width=3.5, height=2.7)
    if max_train:
        for ax in (left, right):
            ax.axvspan(0.5, max_train + 0.5, color="0.92", zorder=0, label="training lengths" if ax is left else None)
    s0, s1 = style.series_style(0), style.series_style(1)
    left.plot(lengths, exact, color=s0["color"], marker=s0["marker"], linestyle="none", label="exact copy")
    grid = np.linspace(lengths.min(), lengths.max(), 400)
    fit = sigmoid(grid, sig["n0"], sig["k"])
    left.plot(grid, fit, color="0.0", linestyle="-", linewidth=1,
              label=f"sigmoid: $n_0$={sig['n0']:.1f}, k={sig['k']:.2f}, $R^2$={sig.get('r2', float('nan')):.3f}")
    if char is not None:
        left.plot(lengths, char, color=s1["color"], marker=s1["marker"], linestyle=s1["linestyle"],
                  markevery=3, label="per-character")
    left.axvline(sig["n0"], **style.BOUND_STYLE)
    left.set_xlabel("string length n (letters)")
    left.set_ylabel("accuracy")
    left.set_ylim(-0.04, 1.04)
    left.set_title("Copying accuracy against length")
    style.legend(left, loc="upper right", fontsize=6.5)
    right.plot(lengths, fraction, color=s0["color"], marker=s0["marker"], linestyle="none", label="fraction copied")
    decay_line = None
    if decay.get("rate_per_char") is not None and decay.get("fitted_from") is not None:
        xs = np.arange(decay["fitted_from"], decay["fitted_to"] + 1, dtype=float)
        # the fit is log(fraction) = rate*n + c; c from the fitted range's points (least squares of the residual)
        idx = [int(np.nonzero(lengths == x)[0][0]) for x in xs if x in lengths]
        ys = np.log(np.asarray(fraction)[idx])
        c = float(np.mean(ys - decay["rate_per_char"] * lengths[idx]))
        decay_line = np.exp(decay["rate_per_char"] * xs + c)
        right.plot(xs, decay_line, **style.BOUND_STYLE,
                   label=f"exp fit: rate {decay['rate_per_char']:.3f}/char, $R^2$={decay.get('r2', float('nan')):.2f}")
    right.axvline(sig["n0"], color="0.3", linestyle=":", linewidth=1)
    right.set_yscale("log")
    right.set_xlabel("string length n (letters)")
    right.set_ylabel("fraction copied before the first error")
    right.set_title("Exponential decay past the threshold")
    style.legend(right, loc="lower left", fontsize=6.5)
    series = {"lengths": lengths.tolist(), "exact_accuracy": list(exact), "char_accuracy": None if char is None else list(char),
              "fraction_copied": list(fraction), "sigmoid": dict(sig), "sigmoid_curve": fit.tolist(),
              "decay": dict(decay), "max_train_len": max_train}
    return fig, series


FIGURE = FigureSpec(
    name="fig4_copying",
    theorems=("log2_meanfield",),
    order=40,
    title="Fig. 4 - copying accuracy against string length, with sigmoid fit",
    caption=("A 2-layer transformer trained to copy random 26-letter strings (lengths up to the shaded training range) "
             "evaluated at every length. Left: exact-copy accuracy (circles) with its decreasing sigmoid fit and the "
             "threshold n0 (dashed); per-character accuracy (squares). Right: fraction of the string copied before "
             "the first error, log scale, with the exponential fit past the threshold."),
    shows="degradation with context length (T2's consequence), on Jelassi et al.'s copying task",
    checks=("copying_",),
    data=("copying",),
    draw=draw,
)
