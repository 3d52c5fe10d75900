"""Companion figure: T2 with a finite vocabulary, measured beside its bound, and its scale for real models.

Left, from ``data/t2_vocab.json`` (``verify.experiments.t2_vocab``): on a one-layer non-causal transformer
without positions over |V| tokens, the number of contexts distinguishable at output precision eps_out,
cumulative over all lengths <= n (markers) and among the contexts of length n alone (thin line), on a log
scale, for each eps_out; the number of contexts of length n as measures, C(n+|V|-1, |V|-1) (dotted);
and the finite-vocabulary bound Bw_V at eps_in = eps_out/(2L) for q = 1 with L the analytic upper bound
(dashed, a theorem) and with L the empirical lower estimate (dash-dot, not a bound). [HMDO]'s support-net
bound at the same eps_in is doubly exponential: its log2 log2 is printed in the title.

Right, from ``bounds`` (``bounds.table.build_rows`` at fp16's eps = 2^-10, read as the W_q precision of the
input measure): the bound in tokens' worth, log2 Bw_V / log2|V|, for q = 1 and 2, for every preset with a
measured radius, beside the model's context window (max_position_embeddings) where the presets know it.

Example:
    >>> rows = preset_rows()
    >>> round(rows["pythia-160m"]["tokens_q1"]), rows["pythia-160m"]["context_window"]
    (52930, 2048)
"""
from __future__ import annotations

import numpy as np

from figures import style
from figures.source import Report, need
from figures.spec import FigureSpec


def preset_rows() -> dict:
    """Per preset with a radius: bits and tokens' worth of Bw_V at q = 1, 2 and the context window (or None)."""
    from bounds import PRESETS
    from bounds.table import build_rows

    out = {}
    for row in build_rows(list(PRESETS.values()), [1], eps_text="fp16"):
        if row["log2_meanfield_vocab_q1"] is None:
            continue
        out[row["model"]] = {
            "bits_q1": float(row["log2_meanfield_vocab_q1"]), "bits_q2": float(row["log2_meanfield_vocab_q2"]),
            "tokens_q1": float(row["tokens_meanfield_vocab_q1"]), "tokens_q2": float(row["tokens_meanfield_vocab_q2"]),
            "log2_log2_support_net": float(row["log2_log2_meanfield"]), "context_window": row["context_window"],
        }
    return out


def draw(report: Report):
    """Draw the figure from ``data/t2_vocab.json`` and the bounds library; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> all(c <= 2 ** b for c, b in zip(series["measured"]["final"], series["measured"]["log2_bound_q1"]))
        True
    """
    data = report.data("t2_vocab")
    where = "data/t2_vocab.json"
    run = need(data, "runs", where=where)[0]
    curves, bounds_at = need(run, "curves", where=where), need(run, "bounds", where=where)
    fig, (left, right) = style.new_figure(2, width=3.6, height=3.6)
    measured = {"eps_out": [], "final": [], "log2_bound_q1": [], "log2_bound_q1_empirical_L": [],
                "log2_log2_support_net_q1": [], "curves": {}}
    lengths = None
    for i, eps in enumerate(sorted(curves, key=float, reverse=True)):
        c, b = curves[eps], bounds_at[eps]["1"]
        st = style.series_style(i)
        n = np.asarray(c["n"], dtype=float)
        lengths = lengths if lengths is not None and len(lengths) >= len(n) else (n, c["multisets"])
        left.plot(n, c["cumulative"], color=st["color"], marker=st["marker"], markevery=max(1, len(n) // 8),
                  linestyle="-", label=f"all lengths <= n, eps_out {eps}")
        left.plot(n, c["per_length"], color=st["color"], linestyle=":", linewidth=0.8)
        left.axhline(2 ** b["log2_upper_L"], color=st["color"], linestyle="--", linewidth=1.2,
                     label=f"Bw_V, L analytic ({b['log2_upper_L']:.1f} bits)")
        left.axhline(2 ** b["log2_empirical_L"], color=st["color"], linestyle="-.", linewidth=0.9,
                     label=f"Bw_V at empirical L ({b['log2_empirical_L']:.1f} bits)")
        measured["eps_out"].append(float(eps))
        measured["final"].append(c["cumulative"][-1])
        measured["log2_bound_q1"].append(b["log2_upper_L"])
        measured["log2_bound_q1_empirical_L"].append(b["log2_empirical_L"])
        measured["log2_log2_support_net_q1"].append(b["log2_log2_support_net"])
        measured["curves"][eps] = {k: c[k] for k in ("n", "per_length", "cumulative", "multisets")}
    left.plot(lengths[0], lengths[1], **style.ENVELOPE_STYLE, label="contexts of length n (multisets)")
    left.set_yscale("log")
    left.set_xlabel("context length n")
    left.set_ylabel("distinguishable contexts (log)")
    support = ", ".join(f"2^{v:.0f}" for v in measured["log2_log2_support_net_q1"])
    left.set_title(f"|V| = {run['vocab']}, d = {run['d']}, q = 1; support-net log2 Bw = {support} bits", fontsize=7.5)
    left.set_ylim(1, 2 ** (max(measured["log2_bound_q1"]) + 3))
    style.legend(left, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=5.5, ncol=2)

    rows = preset_rows()
    names = list(rows)
    x = np.arange(len(names))
    tok1 = [rows[k]["tokens_q1"] for k in names]
    tok2 = [rows[k]["tokens_q2"] for k in names]
    right.bar(x - 0.2, tok1, width=0.4, color="0.35", label="Bw_V, q = 1 (tokens' worth)")
    right.bar(x + 0.2, tok2, width=0.4, color="0.7", hatch="//", label="Bw_V, q = 2")
    windows = [rows[k]["context_window"] for k in names]
    known = [i for i, w in enumerate(windows) if w is not None]
    right.plot(x[known], [windows[i] for i in known], linestyle="none", marker="_", markersize=14,
               markeredgewidth=2.2, color="0.0", label="context window")
    right.set_yscale("log")
    right.set_ylim(500, 4 * max(tok2))
    right.set_xticks(x)
    right.set_xticklabels(names, rotation=45, ha="right", fontsize=6.5)
    right.set_ylabel("tokens (log)")
    right.set_title("Presets at eps = 2^-10 (W_q precision of the input)", fontsize=8)
    style.legend(right, loc="upper left", fontsize=6)
    series = {"vocab": run["vocab"], "d": run["d"], "seed": run["seed"], "lipschitz": run["lipschitz"],
              "measured": measured, "presets": rows}
    return fig, series


FIGURE = FigureSpec(
    name="t2_vocab",
    theorems=("log2_meanfield_vocab",),
    order=110,
    title="T2 with a finite vocabulary: distinguishable contexts of all lengths beside the bound",
    caption=("Left: contexts distinguishable at output precision eps_out of a one-layer non-causal transformer "
             "without positions, cumulative over all lengths <= n (markers) and of length n alone (dotted), with the "
             "number of contexts of length n (gray dotted) and the finite-vocabulary bound Bw_V at eps_in = "
             "eps_out/(2L), q = 1: L analytic (dashed, a theorem) and L empirical (dash-dot, a lower estimate); "
             "[HMDO]'s support-net bound is doubly exponential (title). Right: Bw_V in tokens' worth for the "
             "presets at eps = 2^-10, q = 1 and 2, beside each model's context window."),
    shows="T2 with a finite vocabulary (derived here): a context-length-independent cap on distinguishable contexts",
    checks=("t2_vocab_",),
    data=("t2_vocab",),
    draw=draw,
    computed="bounds.table rows for the presets",
)
