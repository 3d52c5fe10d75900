"""Tests of verify/meanfield.py: the invariances hold to 1e-12 without positions and break with them."""
import json

import pytest
import torch

from verify.experiments import meanfield as mf
from verify.all import Context


pytestmark = pytest.mark.usefixtures("one_thread")


def _inputs(seed, n=6, batch=3):
    return torch.randn(batch, n, mf.D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("n_layer", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nope_noncausal_is_permutation_equivariant_and_duplication_invariant(n_layer, seed):
    model = mf.make_model("none", causal=False, n_layer=n_layer, seed=seed)
    X = _inputs(seed, n=3 + seed)
    assert mf.permutation_error(model, X, seed) < 1e-12
    assert mf.duplication_error(model, X) < 1e-12


def test_the_permutation_used_is_not_the_identity():
    pi = torch.randperm(mf.N, generator=torch.Generator().manual_seed(0))
    assert not torch.equal(pi, torch.arange(mf.N))


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "rotary"])
def test_positions_break_both_invariances(positional):
    model = mf.make_model(positional, causal=False, n_layer=1)
    X = _inputs(5)
    assert mf.permutation_error(model, X) > mf.BREAK_THRESHOLD
    assert mf.duplication_error(model, X) > mf.BREAK_THRESHOLD


def test_one_causal_layer_sees_its_prefix_as_a_measure():
    model = mf.make_model("none", causal=True, n_layer=1)
    X = _inputs(7)
    assert mf.prefix_permutation_error(model, X) < 1e-12
    assert mf.last_duplication_error(model, X) < 1e-12
    # but not every position: a causal layer is not permutation-equivariant
    assert mf.permutation_error(model, X) > 1e-6


def test_a_causal_stack_leaks_order_through_the_mask():
    model = mf.make_model("none", causal=True, n_layer=2)
    X = _inputs(8)
    assert mf.prefix_permutation_error(model, X) > 1e-6
    assert mf.last_duplication_error(model, X) > 1e-6


def test_run_passes_and_writes_the_errors(tmp_path):
    checks = mf.run(Context.of(mf.EXPERIMENT, profile="quick", out=tmp_path, log=lambda msg: None))
    assert len(checks) == 10 and all(c.passed for c in checks)
    rows = json.loads((tmp_path / "data" / "meanfield.json").read_text())["rows"]
    nope = [r["max_abs_error"] for r in rows if r["positional"] == "none" and not (r["causal"] and r["n_layer"] > 1)]
    assert max(nope) < 1e-12
