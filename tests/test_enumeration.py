"""Tests of verify/experiments/enumeration.py: exact counts of tiny models against brute force, the bounds, the run."""
import itertools
import json
from fractions import Fraction

import pytest
import torch

from verify.experiments import enumeration as en
from verify.all import Context
from verify.model import ModelConfig, Transformer


pytestmark = pytest.mark.usefixtures("one_thread")


def test_grid_prompts_enumerate_every_grid_point_once():
    prompts = en.grid_prompts(levels=3, d=2, m=2, radius=1.5)
    assert prompts.shape == (81, 2, 2)
    assert len({tuple(p.flatten().tolist()) for p in prompts}) == 81
    assert set(prompts.flatten().tolist()) == {-1.5, 0.0, 1.5}
    # chunks tile the whole grid in the same order
    parts = torch.cat([en.grid_prompts(3, 2, 2, 1.5, s, s + 10) for s in range(0, 81, 10)])
    assert torch.equal(parts, prompts)


def test_batched_counts_match_a_per_prompt_brute_force():
    model = en.tiny_model(d=3, vocab=5, seed=3)
    levels, radius, n = 2, 3.0, 4
    for m in (1, 2):
        brute_acc, brute_maps = set(), set()
        for coords in itertools.product([-radius, radius], repeat=3 * m):
            prompt = torch.tensor(coords, dtype=torch.float64).view(1, m, 3)
            brute_acc.add(tuple(model.generate_greedy(prompt, n)[0].tolist()))
            brute_maps.add(tuple(int(model(torch.tensor([[x]]), prompt)[0, -1].argmax()) for x in range(5)))
        assert en.accessible_set(model, levels, m, radius, n) == brute_acc
        assert en.map_set(model, levels, m, radius) == brute_maps
        assert en.accessible_set_loop(model, levels, m, radius, n) == brute_acc


def test_counts_respect_grid_and_vocabulary_bounds_and_grow_with_m():
    model = en.tiny_model(d=3, vocab=4, seed=0)
    counts = [len(en.accessible_set(model, 2, m, 3.0, 3)) for m in (1, 2, 3)]
    assert all(c <= min(2 ** (3 * m), 4 ** 3) for c, m in zip(counts, (1, 2, 3)))


def test_default_init_is_degenerate_and_scaled_init_is_not():
    # the reason for scaled_init: with GPT's std 0.02 the count does not grow with the prompt length
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=8, d_model=3, n_layer=2, n_head=1, block_size=32)
    flat = Transformer(cfg).double().freeze()
    flat_counts = [len(en.accessible_set(flat, 3, m, 3.0, 6)) for m in (1, 2)]
    scaled = en.tiny_model(3, 8, seed=0)
    scaled_counts = [len(en.accessible_set(scaled, 3, m, 3.0, 6)) for m in (1, 2)]
    assert flat_counts[1] == flat_counts[0]  # the prompt's second vector adds nothing
    assert scaled_counts[1] > 4 * scaled_counts[0]


def test_packing_bound_is_exact_and_equals_the_grid_count():
    for levels, radius, d, m in [(3, 1, 2, 1), (4, Fraction(3, 2), 3, 2), (5, 3, 1, 3)]:
        pk = en.packing_bound(levels, radius, d, m)
        assert isinstance(pk, Fraction) and pk == levels ** (d * m)


def test_run_end_to_end_on_a_tiny_spec(tmp_path):
    settings = en.Settings(models=(dict(d=3, vocab=8, levels=3, radius=3.0, n=6, seed=0, ms=(1, 2)),), targets=16)
    checks = en.run(Context(profile="quick", out=tmp_path, log=lambda msg: None, settings=settings, confidence=0.9))
    assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert {c.kind for c in checks} == {"phenomenon", "instrument", "premise"}
    premise = next(c for c in checks if c.kind == "premise")  # the optimizer's prompts lie on the counted grid
    assert premise.name == "enumeration_d3_v8_q3_optimizer_grid" and premise.params["coordinates"] == 16 * 2 * 3
    stat = [c for c in checks if c.confidence is not None]
    assert [c.name for c in stat] == ["enumeration_d3_v8_q3_optimizer"] and stat[0].confidence == 0.9
    data = json.loads((tmp_path / "data" / "enumeration.json").read_text())
    model = data["models"][0]
    assert all(isinstance(c, int) for c in model["accessible"] + model["maps"])
    assert model["prompts"] == ["27", "729"]
    names = {c.name for c in checks}
    assert not any(n.endswith(("_accessible", "_maps")) for n in names)  # true by construction: data, not checks
    assert "enumeration_d3_v8_q3_linearity" not in names  # two points always fit a line: no check


def test_the_optimizer_check_fails_when_the_optimizer_cannot_move(tmp_path, monkeypatch):
    monkeypatch.setattr(en, "OPT_LR", 0.0)  # prompts stay at their random start: targets are rarely hit
    monkeypatch.setattr(en, "OPT_RESTARTS", 0)
    monkeypatch.setattr(en, "OPT_STEPS", 2)
    settings = en.Settings(models=(dict(d=3, vocab=8, levels=3, radius=3.0, n=6, seed=0, ms=(1, 2)),), targets=32)
    checks = en.run(Context(profile="quick", out=tmp_path, log=lambda msg: None, settings=settings, confidence=0.99))
    opt = next(c for c in checks if c.name.endswith("_optimizer"))
    assert not opt.passed and opt.params["found"] < 8
