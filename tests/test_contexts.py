"""Tests of verify/contexts.py: exhaustive counts of distinguishable contexts against the multiset bound."""
import itertools
import json
import math

import pytest
import torch

from verify import packing
from verify.experiments import contexts as cx
from verify.model import ModelConfig, Transformer, scaled_init
from verify.all import Context


pytestmark = pytest.mark.usefixtures("one_thread")


def test_context_enumerations():
    ctxs = cx.all_contexts(3, 4)
    assert ctxs.shape == (81, 4) and len({tuple(c) for c in ctxs.tolist()}) == 81
    ms = cx.multiset_contexts(3, 4)
    assert len(ms) == cx.multisets(3, 4) == 15
    assert {tuple(sorted(c)) for c in ctxs.tolist()} == {tuple(c) for c in ms.tolist()}


def test_multisets_formula_matches_brute_force():
    for A, n in [(2, 5), (3, 4), (4, 3)]:
        brute = {tuple(sorted(c)) for c in itertools.product(range(A), repeat=n)}
        assert cx.multisets(A, n) == len(brute)


def test_distinct_measures_by_hand():
    # A = 2, lengths <= 3: weights of letter 1 in {0, 1}, {0, 1/2, 1}, {0, 1/3, 2/3, 1}
    assert cx.distinct_measures(2, 3) == [2, 3, 5]


@pytest.mark.parametrize("alphabet,n_max", [(2, 7), (3, 5)])
def test_exhaustive_count_equals_multisets_at_fine_precision(alphabet, n_max):
    model = cx.context_model(alphabet, seed=1)
    for n in range(1, n_max + 1):
        count = len(cx.distinct_outputs(cx.all_contexts(alphabet, n), model, 1e-9))
        assert count == cx.multisets(alphabet, n)  # <= by the lemma, = because this model is generic


def test_causal_model_tells_apart_every_context():
    model = cx.context_model(3, seed=0, causal=True)
    assert len(cx.distinct_outputs(cx.all_contexts(3, 4), model, 1e-9)) == 3 ** 4 > cx.multisets(3, 4)


def test_coarse_precision_merges_contexts():
    model = cx.context_model(3, seed=0)
    fine = len(cx.distinct_outputs(cx.multiset_contexts(3, 12), model, 1e-9))
    coarse = len(cx.distinct_outputs(cx.multiset_contexts(3, 12), model, 0.4))
    assert coarse < fine == cx.multisets(3, 12)


def test_saturation_length():
    assert cx.saturation_length([1, 2, 2, 3, 3, 3]) == 4
    assert cx.saturation_length([5]) == 1


def test_run_passes_and_reports_integers(tmp_path):
    checks = cx.run(Context.of(cx.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None))
    assert all(c.passed for c in checks), [c.name for c in checks if not c.passed]
    assert {c.name: c.kind for c in checks} == {
        "contexts_multiset_bound": "bound", "contexts_representatives_agree": "premise",
        "contexts_causal_leaks_order": "phenomenon", "contexts_saturation": "phenomenon",
        "contexts_cumulative_below_measures": "bound", "contexts_vs_t2": "bound", "contexts_orders_bound": "bound"}
    assert all(c.theorem == "log2_meanfield" and c.confidence is None for c in checks)
    data = json.loads((tmp_path / "data" / "contexts.json").read_text())
    sat = data["saturation"]
    assert 1 <= sat["saturation_length"] <= len(sat["n"])
    assert all(isinstance(c, int) for c in data["exhaustive"]["count"])
    assert data["exhaustive"]["multisets"] == [math.comb(n + 2, 2) for n in data["exhaustive"]["n"]]
    assert sat["fine_count"] == sat["multisets"]          # a generic NoPE model: one output per multiset
    t2 = data["t2"]
    assert t2["eps_in"] == pytest.approx(t2["eps_out"] / (2 * t2["lipschitz_lower"]), rel=1e-12)
    assert t2["log2_count"] == pytest.approx(math.log2(t2["packing_count"]), rel=1e-12)


def test_saturation_check_fails_at_a_precision_fine_enough_to_tell_measures_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(cx, "EPS", 1e-9)  # every distinct measure gets its own output: no levelling off
    settings = cx.Settings(n_exhaustive=3, n_max=16)
    checks = cx.run(Context.of(cx.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None, settings=settings))
    sat = next(c for c in checks if c.name == "contexts_saturation")
    assert not sat.passed and sat.empirical > 0.9  # every measure told apart: exponent 1


def test_orders_agree_without_positions_and_differ_with_them():
    model = cx.context_model(3, seed=0)
    y = cx.order_outputs(model, 3, 6, seed=0).reshape(3, -1, cx.WIDTH)
    assert (y - y[0]).abs().max() < 1e-12
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=3, d_model=cx.WIDTH, n_layer=2, n_head=1, block_size=16, positional="sinusoidal")
    leaky = scaled_init(Transformer(cfg), gain=1.0, seed=0).double().freeze()
    y = cx.order_outputs(leaky, 3, 6, seed=0)
    assert len(cx.distinct_outputs(packing.orders(cx.multiset_contexts(3, 6), 0), leaky, 1e-9)) > cx.multisets(3, 6)
    assert y.shape == (3 * cx.multisets(3, 6), cx.WIDTH)


def test_single_move_lipschitz_is_a_ratio_of_two_outputs():
    model = cx.context_model(3, seed=0)
    emb = model.tok_emb.weight.detach()
    y = cx.outputs(cx.multiset_contexts(3, 2), model)            # rows: 00 01 02 11 12 22
    by_hand = max(float((y[a] - y[b]).norm()) / (float((emb[u] - emb[v]).abs().max()) / 2)
                  for a, b, u, v in [(0, 1, 0, 1), (0, 2, 0, 2), (1, 3, 0, 1), (1, 4, 0, 2), (2, 4, 0, 1),
                                     (2, 5, 0, 2), (1, 2, 1, 2), (3, 4, 1, 2), (4, 5, 1, 2)])
    assert cx.single_move_lipschitz(y, 3, 2, emb) == pytest.approx(by_hand, rel=1e-12)


def test_a_positional_leak_turns_the_order_and_multiset_bounds_red(tmp_path, monkeypatch):
    def leaky(alphabet=cx.ALPHABET, seed=0, causal=False):
        torch.manual_seed(seed)
        cfg = ModelConfig(vocab_size=alphabet, d_model=cx.WIDTH, n_layer=2, n_head=1, block_size=16,
                          positional="sinusoidal", causal=causal)
        return scaled_init(Transformer(cfg), gain=1.0, seed=seed).double().freeze()

    monkeypatch.setattr(cx, "context_model", leaky)
    settings = cx.Settings(n_exhaustive=3, n_max=12)
    checks = cx.run(Context.of(cx.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None, settings=settings))
    red = {c.name for c in checks if not c.passed}
    assert {"contexts_orders_bound", "contexts_multiset_bound"} <= red
