"""T2 with a finite vocabulary: the sympy result, its evaluators, the net it counts, and the experiment."""
import itertools
import json
import math
import random

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

import bounds
from bounds import evaluate, fast
from bounds.symbols import eps, q, r, vocab
from verify import packing
from verify.all import Context
from verify.experiments import t2_vocab as tv

pytestmark = pytest.mark.usefixtures("default_dps_arithmetic")

EXPR = bounds.all_results()["log2_meanfield_vocab"].expr
TOKENS = bounds.all_results()["tokens_meanfield_vocab"].expr


# ----------------------------------------------------------------------------------------- bounds
def test_registered_with_source_assumptions_and_latex():
    result = bounds.all_results()["log2_meanfield_vocab"]
    assert result.source.startswith("derived here") and len(result.assumptions) >= 3
    assert r"\log_{2}" in result.latex() and bounds.latex("tokens_meanfield_vocab")
    assert {vocab, r, eps, q} == EXPR.free_symbols           # no n: a bound for every context length


def test_sympy_matches_both_evaluators_at_random_points():
    rng = random.Random(0)
    for _ in range(200):
        v, radius, e, order = rng.randint(2, 10 ** 6), 10 ** rng.uniform(-2, 3), 2.0 ** rng.uniform(-40, 0), rng.uniform(1, 6)
        point = {vocab: v, r: sp.Float(radius, 30), eps: sp.Float(e, 30), q: sp.Float(order, 30)}
        exact = mpmath.mpf(str(sp.N(EXPR.subs(point), 40)))
        assert abs(evaluate.log2_meanfield_vocab(v, radius, e, order) - exact) <= 1e-25 * exact
        assert abs(float(fast.log2_meanfield_vocab(v, radius, e, order)) - float(exact)) <= 1e-12 * float(exact)
        tokens = mpmath.mpf(str(sp.N(TOKENS.subs(point), 40)))
        assert abs(evaluate.tokens_meanfield_vocab(v, radius, e, order) - tokens) <= 1e-25 * tokens


def test_fast_path_never_overflows_at_the_extremes():
    values = fast.log2_meanfield_vocab(np.array([2, 10 ** 7]), np.array([1e-3, 1e3]), np.array([1.0, 2.0 ** -64]), 8.0)
    assert np.all(np.isfinite(values))


def test_exact_small_cases():
    # |V| = 2, D/eps = 1, q = 1: K = 1, the net is the two contexts of length 1
    assert evaluate.log2_vocab_net_size(2, 0.5, 1, 1) == 1
    # |V| = 3, 2r/eps = 4, q = 1: K = ceil((1*2/3) * 4) = 3, C(5, 2) = 10 multisets of length 3
    assert abs(evaluate.log2_vocab_net_size(3, 2, 1, 1) - mpmath.log(10, 2)) < 1e-40
    # |V| = 4, 2r/eps = 3, q = 2: K = ceil((2*2/4) * 9) = 9, C(12, 3) = 220
    assert abs(evaluate.log2_vocab_net_size(4, 1.5, 1, 2) - mpmath.log(220, 2)) < 1e-40
    # closed form by hand: log2 e + 2*log2(e + (e/4)*4) = log2 e + 2*log2(2e)
    assert abs(evaluate.log2_meanfield_vocab(3, 2, 1, 1) - (3 * mpmath.log(mpmath.e, 2) + 2)) < 1e-40


def test_closed_form_is_above_the_exact_count_and_below_the_sketch():
    rng = random.Random(1)
    for _ in range(300):
        v, ratio, order = rng.randint(2, 5000), 10 ** rng.uniform(-1, 6), rng.choice([1, 1.5, 2, 3])
        closed = evaluate.log2_meanfield_vocab(v, ratio / 2, 1, order)
        exact = evaluate.log2_vocab_net_size(v, ratio / 2, 1, order)
        sketch = v * mpmath.log(mpmath.e + mpmath.e * mpmath.mpf(ratio) ** order, 2)
        assert exact <= closed <= sketch


def largest_remainder(w: np.ndarray, k: int) -> np.ndarray:
    floors = np.floor(k * w).astype(int)
    order = np.argsort(-(k * w - floors), kind="stable")
    floors[order[: k - floors.sum()]] += 1
    return floors


def test_largest_remainder_rounding_moves_less_than_floor_half_v_over_k():
    rng = np.random.default_rng(0)
    for n_tokens in (2, 3, 4, 7, 10):
        for k in (1, 3, 10, 97):
            for _ in range(200):
                w = rng.dirichlet(np.full(n_tokens, rng.choice([0.1, 1.0, 10.0])))
                counts = largest_remainder(w, k)
                assert counts.min() >= 0 and counts.sum() == k
                tv = 0.5 * np.abs(w - counts / k).sum()
                assert tv < (n_tokens // 2) / k + 1e-12


def test_net_covers_in_wasserstein():
    """Every random measure is within rho (exact W_q by LP) of the length-K multiset it rounds to."""
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(4, 3))
    cost = np.linalg.norm(emb[:, None] - emb[None], axis=-1)
    diameter = cost.max()
    for order in (1, 2):
        for rho in (0.5, 0.2):
            k = math.ceil((4 // 2) * (diameter / rho) ** order)
            for _ in range(30):
                w = rng.dirichlet(np.ones(4))
                assert tv.wasserstein(w, largest_remainder(w, k) / k, cost, order) <= rho + 1e-9


def test_preset_context_windows_and_table_columns():
    from bounds.table import build_rows
    rows = {row["model"]: row for row in build_rows(list(bounds.PRESETS.values()), [1], eps_text="fp16")}
    assert rows["pythia-160m"]["context_window"] == 2048 and rows["llama-3.2-1b"]["context_window"] == 131072
    assert "max_position_embeddings" in bounds.PRESETS["pythia-160m"].sources["context_window"]
    row = rows["pythia-160m"]
    assert round(float(row["tokens_meanfield_vocab_q1"])) == 52930
    assert row["log2_meanfield_vocab_q2"] > row["log2_meanfield_vocab_q1"]
    assert rows["smollm2-135m"]["log2_meanfield_vocab_q1"] is None    # no measured radius
    for model, values in rows.items():
        if values["log2_meanfield_vocab_q1"] is not None:
            # the support-net form is doubly exponential: the finite-vocabulary form is the smaller one
            assert mpmath.log(values["log2_meanfield_vocab_q1"], 2) < values["log2_log2_meanfield"]


# ----------------------------------------------------------------------------------------- experiment
pytestmark_thread = pytest.mark.usefixtures("one_thread")


@pytestmark_thread
def test_measure_output_is_the_model_on_sequences_of_any_length():
    model = tv.VocabModel.seeded(4, 4, 3)
    g = torch.Generator().manual_seed(0)
    for n in (1, 5, 23):
        tokens = torch.randint(4, (6, n), generator=g)
        counts = torch.nn.functional.one_hot(tokens, 4).sum(1).double()
        assert (model.measure_output(counts / n) - model.sequence_output(tokens)).abs().max() < 1e-12


@pytestmark_thread
def test_mlp_lipschitz_is_attained_and_not_exceeded():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(3, 6, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    bound = tv.mlp_lipschitz(m1, m2)
    phi = lambda y: y + torch.tanh(y @ m1) @ m2
    y = torch.randn(2000, 3, generator=g, dtype=torch.float64) * 3
    dy = torch.randn(2000, 3, generator=g, dtype=torch.float64) * 1e-6
    ratio = ((phi(y + dy) - phi(y)).norm(dim=1) / dy.norm(dim=1)).max()
    assert ratio <= bound * (1 + 1e-6)
    assert bound <= 1 + float(torch.linalg.matrix_norm(m1, 2) * torch.linalg.matrix_norm(m2, 2)) + 1e-12


@pytestmark_thread
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_empirical_lipschitz_never_exceeds_the_analytic_bound(seed):
    model = tv.VocabModel.seeded(3, 4, seed)
    up, low = tv.lipschitz_upper(model), tv.lipschitz_lower(model, points=100, ot_pairs=20, seed=seed)
    assert 0 < low["tv"] <= up["tv"] and 0 < low["q1"] <= up["q1"] and 0 < low["q2"] <= up["q2"]


@pytestmark_thread
def test_counts_are_packings_and_below_the_multisets():
    model = tv.VocabModel.seeded(3, 4, 0)
    curves = tv.count_curves(model, 12, [0.3])[0.3]
    assert all(c <= m for c, m in zip(curves["per_length"], curves["multisets"]))
    assert curves["cumulative"] == sorted(curves["cumulative"])                      # never decreases
    assert all(c >= p for c, p in zip(curves["cumulative"], curves["per_length"]))
    pts = model.measure_output(tv.multiset_counts(3, 12).double() / 12)
    centers = packing.extend_packing(pts[:0], pts, 0.3)
    dist = torch.cdist(centers, centers) + torch.eye(len(centers), dtype=torch.float64)
    assert dist.min() > 0.3                                                          # pairwise distinguishable


@pytestmark_thread
def test_quick_run_passes_with_a_non_vacuous_bound(tmp_path):
    ctx = Context.of(tv.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None)
    checks = tv.run(ctx)
    assert all(c.passed for c in checks), [c.name for c in checks if not c.passed]
    assert all(c.theorem == "log2_meanfield_vocab" for c in checks if c.kind in ("bound", "premise"))
    bound_checks = [c for c in checks if c.name.startswith("t2_vocab_bound_")]
    s = tv.EXPERIMENT.settings_for("quick")
    assert len(bound_checks) == len(tv.QS) * len(s.eps_out) * len(s.vocabs) * s.seeds
    assert all(c.kind == "bound" for c in bound_checks)
    assert min(c.ratio for c in bound_checks) <= 1.5                 # the analytic L is within 2% of the model's
    assert all(c.params["room_at_lower_L"] <= c.ratio for c in bound_checks)
    gaps = [c for c in checks if c.name.startswith("t2_vocab_lipschitz_gap_")]
    assert len(gaps) == len(s.vocabs) * s.seeds and all(c.kind == "instrument" and c.empirical < 1.05 for c in gaps)
    multiset = [c for c in checks if c.name.startswith("t2_vocab_multiset_bound_")]
    assert len(multiset) == len(s.vocabs) * s.seeds and all(c.kind == "bound" and c.ratio == 1 for c in multiset)
    assert sum(c.confidence is not None for c in checks) == tv.EXPERIMENT.statistical_checks["quick"]
    data = json.loads((tmp_path / "data" / "t2_vocab.json").read_text())
    assert data["runs"][0]["lipschitz"]["q1"]["lower"] <= data["runs"][0]["lipschitz"]["q1"]["upper"]
    assert data["runs"][0]["fine"]["count"] == data["runs"][0]["fine"]["multisets"]


@pytestmark_thread
def test_a_positional_leak_raises_the_counts_and_turns_a_bound_red(tmp_path, monkeypatch):
    plain = tv.VocabModel.sequence_output

    def leaky(self, tokens):
        pos = 1e-2 * torch.arange(tokens.shape[1], dtype=torch.float64)[None, :, None]
        return plain(self, tokens) + self.phi(self.emb[tokens] + pos).mean(1) - self.phi(self.emb[tokens]).mean(1)

    model = tv.VocabModel.seeded(3, 4, 0)
    before = tv.count_curves(model, 10, [0.05])
    monkeypatch.setattr(tv.VocabModel, "sequence_output", leaky)
    after = tv.count_curves(model, 10, [0.05])
    assert after[0.05]["cumulative"][-1] > before[0.05]["cumulative"][-1]
    assert after["fine"]["count"][-1] > after["fine"]["multisets"][-1] == before["fine"]["count"][-1]
    settings = tv.Settings(vocabs=(3,), seeds=1, d=4, n_max={3: 10}, n_orders={3: 10}, eps_out=(0.1,), lipschitz_points=20,
                           ot_pairs=10, invariance_batch=4)
    checks = tv.run(Context.of(tv.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None, settings=settings))
    assert not next(c for c in checks if c.name == "t2_vocab_multiset_bound_V3_s0").passed


@pytestmark_thread
def test_lengths_beyond_n_orders_use_the_measure_and_give_the_same_counts():
    model = tv.VocabModel.seeded(3, 4, 2)
    both = tv.count_curves(model, 12, [0.1], n_orders=6)
    full = tv.count_curves(model, 12, [0.1])
    assert both["fine"]["n"] == list(range(1, 7)) and full["fine"]["n"] == list(range(1, 13))
    assert both[0.1]["cumulative"] == full[0.1]["cumulative"]


@pytestmark_thread
@pytest.mark.parametrize("seed", [0, 3])
def test_curvature_bound_dominates_second_differences(seed):
    model = tv.VocabModel.seeded(3, 4, seed)
    const = tv.curvature_constants(model)
    g = torch.Generator().manual_seed(seed)
    w = torch.distributions.Dirichlet(torch.ones(3, dtype=torch.float64)).sample((200,))
    h = 1e-4
    for _ in range(5):
        d1, d2 = (torch.randn(200, 3, generator=g, dtype=torch.float64) for _ in range(2))
        d1, d2 = d1 - d1.mean(1, keepdim=True), d2 - d2.mean(1, keepdim=True)
        f = model.measure_output
        second = (f(w + h * d1 + h * d2) - f(w + h * d1 - h * d2) - f(w - h * d1 + h * d2)
                  + f(w - h * d1 - h * d2)).norm(dim=1) / (4 * h * h)
        room = (w - h * (d1.abs() + d2.abs())).min(1).values > 0           # the stencil stays in the simplex
        limit = tv.curvature_bound(model, w, 4 * h * 3, const) * d1.abs().sum(1) * d2.abs().sum(1)
        assert (second[room] <= limit[room] * (1 + 1e-3)).all()


@pytestmark_thread
def test_cover_bound_is_between_the_largest_derivative_and_the_closed_form():
    model = tv.VocabModel.seeded(3, 4, 1)
    up = tv.lipschitz_upper(model)
    closed = tv.lipschitz_closed_form(model)
    assert up["seen_q1"] <= up["q1"] <= min(closed["q1"], up["seen_q1"] * (1 + tv.LIPSCHITZ_TOL) + 1e-9)
    assert up["seen_tv"] <= up["tv"] <= closed["tv"]
    low = tv.lipschitz_lower(model, points=20, ot_pairs=5, seed=0, at=[w for w, _ in up["argmax"].values()])
    assert low["q1"] <= up["q1"] and low["q1"] >= 0.99 * up["seen_q1"]   # finite differences reach the argmax
    coarse = tv.lipschitz_upper(model, levels=0)                          # no refinement: a looser valid bound
    assert coarse["q1"] >= up["q1"]


def test_orders_and_sequences():
    counts = tv.multiset_counts(3, 4)
    seqs = tv.sequences(counts)
    assert (torch.nn.functional.one_hot(seqs, 3).sum(1) == counts).all()
    three = packing.orders(seqs, seed=1)
    assert three.shape == (3 * len(counts), 4)
    assert (three.sort(1).values == seqs.repeat(3, 1)).all()            # the same multisets in every order


# ----------------------------------------------------------------------------------------- figure
def test_figure_plots_the_fixture_data_and_the_preset_column():
    from figures.source import FIXTURE, Report
    from figures.t2_vocab import FIGURE, draw

    data = json.loads((FIXTURE / "data" / "t2_vocab.json").read_text())["runs"][0]
    fig, series = draw(Report(FIXTURE))
    for eps, final in zip(series["measured"]["eps_out"], series["measured"]["final"]):
        key = next(k for k in data["curves"] if float(k) == eps)
        assert final == data["curves"][key]["cumulative"][-1]
        assert series["measured"]["log2_bound_q1"][series["measured"]["eps_out"].index(eps)] == \
            data["bounds"][key]["1"]["log2_upper_L"]
    assert series["presets"]["llama-3.2-1b"]["context_window"] == 131072
    assert series["presets"]["pythia-160m"]["tokens_q2"] > series["presets"]["pythia-160m"]["tokens_q1"]
    assert FIGURE.data == ("t2_vocab",)
