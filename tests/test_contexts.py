"""Tests of verify/contexts.py: exhaustive counts of distinguishable contexts against the multiset bound."""
import itertools
import json
import math

import pytest

from verify.experiments import contexts as cx
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
        "contexts_cumulative_below_measures": "bound", "contexts_vs_t2": "bound"}
    assert all(c.theorem == "log2_meanfield" and c.confidence is None for c in checks)
    data = json.loads((tmp_path / "data" / "contexts.json").read_text())
    sat = data["saturation"]
    assert 1 <= sat["saturation_length"] <= len(sat["n"])
    assert all(isinstance(c, int) for c in data["exhaustive"]["count"])
    assert data["exhaustive"]["multisets"] == [math.comb(n + 2, 2) for n in data["exhaustive"]["n"]]


def test_saturation_check_fails_at_a_precision_fine_enough_to_tell_measures_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(cx, "EPS", 1e-9)  # every distinct measure gets its own output: no levelling off
    settings = cx.Settings(n_exhaustive=3, n_max=16)
    checks = cx.run(Context.of(cx.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None, settings=settings))
    sat = next(c for c in checks if c.name == "contexts_saturation")
    assert not sat.passed and sat.empirical > 0.9  # every measure told apart: exponent 1
