"""Tests of ``python -m figures.all`` from the fixture report in tests/fixtures/report (data, not pixels).

The fixture holds real outputs of the verify experiments (same keys). One CLI run draws every figure into a
temporary folder; each test then compares what a figure says it plotted (``data/NAME.json``) with numbers
read independently from the fixture JSON or recomputed from the bounds library.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from figures import all as figures_all

FIXTURE = Path(__file__).parent / "fixtures" / "report"
ROOT = Path(__file__).resolve().parents[1]


def fixture(name: str) -> dict:
    return json.loads((FIXTURE / "data" / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """Run the CLI once on the fixture report; return (exit code, output folder)."""
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("figures")
    code = figures_all.main(["--from", str(FIXTURE), "--out", str(out)])
    return code, out


def plotted(out: Path, name: str) -> dict:
    return json.loads((out / "data" / f"{name}.json").read_text())


def test_every_figure_is_drawn_as_png_and_pdf(drawn):
    code, out = drawn
    assert code == 0, (out / "INDEX.md").read_text()
    for spec in figures_all.specs():
        png, pdf = out / f"{spec.name}.png", out / f"{spec.name}.pdf"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", spec.name
        assert pdf.read_bytes()[:5] == b"%PDF-", spec.name
        assert (out / "data" / f"{spec.name}.json").is_file()


def test_index_lists_every_figure_with_caption_and_provenance(drawn):
    _, out = drawn
    index = (out / "INDEX.md").read_text()
    for spec in figures_all.specs():
        assert f"## {spec.name}" in index
        assert spec.caption in index
        assert spec.provenance() in index
    assert "MISSING" not in index


def test_fig2_plots_the_cramming_data(drawn):
    _, out = drawn
    series, data = plotted(out, "fig2_accessibility"), fixture("cramming")
    curves = {c["targets"]: c for c in series["curves"]}
    assert set(curves) == set(data["kinds"])
    for kind, entry in data["kinds"].items():
        c = curves[kind]
        assert c["m"] == sorted(int(m) for m in entry["per_m"])
        for i, m in enumerate(c["m"]):
            per = entry["per_m"][str(m)]
            assert c["n50"][i] == per["n50"]
            assert c["points"][i] == sorted([p["n"], p["successes"], p["trials"]] for p in per["points"])
            assert c["sigmoid"][i] == {"x0": per["fit"]["x0"], "k": per["fit"]["k"]}
            assert c["n50_bound"][i] == data["bounds"][str(m)]["n50_bound_random"]
        assert c["slope"] == entry["fit"]["slope"] and c["r2"] == entry["fit"]["r2"]
    assert series["control"] == [[p["n"], p["successes"], p["trials"]] for p in data["control"]["points"]]


def test_fig4_plots_the_copying_data_and_its_sigmoid(drawn):
    _, out = drawn
    series, data = plotted(out, "fig4_copying"), fixture("copying")
    assert series["lengths"] == [float(n) for n in data["lengths"]]
    for key in ("exact_accuracy", "char_accuracy", "fraction_copied"):
        assert series[key] == data[key]
    assert series["sigmoid"] == data["sigmoid"]
    n0, k = data["sigmoid"]["n0"], data["sigmoid"]["k"]
    grid = np.linspace(min(data["lengths"]), max(data["lengths"]), len(series["sigmoid_curve"]))
    np.testing.assert_allclose(series["sigmoid_curve"], 1 / (1 + np.exp(np.clip(k * (grid - n0), -60, 60))))


def test_context_plateau_plots_bits_and_t2(drawn):
    _, out = drawn
    series, data = plotted(out, "context_plateau"), fixture("copying")
    assert series["bits_reproduced"] == data["bits_reproduced"]
    assert series["log2_log2_bound"] == data["t2"]["log2_log2_bound"]
    assert series["log2_log2_measured"] == pytest.approx(math.log2(math.log2(max(data["bits_reproduced"]))))
    assert series["log2_log2_measured"] < series["log2_log2_bound"]  # T2 holds on the data it draws


def test_distinguishable_contexts_plots_exact_counts(drawn):
    _, out = drawn
    series, data = plotted(out, "distinguishable_contexts"), fixture("contexts")
    exh, sat, a = data["exhaustive"], data["saturation"], data["alphabet"]
    assert series["count"] == exh["count"] and series["causal_count"] == exh["causal_count"]
    assert series["multisets"] == [math.comb(n + a - 1, a - 1) for n in exh["n"]] == exh["multisets"]
    assert series["contexts"] == [float(a ** n) for n in exh["n"]]
    assert series["cumulative"] == sat["cumulative"] and series["per_length"] == sat["per_length"]
    assert series["saturation_length"] == sat["saturation_length"]


def test_capacity_precision_plots_each_row(drawn):
    _, out = drawn
    series, data = plotted(out, "capacity_precision"), fixture("precision")
    d = data["model"]["d"]
    rows = {(r["q"], r["m"]): r for r in data["rows"]}
    got = 0
    for m, s in series["by_m"].items():
        for q, x, cap, npr, tight in zip(s["q"], s["bits_per_coordinate"], s["capacity_bits"], s["log2_npr"], s["tightness"]):
            r = rows[(q, int(m))]
            assert (cap, npr, tight) == (r["capacity_bits"], r["log2_npr"], r["tightness"])
            assert x == pytest.approx(r["log2_npr"] / (d * int(m)))
            got += 1
        assert s["bits_per_coordinate"] == sorted(s["bits_per_coordinate"])
    assert got == len(data["rows"])


def test_accessible_fraction_plots_fractions_under_the_envelope(drawn):
    _, out = drawn
    series, data = plotted(out, "accessible_fraction"), fixture("precision")
    log2_v = math.log2(data["model"]["vocab"])
    rows = {r["q"]: r for r in data["rows"] if r["m"] == 1}
    for s in series["witness"]["rows"]:
        r = rows[s["q"]]
        assert s["f"] == [p["successes"] / p["trials"] for p in r["points"]]
        from figures.accessible_fraction import check_level
        from figures.source import Report
        from verify.stats import clopper_pearson_lower  # the bound at the report's per-check level

        level = check_level(Report(FIXTURE))
        assert level == json.loads((FIXTURE / "report.json").read_text())["statistics"]["per_check_confidence"]
        assert s["f_lower"] == pytest.approx([clopper_pearson_lower(p["successes"], p["trials"], level)
                                              for p in r["points"]])
        # the T1 check's logic, on what is drawn: the lower bound never exceeds the envelope
        assert all(lo <= min(1.0, 2.0 ** (r["log2_npr"] - n * log2_v)) for n, lo in zip(s["n"], s["f_lower"]))
        expected = [min(1.0, 2.0 ** (r["log2_npr"] - n * log2_v)) for n in s["envelope_n"]]
        np.testing.assert_allclose(s["envelope"], expected)
    assert len(series["natural"]["rows"]) == len(fixture("cramming")["kinds"]["random"]["per_m"])


def test_info_vs_m_plots_enumeration_and_trained_bits(drawn):
    _, out = drawn
    series = plotted(out, "info_vs_m")
    enum = fixture("enumeration")["models"]
    assert [s["log2_accessible"] for s in series["exact"]] == [m["log2_accessible"] for m in enum]
    assert [s["log2_prompts"] for s in series["exact"]] == [m["log2_prompts"] for m in enum]
    cram = fixture("cramming")
    natural = next(s for s in series["trained"] if s["model"] == cram["model"]["name"])
    per_m = cram["kinds"]["random"]["per_m"]
    log2_a = math.log2(cram["model"]["alphabet_size"])
    assert natural["bits"] == pytest.approx([per_m[str(m)]["n50"] * log2_a for m in natural["m"]])
    witness = next(s for s in series["trained"] if s["model"] == "witness")
    q2 = [r for r in fixture("precision")["rows"] if r["q"] == "q2"]
    assert witness["bits"] == [r["capacity_bits"] for r in q2]


def test_table1_ratios_follow_from_the_presets_and_the_bounds(drawn):
    import bounds

    _, out = drawn
    series = plotted(out, "table1_refinements")
    rows = {r["model"]: r for r in series["rows"]}
    published = [p for p in bounds.PRESETS.values() if p.radius is not None and p.slope is not None]
    assert published and all(p.name in rows for p in published)
    for p in published:
        ball = float(bounds.tokens_per_vector(p.d, p.vocab, radius=p.radius, eps="fp16"))
        assert rows[p.name]["ratio"]["ball"] == pytest.approx(ball / p.slope)
        assert rows[p.name]["cone"] <= rows[p.name]["ball"]  # a refinement never loosens the bound
    project = [r for r in series["rows"] if r["model"] in ("natural", "witness", "random")]
    assert project, "at least the random zoo model always loads"
    for r in project:
        ball = float(bounds.log2_prompts_ball(r["d"], 1, r["radius"], r["eps"])) / math.log2(r["vocab"])
        assert r["ball"] == pytest.approx(ball)
    md = (out / "table1_refinements.md").read_text()
    tex = (out / "table1_refinements.tex").read_text()
    assert all(name in md for name in rows) and "\\begin{tabular}" in tex


def test_fig1_marks_final_states_inside_their_predicted_cells(drawn):
    _, out = drawn
    series = plotted(out, "fig1_plane")
    assert series["points_argmax"] == series["predicted"]  # the plane passes through the final states
    tokens = np.asarray(series["tokens"])
    assert tokens.shape == (len(series["axis_v"]), len(series["axis_u"]))
    assert len(np.unique(tokens)) >= 2


def test_fig3_medians_and_threshold_come_from_the_refinement(drawn):
    from bounds.refinements import median_log2_volume_product, nonuniform_threshold

    _, out = drawn
    series = plotted(out, "fig3_cells")
    volumes = np.exp2(series["log2_volumes"])
    for n, med in zip(series["n"][:4], series["median_log2_product"][:4]):
        assert med == pytest.approx(median_log2_volume_product(volumes, n))
    assert series["n_star"] == nonuniform_threshold(volumes, series["log2_packing"])
    for k, dist in series["distributions"].items():
        assert sum(dist["mass"]) == pytest.approx(1.0)
        cdf = np.cumsum(dist["mass"])  # the plotted D^k has its median where the refinement puts it
        median = dist["log2_volume"][int(np.searchsorted(cdf, 0.5))]
        assert median == pytest.approx(series["median_log2_product"][series["n"].index(int(k))], abs=0.2 * int(k))


def test_meanfield_figure_plots_every_error(drawn):
    _, out = drawn
    series, data = plotted(out, "meanfield_invariance"), fixture("meanfield")
    assert series["max_abs_error"] == [r["max_abs_error"] for r in data["rows"]]
    assert series["holds"] == [r["max_abs_error"] <= data["tolerance"] for r in data["rows"]]
    assert len(set(series["labels"])) == len(data["rows"])  # every row has its own label


def test_dataset_figure_plots_fractions_and_both_n_max(drawn):
    _, out = drawn
    series, data = plotted(out, "dataset_capacity"), fixture("dataset")
    for run, row in zip(series["runs"], data["rows"]):
        pts = sorted((p["N"], p["successes"] / p["trials"]) for p in row["points"])
        assert list(zip(run["N"], run["f"])) == pts
        assert (run["n_max_bound"], run["n_max_measured"]) == (row["n_max_bound"], row["n_max_measured"])


def test_missing_data_skips_only_that_figure(tmp_path, monkeypatch, capsys):
    src = tmp_path / "report"
    (src / "data").mkdir(parents=True)
    (src / "report.json").write_text((FIXTURE / "report.json").read_text())
    (src / "data" / "copying.json").write_text((FIXTURE / "data" / "copying.json").read_text())
    monkeypatch.setattr(figures_all, "modules", lambda: ("figures.fig4_copying", "figures.capacity_precision"))
    code = figures_all.main(["--from", str(src), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == ["figures: warning: skipped capacity_precision: no data/precision.json in the report"]
    assert (tmp_path / "out" / "fig4_copying.pdf").is_file()
    assert not (tmp_path / "out" / "capacity_precision.pdf").exists()
    index = (tmp_path / "out" / "INDEX.md").read_text()
    assert "| MISSING |" in index and "MISSING: no data/precision.json in the report" in index


def test_without_from_it_runs_verify_first_with_the_profile(tmp_path, monkeypatch):
    import shutil

    from verify import all as verify_all

    calls = []

    def fake_verify(argv):  # stands in for the minutes-long verify run: writes the fixture report
        calls.append(argv)
        shutil.copytree(FIXTURE, argv[argv.index("--out") + 1])
        return 0

    monkeypatch.setattr(verify_all, "main", fake_verify)
    monkeypatch.setattr(figures_all, "modules", lambda: ("figures.context_plateau",))
    assert figures_all.main(["--out", str(tmp_path), "--profile", "full"]) == 0
    assert calls == [["--profile", "full", "--out", str(tmp_path / "verify")]]
    assert (tmp_path / "context_plateau.pdf").is_file()
    assert str(tmp_path / "verify") in (tmp_path / "INDEX.md").read_text()


@pytest.mark.parametrize("argv, says", [
    (["--from", "/nonexistent/report"], "no such folder"),
    (["--profile", "medium", "--from", str(FIXTURE)], "unknown profile"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_usage_exits_2_with_one_line(argv, says, capsys):
    assert figures_all.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err


@pytest.mark.parametrize("content, says", [
    (b'{"profile": "quick", "checks": [{"name": "a", "pa', "not valid JSON"),
    (bytes(range(256)) * 4, "not text"),
    (b'[1, 2, 3]', "not a verify report"),
    (b'{"checks": [1, 2]}', "not a verify report"),
])
def test_truncated_or_random_report_json_exits_2_with_one_line(tmp_path, capsys, content, says):
    (tmp_path / "report.json").write_bytes(content)
    assert figures_all.main(["--from", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # refused before anything was drawn


def test_default_run_leaves_the_committed_index_alone_and_update_index_writes_no_machine_path(
        tmp_path, monkeypatch):
    committed = tmp_path / "INDEX.md"
    committed.write_text("committed\n")
    monkeypatch.setattr(figures_all, "INDEX_IN_TREE", committed)
    monkeypatch.setattr(figures_all, "modules", lambda: ("figures.context_plateau",))
    monkeypatch.chdir(tmp_path)  # so the default --out (out/figures) is under tmp_path
    assert figures_all.main(["--from", str(FIXTURE)]) == 0
    assert committed.read_text() == "committed\n"
    assert (tmp_path / "out" / "figures" / "INDEX.md").is_file()
    assert figures_all.main(["--from", str(FIXTURE), "--out", str(tmp_path / "figs"), "--update-index"]) == 0
    index = committed.read_text()
    assert "## context_plateau" in index and str(tmp_path) not in index
    assert "`tests/fixtures/report`" in index and "`figs/`" in index


def test_cli_bad_usage_in_a_subprocess_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "figures.all", "--from", str(tmp_path / "missing")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


# --- every figure finds its data, in the quick fixture and in the committed full-profile results ---

FULL = ROOT / "results" / "full"
SOURCES = {"fixture": FIXTURE, "results_full": FULL}


def _artists(ax) -> int:
    """How many data-bearing artists an axes holds (lines with points, collections, images, tables)."""
    lines = sum(1 for ln in ax.get_lines() if len(ln.get_xdata()) > 0)
    return lines + len(ax.collections) + len(ax.images) + len(ax.tables) + len(ax.containers)


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("name", [m.rsplit(".", 1)[1] for m in figures_all.modules()])
def test_each_figure_draws_every_panel_from_its_data(source, name):
    """A figure whose data is present draws every panel with a series; none reports missing data."""
    import matplotlib.pyplot as plt
    from figures.source import Report

    spec = next(s for s in figures_all.specs() if s.name == name)
    fig, series = spec.draw(Report(SOURCES[source]))
    try:
        assert not (isinstance(series, dict) and series.get("missing")), series.get("missing")
        visible = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
        assert visible, f"{name}: no visible panel"
        empty = [ax.get_title() or str(i) for i, ax in enumerate(visible) if _artists(ax) == 0]
        assert not empty, f"{name} from {source}: panels with no series: {empty}"
    finally:
        plt.close(fig)


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_check_a_figure_names_is_in_the_report(source):
    """Stale check names (renamed or turned into data) make a figure's provenance lie: each name or prefix a
    figure declares matches a check of the report (real_* checks come from the separate real profile)."""
    checks = json.loads((SOURCES[source] / "report.json").read_text())["checks"]
    names = {c["name"]: c for c in checks}
    for spec in figures_all.specs():
        for key in spec.checks:
            if key.startswith("real_"):
                continue
            probe = figures_all.FigureSpec(spec.name, "", "", "", checks=(key,))
            assert figures_all.matching_checks(probe, names), f"{spec.name}: no check {key}{'*' if key.endswith('_') else ''}"


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_info_vs_m_shows_the_sign_reader_beside_t1(source):
    from figures.info_vs_m import draw
    from figures.source import Report

    fig, series = draw(Report(SOURCES[source]))
    signs = json.loads((SOURCES[source] / "data" / "precision.json").read_text())["signs"]
    s = series["signs"]
    assert s["m"] == sorted(int(m) for m in signs) and len(s["m"]) >= 3
    for i, m in enumerate(s["m"]):
        row = signs[str(m)]
        assert s["bits"][i] == row["capacity"]["bits"]
        assert (s["bits_lower"][i], s["bits_upper"][i]) == (row["capacity"]["bits_lower"], row["capacity"]["bits_upper"])
        assert s["t1_bits"][i] == row["d"] * m * 1  # T1 at Q = 2: d*m*log2(2)
        assert s["bits_lower"][i] <= s["bits"][i] <= s["bits_upper"][i] <= s["t1_bits"][i]


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_fig2_shows_natural_n50_with_intervals_slope_and_curvature(source):
    from figures.fig2_accessibility import draw
    from figures.source import Report

    fig, series = draw(Report(SOURCES[source]))
    nat = json.loads((SOURCES[source] / "data" / "cramming.json").read_text())["kinds"]["natural"]
    g = series["natural_growth"]
    assert g["m"] == sorted(int(m) for m in nat["per_m"])
    assert g["n50"] == [nat["per_m"][str(m)]["n50"] for m in g["m"]]
    assert g["n50_interval"] == [nat["per_m"][str(m)]["n50_interval"] for m in g["m"]]
    assert (g["slope"], g["slope_interval"]) == (nat["fit"]["slope"], nat["slope_interval"])
    assert g["slope_ratio_interval"] == nat["curvature"]["slope_ratio_interval"]
    if source == "results_full":
        assert g["m"] == [1, 2, 3, 4, 5, 6]


def test_a_figure_without_its_data_says_so(tmp_path):
    """Without the sign rows or the natural intervals the figure is partial and says which data it lacks."""
    import shutil
    from figures.fig2_accessibility import draw as draw_fig2
    from figures.info_vs_m import draw as draw_info
    from figures.source import Report

    src = tmp_path / "r"
    shutil.copytree(FIXTURE, src)
    prec = json.loads((src / "data" / "precision.json").read_text())
    del prec["signs"]
    (src / "data" / "precision.json").write_text(json.dumps(prec))
    cram = json.loads((src / "data" / "cramming.json").read_text())
    del cram["kinds"]["natural"]["slope_interval"]
    (src / "data" / "cramming.json").write_text(json.dumps(cram))
    _, series = draw_info(Report(src))
    assert any("signs" in m for m in series["missing"])
    _, series = draw_fig2(Report(src))
    assert any("interval" in m for m in series["missing"])
