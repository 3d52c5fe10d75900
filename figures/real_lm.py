"""A real pretrained LM (SmolLM2-135M): cramming prefix against m with T1's bound, and copying against n.

Reads ``data/real_cramming.json`` and ``data/real_context.json`` of the report (profile ``real``), or else
the committed CPU runs ``results/real_cramming/real_cramming.json`` and ``results/real_context/real_context.json``.
Top left: the longest target prefix each prompt of m vectors made the model reproduce greedily (first
token included), per target (hollow where the step cap stopped it) and the mean, with T1's float-form
bound C*m (log scale). Top right: exact-copy rate and per-token accuracy of random strings against their
length n, the trained window marked. Bottom left: information reproduced I(n) (tokens copied in order x log2|A|), Fano's bound from the
per-token accuracy, and the string's own (n-1) log2|A|. Bottom right: how far apart the last states of
contexts that differ only in their first tokens stay (median and smallest l_inf distance) as the context
grows, and how many of them stay more than eps = 1 apart (a greedy packing).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from figures import style
from figures.source import MissingData, Report, need
from figures.spec import FigureSpec

RESULTS = Path(__file__).resolve().parents[1] / "results"


def real_data(report: Report, name: str) -> dict:
    """``data/NAME.json`` of the report, else the committed ``results/NAME/NAME.json``; MissingData if neither.

    Example:
        >>> try:
        ...     real_data(Report(None), "no_such_result")
        ... except MissingData as e:
        ...     print(e)
        no data/no_such_result.json in the report and no results/no_such_result/no_such_result.json
    """
    if report.has(name):
        return report.data(name)
    path = RESULTS / name / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    raise MissingData(f"no data/{name}.json in the report and no results/{name}/{name}.json")


def censored_targets(cram: dict, kind: str, m: int, count: int) -> np.ndarray:
    """Per target of (kind, m), in target order: stopped at the step cap (its prefix censored)? From the
    JSON's ``trials``; all False where they are not listed.

    Example:
        >>> censored_targets({"trials": [{"kind": "random", "m": 1, "target": 1, "stopped_by": "steps"},
        ...                              {"kind": "random", "m": 1, "target": 0, "stopped_by": "patience"}]},
        ...                  "random", 1, 2).tolist()
        [False, True]
    """
    rows = sorted((t for t in cram.get("trials") or [] if t["kind"] == kind and t["m"] == m),
                  key=lambda t: t["target"])
    if len(rows) != count:
        return np.zeros(count, dtype=bool)
    return np.array([t["stopped_by"] == "steps" for t in rows], dtype=bool)


def draw(report: Report):
    """Draw the real-LM figure; return (figure, the series it plotted).

    Example (committed results, when present):
        >>> try:
        ...     fig, series = draw(Report(None))
        ... except MissingData:
        ...     series = {"cramming": {"m": [1]}}
        >>> len(series["cramming"]["m"]) >= 1
        True
    """
    cram = real_data(report, "real_cramming")
    ctx = real_data(report, "real_context")
    where = "real_cramming"
    points = need(cram, "summary", "points", where=where)
    C = need(cram, "bounds", "C_vocab", where=where)
    name = need(cram, "model", "name", where=where)
    fig, (a_cram, a_copy, a_info, a_ctx) = style.new_figure(2, 2, width=3.5, height=2.6)
    series = {"cramming": {"m": [], "kinds": {}}, "bound_C": C}
    ms_all = sorted({p["m"] for p in points})
    any_capped = False
    for k, kind in enumerate(sorted({p["kind"] for p in points})):
        st = style.series_style(k)
        pts = sorted((p for p in points if p["kind"] == kind), key=lambda p: p["m"])
        ms = [p["m"] for p in pts]
        means = [p["mean"] for p in pts]
        for p in pts:
            jitter = (np.arange(len(p["prefixes"])) / max(len(p["prefixes"]) - 1, 1) - 0.5) * 0.15 + 0.1 * (k - 0.5)
            capped = censored_targets(cram, kind, p["m"], len(p["prefixes"]))
            y = np.maximum(p["prefixes"], 0.5)
            for hollow in (False, True):   # hollow: stopped at the step cap, its prefix a lower bound
                sel = capped == hollow
                a_cram.plot((p["m"] + jitter)[sel], y[sel], linestyle="none", marker=st["marker"],
                            color=st["color"], markerfacecolor="none" if hollow else st["color"], alpha=0.35,
                            markersize=3)
            any_capped = any_capped or bool(capped.any())
        slope = (cram["summary"].get("slopes") or {}).get(kind)
        label = f"{kind} targets (mean)"
        if slope:
            label += f": slope {slope['slope']:.2f} [{slope['lo']:.2f}, {slope['hi']:.2f}]"
        sat = [p.get("saturated_fraction") for p in pts]
        if all(v is not None for v in sat):
            label += f"; saturated {', '.join(f'{100 * v:.0f}%' for v in sat)}"
        a_cram.plot(ms, means, color=st["color"], marker=st["marker"], linestyle=st["linestyle"], label=label)
        if all("mean_ci" in p for p in pts):  # bootstrap interval of the mean over targets
            lo = [max(p["mean"] - p["mean_ci"][0], 0) for p in pts]
            hi = [max(p["mean_ci"][1] - p["mean"], 0) for p in pts]
            a_cram.errorbar(ms, means, yerr=[lo, hi], color=st["color"], linestyle="none", capsize=2)
        series["cramming"]["kinds"][kind] = {"m": ms, "mean": means, "slope": slope, "saturated": sat}
    series["cramming"]["m"] = ms_all
    if any_capped:
        a_cram.plot([], [], linestyle="none", marker="o", color="0.4", markerfacecolor="none", markersize=3,
                    label="hollow: stopped at the step cap (a lower bound)")
    grid = np.array(ms_all or [1], dtype=float)
    a_cram.plot(grid, C * grid, **style.BOUND_STYLE, label=f"T1 float form: C m, C = {C:.0f}")
    a_cram.set_yscale("log")
    a_cram.set_xticks(ms_all or [1])
    a_cram.set_xlabel("prompt vectors m")
    a_cram.set_ylabel("tokens reproduced (greedy prefix)")
    a_cram.set_title(f"Cramming {name.split('.')[0]}")
    style.legend(a_cram, fontsize=6, loc="center right")

    copy = sorted(need(ctx, "copy", where="real_context"), key=lambda p: p["n"])
    n = np.array([p["n"] for p in copy], dtype=float)
    exact = [p["exact_copy"] for p in copy]
    acc = [p["token_accuracy"] for p in copy]
    window = ctx.get("settings", {}).get("window")
    s0, s1, s2 = style.series_style(0), style.series_style(1), style.series_style(2)
    a_copy.plot(n, exact, color=s0["color"], marker=s0["marker"], label="exact copy")
    a_copy.plot(n, acc, color=s1["color"], marker=s1["marker"], linestyle=s1["linestyle"], label="per-token accuracy")
    recall = [(p["n"], p["recall"]["exact"]) for p in copy if p.get("recall")]
    if recall:
        a_copy.plot(*zip(*recall), color=s2["color"], marker=s2["marker"], linestyle=s2["linestyle"],
                    label="exact recall (8 tokens after a cue)")
    for ax in (a_copy, a_info):
        if window:
            ax.axvline(window / 2, color="0.6", linestyle=":", linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("string length n (tokens)")
    a_copy.set_ylim(-0.04, 1.04)
    a_copy.set_ylabel("rate")
    a_copy.set_title("Copying random token strings")
    style.legend(a_copy, fontsize=6, loc="lower left")
    info = [p["I_bits"] for p in copy]
    fano = [p["I_fano_bits"] for p in copy]
    full = [p["max_bits"] for p in copy]
    a_info.plot(n, np.maximum(info, 1e-1), color=s0["color"], marker=s0["marker"], label="I(n): copied prefix")
    a_info.plot(n, np.maximum(fano, 1e-1), color=s1["color"], marker=s1["marker"], linestyle=s1["linestyle"],
                label="Fano bound from accuracy")
    a_info.plot(n, full, **style.ENVELOPE_STYLE, label="(n-1) log2|A|: the whole string")
    a_info.set_yscale("log")
    a_info.set_ylabel("bits")
    a_info.set_title("Information reproduced")
    style.legend(a_info, fontsize=6, loc="upper left")

    contexts = sorted(ctx.get("contexts", []), key=lambda p: p["n"])
    cn = [p["n"] for p in contexts]
    med = [p["median_linf"] for p in contexts]
    a_ctx.plot(cn, med, color=s0["color"], marker=s0["marker"], label="median l_inf distance")
    a_ctx.plot(cn, [p["min_linf"] for p in contexts], color=s1["color"], marker=s1["marker"],
               linestyle=s1["linestyle"], label="smallest l_inf distance")
    packing = [(p["n"], p["packing"].get("1.0")) for p in contexts if p.get("packing", {}).get("1.0") is not None]
    if packing:
        s3 = style.series_style(3)
        twin = a_ctx.twinx()
        twin.plot(*zip(*packing), color=s3["color"], marker=s3["marker"], linestyle=s3["linestyle"],
                  label="told apart at eps = 1 (right axis)")
        twin.set_ylim(0, max(p["contexts"] for p in contexts) + 1)
        twin.set_ylabel("contexts told apart (of N)")
        style.legend(twin, fontsize=6, loc="upper right")
    a_ctx.set_xscale("log", base=2)
    a_ctx.set_yscale("log")
    a_ctx.set_xlabel("context length n (tokens)")
    a_ctx.set_ylabel("distance between last states")
    a_ctx.set_title("Contexts differing in their first tokens")
    style.legend(a_ctx, fontsize=6, loc="lower left")
    series.update({"copy": {"n": n.tolist(), "exact": exact, "accuracy": acc, "I_bits": info, "I_fano_bits": fano,
                            "recall": recall},
                   "contexts": {"n": cn, "median_linf": med, "distinct": [p["distinct"] for p in contexts],
                                "packing_eps1": packing}})
    return fig, series


FIGURE = FigureSpec(
    name="real_lm",
    theorems=("t1_float",),
    title="A real pretrained LM (SmolLM2-135M): cramming against m with T1's bound; copying against n",
    caption=("Top left: longest target prefix reproduced greedily (first token included) per target (hollow: "
             "stopped at the step cap, a lower bound) and its mean, against the number m of prompt vectors (clamped to [-r, r]), with T1's float-form bound C m. "
             "Top right and bottom left: exact copy, per-token accuracy and information reproduced for uniformly "
             "random token strings of length n (dotted: half the trained window). Bottom right: distance between "
             "the last states of contexts that differ only in their first tokens. SmolLM2 is causal with rotary "
             "positions, outside T2's exact premise: the right-hand panels show the degradation T2 explains, "
             "not T2 itself."),
    shows="T1 (float form) on a real LM; the context-length degradation T2 explains (phenomenon)",
    checks=("real_",),
    data=("real_cramming", "real_context"),
    computed="falls back to the committed results/real_cramming and results/real_context",
    draw=draw,
)
