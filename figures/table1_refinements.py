"""Table 1: bound/empirical ratio of T1 and each refinement (ball, cone, box, non-uniform cells).

For each model, every refinement gives a bound C on the tokens one prompt vector can pin down, and the
table divides it by the measured slope (tokens per prompt vector, the slope of n50 against m): ratio >= 1
means the bound holds, close to 1 means it is tight.

- ball: C = d*log2(1 + 2r/eps)/log2|V| (T1, consequence A);
- cone: ball plus log2 of the cone fraction at the measured opening angle theta;
- box: sum_i log2(1 + l_i/eps)/log2|V| with the measured per-coordinate ranges l_i;
- non-uniform cells: n* - 1, the longest length at which a typical (median) random sequence still owns
  a cell of volume >= 1/Pk, where n* is bounds.refinements.nonuniform_threshold on Monte Carlo cell
  volumes (with equal cells n* - 1 = floor(C), the ball's own threshold).

Project models: r is the zoo's measured l_inf radius of the final states, theta, l_i and the cell volumes
are measured on final states of in-domain contexts (``verify.experiments.geometry``, ``data/geometry.json``),
eps is the model's own precision (fp32), the slope
comes from ``verify.experiments.cramming`` (natural-text targets when measured, else random targets); for the witness,
which cramming does not run, the measured capacity of fp32 prompts (``verify.experiments.precision``) in tokens. A real pretrained
LM measured by ``verify.experiments.real_cramming`` (``data/real_cramming.json``, profile ``real``) gets a row too.
Published models: d, |V|, r, theta and slope from ``bounds.PRESETS`` ([HMDO] Table 2), at fp16's eps
as in [HMDO]'s tables; box ranges and cell volumes are not published, so those columns are empty.

Writes ``table1_refinements.md`` and ``table1_refinements.tex`` beside the figure.

Example:
    >>> row = preset_row("demo", d=2, vocab=4, radius=0.5, theta=3.141592653589793, slope=0.25, eps=1)
    >>> round(row["ball"], 6), round(row["cone"], 6), row["ratio"]["ball"]
    (1.0, 0.5, 4.0)
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import bounds
from figures import style
from figures.source import MissingData, Report, cramming_curves, zoo_geometry
from figures.spec import FigureSpec

REFINEMENTS = ("ball", "cone", "box", "nonuniform")
LABELS = {"ball": "ball (T1)", "cone": "cone", "box": "box", "nonuniform": "non-uniform cells"}
PUBLISHED_EPS = "fp16"


def _ratios(row: dict) -> dict:
    slope = row.get("slope")
    return {k: (row[k] / slope if row.get(k) is not None and slope else None) for k in REFINEMENTS}


def preset_row(name: str, d: int, vocab: int, radius: float, theta: float | None, slope: float | None,
               eps="fp16", source: str = "bounds.PRESETS") -> dict:
    """A table row from published facts: ball and cone C (tokens per vector) and their ratios to ``slope``."""
    b = bounds
    row = {"model": name, "source": source, "d": d, "vocab": vocab, "radius": radius, "theta": theta,
           "eps": str(eps), "slope": slope,
           "ball": float(b.tokens_per_vector(d, vocab, radius=radius, eps=eps)),
           "cone": float(b.tokens_per_vector_cone(d, vocab, radius, eps, theta)) if theta else None,
           "box": None, "nonuniform": None}
    row["ratio"] = _ratios(row)
    return row


def published_rows() -> list[dict]:
    """Rows for every preset with a measured radius and slope ([HMDO] Table 2).

    Example:
        >>> rows = published_rows()
        >>> all(r["ratio"]["ball"] >= 1 for r in rows)   # T1 holds on every published model
        True
    """
    rows = []
    for name, p in bounds.PRESETS.items():
        if p.radius is None or p.slope is None:
            continue
        rows.append(preset_row(name, p.d, p.vocab, p.radius, p.theta, p.slope, PUBLISHED_EPS,
                               source=p.sources.get("slope", "bounds.PRESETS")))
    return rows


def measured_slope(report: Report, model: str) -> tuple[float, str]:
    """Measured tokens per prompt vector of a zoo model.

    Natural model: slope of n50 on m from verify.experiments.cramming (natural targets first, else random). Witness:
    verify.experiments.precision's capacity with unquantized fp32 prompts at m = 1, in tokens (capacity/log2|V|), since
    cramming does not run on it. MissingData when neither was measured.
    """
    try:
        curves = [c for c in cramming_curves(report) if c["model"] == model and c.get("slope") is not None]
    except MissingData:
        curves = []
    for kind in ("natural", "random"):
        for c in curves:
            if c["targets"] == kind:
                return c["slope"], f"cramming, {kind} targets"
    if report.has("precision"):
        data = report.data("precision")
        if data.get("model", {}).get("name") == model:
            rows = [r for r in data.get("rows", []) if r.get("q") == "fp32" and int(r["m"]) == 1]
            if rows and rows[0]["capacity_bits"] > 0:
                return rows[0]["capacity_bits"] / math.log2(data["model"]["vocab"]), "precision, fp32 capacity"
    raise MissingData(f"no measured slope for the {model} model (cramming or precision)")


def project_row(report: Report, name: str, g: dict) -> dict:
    """A table row for a zoo model from its measured geometry ``g`` (an entry of data/geometry.json):
    all four refinements, and their ratio to its measured slope."""
    from bounds.refinements import nonuniform_threshold

    support = g["support"]
    d, vocab, radius, dtype = g["d"], g["vocab"], g["radius"], g["dtype"]
    log2_vocab = math.log2(vocab)
    ball_bits = float(bounds.log2_prompts_ball(d, 1, radius, dtype))
    cone = None
    if 0 < support["theta"] <= math.pi:
        cone = float(bounds.tokens_per_vector_cone(d, vocab, radius, dtype, support["theta"]))
    sides = [max(s, 1e-30) for s in support["sides"]]
    box = float(bounds.log2_prompts_box(sides, 1, dtype)) / log2_vocab
    counts = np.asarray(g["cells"]["counts"])
    n_star = nonuniform_threshold(counts[counts > 0] / int(g["cells"]["samples"]), ball_bits)
    try:
        slope, kind = measured_slope(report, name)
    except MissingData:
        slope, kind = None, "not measured"
    row = {"model": name, "source": f"zoo (slope: {kind})", "d": d, "vocab": vocab,
           "radius": radius, "theta": support["theta"], "eps": dtype, "slope": slope,
           "ball": ball_bits / log2_vocab, "cone": cone, "box": box, "nonuniform": float(n_star - 1)}
    row["ratio"] = _ratios(row)
    return row


def real_row(report: Report) -> dict:
    """A row for the real pretrained LM at fp32, from ``data/real_cramming.json`` of the report or else the
    committed ``results/real_cramming`` run: all four columns from its ``table1`` block (``verify.experiments.real_table1``:
    r, theta, per-coordinate ranges, Monte Carlo cells), else ball and cone from the cramming run's r and
    theta; slope: greedy prefix on m (natural text, else random tokens)."""
    from figures.real_lm import real_data

    data = real_data(report, "real_cramming")
    facts, geo = data.get("model") or {}, data.get("geometry") or {}
    if not facts.get("d") or not geo.get("r"):
        raise MissingData("data/real_cramming.json has no model facts or geometry")
    slopes = (data.get("summary") or {}).get("slopes") or data.get("slopes") or {}
    kind = next((k for k in ("natural", "random") if k in slopes), None)
    t1 = data.get("table1") or {}
    t1_geo = t1.get("geometry") or geo
    row = preset_row(str(facts.get("name") or "real LM"), int(facts["d"]), int(facts["vocab"]), float(t1_geo["r"]),
                     t1_geo.get("theta"), slopes[kind]["slope"] if kind else None, eps="fp32",
                     source=f"verify.experiments.real_cramming ({kind or 'no'} slope)")
    fp32 = (t1.get("rows") or {}).get("fp32")
    if fp32:
        row.update(box=fp32["box"], nonuniform=fp32["nonuniform"], source=row["source"] + " + real_table1")
        row["ratio"] = _ratios(row)
    return row


def _fmt(x, digits=3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and 1e3 <= abs(x) < 1e5:
        return f"{x:.0f}"
    if isinstance(x, float) and (abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-3)):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def markdown(rows: list[dict]) -> str:
    """Table 1 in Markdown: per model, C of each refinement, the measured slope and each ratio.

    Example:
        >>> print(markdown([preset_row("m", 2, 4, 0.5, None, 0.25, eps=1)]).splitlines()[2])
        | m | 2 | 4 | 0.5 | - | 1 | 0.25 | 1 | - | - | - | 4 | - | - | - |
    """
    head = ("| model | d | \\|V\\| | r | theta | eps | slope | C ball | C cone | C box | C non-unif. "
            "| ratio ball | ratio cone | ratio box | ratio non-unif. |")
    lines = [head, "|" + "---|" * 15]
    for r in rows:
        cells = [r["model"], str(r["d"]), str(r["vocab"]), _fmt(r["radius"]), _fmt(r["theta"]), r["eps"],
                 _fmt(r["slope"])] + [_fmt(r[k]) for k in REFINEMENTS] + [_fmt(r["ratio"][k]) for k in REFINEMENTS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def latex(rows: list[dict]) -> str:
    """Table 1 as a LaTeX tabular (booktabs).

    Example:
        >>> "\\\\toprule" in latex([preset_row("m", 2, 4, 0.5, None, 0.25, eps=1)])
        True
    """
    lines = [r"\begin{tabular}{lrrrrrrrr}", r"\toprule",
             r"model & $d$ & $|V|$ & $r$ & slope & \multicolumn{4}{c}{bound / measured slope} \\",
             r" & & & & & ball & cone & box & non-unif. \\", r"\midrule"]
    for r in rows:
        name = r["model"].replace("_", r"\_")
        cells = [name, str(r["d"]), str(r["vocab"]), _fmt(r["radius"]), _fmt(r["slope"])]
        cells += [_fmt(r["ratio"][k]) for k in REFINEMENTS]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def compute(report: Report) -> dict:
    """Rows for the zoo models measured (data/geometry.json) and for the published presets."""
    rows, missing = [], []
    try:
        geo = zoo_geometry(report)
        rows = [project_row(report, name, g) for name, g in geo["models"].items()]
        missing += geo.get("missing", [])
    except MissingData as exc:
        missing.append(str(exc))
    try:  # the report's real-profile data, else the committed CPU run
        rows.append(real_row(report))
    except MissingData as exc:
        missing.append(str(exc))
    published = published_rows()
    if not rows and not published:
        raise MissingData("no zoo geometry measured and bounds.PRESETS has no measured models")
    return {"project": rows, "published": published, "missing": missing}


def draw(report: Report):
    """Draw Table 1 as a figure (zoo rows from data/geometry.json, published rows from the presets); return
    (figure, series).

    Example (the fixture report the tests use):
        >>> from figures.source import FIXTURE
        >>> fig, series = draw(Report(FIXTURE))
        >>> series["models"][:3]
        ['natural', 'witness', 'random']
    """
    from matplotlib.patches import Patch

    data = compute(report)
    rows = data["project"] + data["published"]
    fig, (top, bottom) = style.new_figure(1, 2, width=7.0, height=2.5)
    names = [r["model"] for r in rows]
    x = np.arange(len(rows))
    width = 0.2
    hatches = ("", "///", "...", "xxx")
    fills = ("0.9", "0.6", "0.75", "0.35")
    plotted = {}
    for j, k in enumerate(REFINEMENTS):
        for ax, key in ((top, None), (bottom, "ratio")):
            vals = [(r["ratio"][k] if key else r[k]) for r in rows]
            keep = [i for i, v in enumerate(vals) if v is not None and v > 0]
            ax.bar([x[i] + (j - 1.5) * width for i in keep], [vals[i] for i in keep], width, color=fills[j],
                   edgecolor="0.0", hatch=hatches[j], linewidth=0.6)
        plotted[k] = [r["ratio"][k] for r in rows]
    slopes = [r["slope"] for r in rows]
    top.plot([x[i] for i, v in enumerate(slopes) if v], [v for v in slopes if v], linestyle="none", marker="*",
             markersize=9, color="0.0", label="measured tokens per vector (n50 slope; witness: fp32 capacity)")
    bottom.axhline(1, **style.BOUND_STYLE)
    for ax in (top, bottom):
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        if data["project"] and data["published"]:
            ax.axvline(len(data["project"]) - 0.5, color="0.5", linewidth=0.8)
    top.set_xticklabels([])
    bottom.set_xticklabels(names, rotation=30, ha="right")
    if data["project"] and data["published"]:
        top.text(len(data["project"]) - 0.45, 1.01, "published models, fp16 ->", ha="left", va="bottom",
                 transform=top.get_xaxis_transform(), fontsize=7)
        top.text(len(data["project"]) - 0.55, 1.01, "<- project, fp32", ha="right", va="bottom",
                 transform=top.get_xaxis_transform(), fontsize=7)
    top.set_ylabel("C (tokens per vector)")
    bottom.set_ylabel("C / measured slope")
    top.set_title("Table 1: T1's bound and its refinements against the measured slope", pad=14)
    handles = [Patch(facecolor=fills[j], edgecolor="0.0", hatch=hatches[j], label=LABELS[k])
               for j, k in enumerate(REFINEMENTS)]
    handles += top.get_legend_handles_labels()[0]
    from matplotlib.lines import Line2D

    handles.append(Line2D([], [], **style.BOUND_STYLE, label="ratio 1: bound = measured"))
    bottom.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=3, fontsize=7, frameon=False)
    series = {"models": names, "slope": slopes, "ratio": plotted,
              "bound": {k: [r[k] for r in rows] for k in REFINEMENTS}, "rows": rows}
    if data["missing"]:
        series["missing"] = data["missing"]
    return fig, series


def write_tables(series: dict, out: Path) -> list[Path]:
    """Write Table 1 as Markdown and LaTeX next to the figure."""
    md, tex = out / "table1_refinements.md", out / "table1_refinements.tex"
    md.write_text("# Table 1: bound / measured slope per refinement\n\n" + markdown(series["rows"]))
    tex.write_text(latex(series["rows"]))
    return [md, tex]


FIGURE = FigureSpec(
    name="table1_refinements",
    theorems=("tokens_per_vector", "cone", "box", "nonuniform"),
    order=50,
    title="Table 1 - bound / measured slope for each refinement (ball, cone, box, non-uniform cells)",
    caption=("For each model, the tokens-per-prompt-vector bound C of T1's ball form and of each refinement, "
             "divided by the measured tokens per vector (slope of n50 on m; for the witness its fp32 capacity in tokens); "
             "log scale, 1 = tight. Project "
             "models at fp32 with measured radius, cone angle, box ranges and Monte Carlo cell volumes; published "
             "models from bounds.PRESETS ([HMDO] Table 2) at fp16, ball and cone only."),
    shows="T1 and its refinements ([HMDO] section 5): each tightens C, none falls below the measured slope",
    checks=("cramming_natural_",),  # the witness's fp32 capacity is data in data/precision.json, not a check
    data=("geometry", "cramming", "precision", "real_cramming"),
    computed="published rows from bounds.PRESETS",
    draw=draw,
    extra=write_tables,
)
