"""Companion figure: measured capacity against precision (bits per prompt coordinate), beside T1.

From ``data/precision.json`` (``verify.experiments.precision``): on the tightness witness, prompts quantized to Q = 2,
4, 16, 256 levels per coordinate (log2 Q bits each) or kept in fp32 in [-r, r] (log2 of the number of fp32
values there, about 30 bits). Left: the measured capacity ``max_n [n*log2|V| + log2 f_lower]`` (a lower
confidence estimate, at the per-check level, of log2 of the number of accessible sequences) against bits per coordinate, beside
T1's ``log2 Npr(m) = d*m*bits``. Right: their ratio, the tightness: near 1 at Q = 2, where the witness was
built to be steerable, and falling as precision grows: extra precision buys (almost) nothing.

Example:
    >>> bits_per_coordinate({"log2_npr": 32.0, "m": 2}, d=16)
    1.0
"""
from __future__ import annotations


from figures import style
from figures.source import MissingData, Report, need
from figures.spec import FigureSpec


def bits_per_coordinate(row: dict, d: int) -> float:
    """log2 Npr(m)/(d*m): the bits one prompt coordinate carries under T1 for this row's precision."""
    return float(row["log2_npr"]) / (d * int(row["m"]))


def draw(report: Report):
    """Draw capacity against precision from ``data/precision.json``; return (figure, series).

    Example (the fixture report the tests use):
        >>> from pathlib import Path
        >>> fig, series = draw(Report(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report"))
        >>> sorted(series["by_m"])
        ['1']
    """
    data = report.data("precision")
    where = "data/precision.json"
    d = int(need(data, "model", "d", where=where))
    rows = need(data, "rows", where=where)
    if not rows:
        raise MissingData("data/precision.json has no rows")
    fig, (left, right) = style.new_figure(2, width=3.4, height=2.7)
    ms = sorted({int(r["m"]) for r in rows})
    series = {"d": d, "by_m": {}}
    for i, m in enumerate(ms):
        sub = sorted((r for r in rows if int(r["m"]) == m), key=lambda r: bits_per_coordinate(r, d))
        x = [bits_per_coordinate(r, d) for r in sub]
        cap = [float(r["capacity_bits"]) for r in sub]
        bound = [float(r["log2_npr"]) for r in sub]
        tight = [float(r["tightness"]) for r in sub]
        st = style.series_style(i)
        left.plot(x, cap, color=st["color"], marker=st["marker"], linestyle=st["linestyle"], label=f"measured, m={m}")
        left.plot(x, bound, **style.BOUND_STYLE, marker="_", label=f"T1: $d m \\log_2 Q$, m={m}" if i == 0 else None)
        right.plot(x, tight, color=st["color"], marker=st["marker"], linestyle=st["linestyle"], label=f"m={m}")
        for xi, ci, r in zip(x, cap, sub):
            left.annotate(str(r["q"]), (xi, ci), xytext=(3, -9), textcoords="offset points", fontsize=6.5)
        series["by_m"][str(m)] = {"q": [r["q"] for r in sub], "bits_per_coordinate": x, "capacity_bits": cap,
                                  "log2_npr": bound, "tightness": tight}
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("bits per prompt coordinate ($\\log_2 Q$)")
    left.set_yscale("log")
    left.set_ylabel("capacity (bits)")
    left.set_title(f"Witness (d={d}): capacity vs T1")
    style.legend(left, loc="upper left")
    right.axhline(1, **style.BOUND_STYLE, label="bound reached")
    right.axhline(0.5, color="0.5", linestyle=":", linewidth=1, label="factor 2")
    right.set_ylim(0, 1.1)
    right.set_ylabel("capacity / T1 bound")
    right.set_title("Tightness: where T1 is reached")
    style.legend(right, loc="center right")
    return fig, series


FIGURE = FigureSpec(
    name="capacity_precision",
    theorems=("t1_grid", "cross_entropy_floor"),
    order=70,
    title="Capacity against precision bits, on the tightness witness",
    caption=("Left: measured capacity of prompt tuning on the witness (lower confidence estimate, at the report's "
             "per-check level, of log2 of the "
             "number of accessible sequences, log scale) against the bits per prompt coordinate (log2 Q for Q = 2, 4, "
             "16, 256; fp32 in [-r, r]), beside T1's d*m*log2 Q (dashed). Right: capacity/bound; the dotted line is "
             "the factor-2 requirement."),
    shows="T1's grid form d*m*log2 Q: tight at Q = 2 on the witness, loose once precision exceeds what the model uses",
    checks=("precision_",),
    data=("precision",),
    draw=draw,
)
