"""Companion figure: information against prompt length m - T1's bound, exact enumeration, trained prompts.

Left: tiny models whose prompt is restricted to a grid of Q levels per coordinate, every one of the
Q^(d*m) prompts enumerated (``verify.experiments.enumeration``): log2 of the exact number of accessible sequences and
of input -> output maps against m, beside T1's exact grid bound d*m*log2 Q and the ceiling log2 |V|^n.
Right: the zoo models under prompt tuning: information stored by trained prompts against m - on the natural
model (``verify.experiments.cramming``) n50(m)*log2|A| bits for uniformly random letters, on the witness
(``verify.experiments.precision``) the measured capacity at Q = 2 - each beside T1's bound for the same prompts (log
scale: for unquantized fp32 prompts the bound is thousands of bits). Third panel: the sign-reader witness
family (``data/precision.json``, key ``signs``), which stores d*m*log2 Q bits at m = 1, 2, 3: T1 attained.

Example:
    >>> t1_line([1, 2, 3], 2.0)
    [2.0, 4.0, 6.0]
"""
from __future__ import annotations


from figures import style
from figures.source import MissingData, Report, cramming_curves, need
from figures.spec import FigureSpec


def t1_line(ms, slope_bits: float) -> list[float]:
    """T1's bound log2 Npr(m) = slope*m at each m (slope = bits per prompt vector)."""
    return [slope_bits * m for m in ms]


def enumeration_series(report: Report) -> list[dict]:
    """Per enumerated model: m, exact log2 counts, T1 grid bound and the |V|^n ceiling.

    Example:
        >>> from pathlib import Path
        >>> s = enumeration_series(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))[0]
        >>> all(a <= b for a, b in zip(s["log2_accessible"], s["log2_prompts"]))
        True
    """
    models = need(report.data("enumeration"), "models", where="data/enumeration.json")
    out = []
    for mod in models:
        out.append({
            "label": f"d={mod['d']}, |V|={mod['vocab']}, Q={mod['levels']}, n={mod['n']}",
            "m": list(mod["m"]), "log2_accessible": list(mod["log2_accessible"]), "log2_maps": list(mod["log2_maps"]),
            "log2_prompts": list(mod["log2_prompts"]), "log2_vocab_n": mod["log2_vocab_n"],
            "slope_accessible": mod["slope_accessible"], "t1_slope": mod["t1_slope"],
        })
    return out


def trained_series(report: Report) -> list[dict]:
    """Trained prompts on the zoo: the natural model's random-target cramming (bits = n50(m)*log2|A|) and the
    witness's measured capacity at Q = 2 (``verify.experiments.precision``), each with T1's bound for the same prompts."""
    out, missing = [], []
    try:
        for curve in cramming_curves(report):
            if curve["targets"] != "random" or not curve["m"]:
                continue
            bits = [n50 * curve["log2_alphabet"] for n50 in curve["n50"]]
            out.append({"label": f"{curve['model']}: n50 x log2|A|, random letters", "model": curve["model"],
                        "m": curve["m"], "bits": bits, "log2_prompts": curve["log2_prompts"],
                        "bound_form": "fp32 prompts in [-r, r]"})
    except MissingData as exc:
        missing.append(str(exc))
    try:
        rows = [r for r in report.data("precision").get("rows", []) if r.get("q") == "q2"]
        rows.sort(key=lambda r: int(r["m"]))
        if rows:
            out.append({"label": "witness: measured capacity, Q=2", "model": "witness",
                        "m": [int(r["m"]) for r in rows], "bits": [float(r["capacity_bits"]) for r in rows],
                        "log2_prompts": [float(r["log2_npr"]) for r in rows], "bound_form": "grid Q=2"})
    except MissingData as exc:
        missing.append(str(exc))
    if not out:
        raise MissingData("; ".join(missing) or "no trained-prompt series")
    return out


def signs_series(report: Report) -> dict:
    """The sign-reader witness family (``data/precision.json``, key ``signs``): per m its measured capacity
    bits(m) with its confidence interval, beside T1's d*m*log2 Q (Q = 2); MissingData without it.

    Example (the fixture report the tests use):
        >>> from figures.source import FIXTURE
        >>> s = signs_series(Report(FIXTURE))
        >>> s["m"], all(lo <= b <= hi <= t for b, lo, hi, t in zip(s["bits"], s["bits_lower"], s["bits_upper"], s["t1_bits"]))
        ([1, 2, 3], True)
    """
    signs = need(report.data("precision"), "signs", where="data/precision.json")
    if not signs:
        raise MissingData("data/precision.json has no sign-reader rows (key signs)")
    ms = sorted(int(m) for m in signs)
    rows = [signs[str(m)] for m in ms]
    caps = [need(r, "capacity", where=f"data/precision.json signs.{m}") for m, r in zip(ms, rows)]
    return {"m": ms, "d": [int(r["d"]) for r in rows], "t1_bits": [float(r["log2_npr"]) for r in rows],
            "bits": [float(c["bits"]) for c in caps], "bits_lower": [float(c["bits_lower"]) for c in caps],
            "bits_upper": [float(c["bits_upper"]) for c in caps], "ratio": [float(r["ratio"]) for r in rows],
            "ratio_interval": [list(r["ratio_interval"]) for r in rows],
            "level": float(caps[0].get("level_per_point") or 0.95)}


def _signs_panel(ax, s: dict) -> None:
    import numpy as np

    bits = np.asarray(s["bits"])
    ax.errorbar(s["m"], bits, yerr=[bits - np.asarray(s["bits_lower"]), np.asarray(s["bits_upper"]) - bits],
                fmt="o", color="0.0", capsize=3, elinewidth=1, label="measured bits(m), interval")
    ax.plot(s["m"], s["t1_bits"], **style.BOUND_STYLE, marker="_", markersize=12, label="T1: $d m \\log_2 Q$, Q=2")
    for m, b, r, iv in zip(s["m"], bits, s["ratio"], s["ratio_interval"]):
        ax.annotate(f"{r:.3f} [{iv[0]:.3f}, {iv[1]:.3f}]", (m, b), xytext=(4, -12), textcoords="offset points",
                    fontsize=5.5)
    ax.set_xticks(s["m"])
    ax.set_xlim(min(s["m"]) - 0.5, max(s["m"]) + 0.7)
    ax.set_ylim(0, max(s["t1_bits"]) * 1.15)
    ax.set_xlabel("prompt length m (vectors)")
    ax.set_ylabel("information (bits)")
    ax.set_title(f"Sign reader (d={s['d'][0]}): T1 attained")
    style.legend(ax, loc="upper left", fontsize=6)


def draw(report: Report):
    """Draw information against m (enumeration left, trained prompts right); return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> len(series["exact"]) >= 1
        True
    """
    exact = enumeration_series(report)
    missing = []
    try:
        trained = trained_series(report)
    except MissingData as exc:
        trained, missing = [], [str(exc)]
    try:
        signs = signs_series(report)
    except MissingData as exc:
        signs, missing = None, missing + [str(exc)]
    fig, (left, right, third) = style.new_figure(3, width=3.6, height=3.0)
    from matplotlib.lines import Line2D

    grays = ("0.0", "0.55", "0.3", "0.7")
    for i, s in enumerate(exact):
        # one gray per model; marker and line style say which quantity
        color = grays[i % 4]
        left.plot(s["m"], s["log2_accessible"], color=color, marker="o", linestyle="-")
        left.plot(s["m"], s["log2_maps"], color=color, marker="s", markerfacecolor="none", linestyle="-.")
        left.plot(s["m"], s["log2_prompts"], color=color, linestyle="--", linewidth=1.4)
        left.axhline(s["log2_vocab_n"], color=color, linestyle=":", linewidth=1.2)
    handles = [Line2D([], [], color="0.0", marker="o", linestyle="-", label="accessible sequences"),
               Line2D([], [], color="0.0", marker="s", markerfacecolor="none", linestyle="-.", label="input->output maps"),
               Line2D([], [], color="0.0", linestyle="--", label="T1: $dm\\log_2 Q$"),
               Line2D([], [], color="0.0", linestyle=":", label="$\\log_2|V|^n$")]
    handles += [Line2D([], [], color=grays[i % 4], linewidth=4, label=s["label"]) for i, s in enumerate(exact)]
    left.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, 0.95), fontsize=5.8, frameon=False)
    left.set_xlabel("prompt length m (vectors)")
    left.set_ylabel("log2 count (bits)")
    left.set_title("Exact enumeration (no optimizer)")
    left.set_xticks(sorted({m for s in exact for m in s["m"]}))
    for i, s in enumerate(trained):
        st = style.series_style(i)
        right.plot(s["m"], s["bits"], color=st["color"], marker=st["marker"], linestyle="-", label=s["label"])
        right.plot(s["m"], s["log2_prompts"], color=st["color"], linestyle="--", marker="_",
                   label=f"T1, {s['model']} ({s['bound_form']})")
    if trained:
        right.set_yscale("log")
        right.set_xticks(sorted({m for s in trained for m in s["m"]}))
    else:
        right.text(0.5, 0.5, "no trained-prompt data\n(" + "; ".join(missing) + ")", ha="center", va="center",
                   transform=right.transAxes, fontsize=7)
    right.set_xlabel("prompt length m (vectors)")
    right.set_ylabel("information (bits)")
    right.set_title("Trained prompts vs T1")
    style.legend(right, loc="lower right", fontsize=6)
    if signs is not None:
        _signs_panel(third, signs)
    else:
        third.text(0.5, 0.5, "no sign-reader data\n(" + missing[-1] + ")", ha="center", va="center",
                   transform=third.transAxes, fontsize=7, wrap=True)
    series = {"exact": exact, "trained": trained, "signs": signs}
    if missing:
        series["missing"] = missing
    return fig, series


FIGURE = FigureSpec(
    name="info_vs_m",
    theorems=("t1_grid",),
    order=60,
    title="Information against prompt length m: T1 bound, exact enumeration, trained prompts",
    caption=("Left: log2 of the exact number of accessible sequences and input->output maps of tiny grid-prompt "
             "models, all Q^(dm) prompts enumerated, beside T1's d*m*log2 Q (dashed) and log2 |V|^n (dotted). "
             "Right: bits stored by trained prompts on the zoo models (natural model: n50(m)*log2|A| for random letters; "
             "witness: measured capacity at Q = 2) beside T1's bound for the same prompts (dashed, same shade), log scale. "
             "Right: the sign-reader witness family (prompt tuning without the encoder, Q = 2): measured bits(m) with "
             "its confidence interval beside T1's d*m*log2 Q (dashed), labelled with bits/bound and its interval: "
             "the constructive side of T1, attained at every m."),
    shows=("T1: memorized information grows at most linearly in m, with slope d*log2(1+2r/eps); "
           "the sign reader attains d*m*log2 Q at every m"),
    checks=("enumeration_", "precision_capacity_q2_", "precision_signs_"),
    data=("enumeration", "cramming", "precision"),
    draw=draw,
)
