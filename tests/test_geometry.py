"""Tests of verify/experiments/geometry.py: the zoo's geometry that Fig. 1, Fig. 3 and Table 1 draw."""
import json

import pytest
import torch

from verify import zoo
from verify.all import Context
from verify.measure import cell_counts
from verify.experiments import geometry

pytestmark = pytest.mark.usefixtures("one_thread")


def test_run_writes_what_the_figures_read(tmp_path):
    settings = geometry.Settings(cell_samples=5000, contexts=8, context_length=12, theta_states=64,
                                 plane_resolution=9)
    assert geometry.run(Context(profile="quick", out=tmp_path, log=lambda msg: None, settings=settings)) == []
    data = json.loads((tmp_path / "data" / "geometry.json").read_text())
    assert list(data["models"]) == [n for n in geometry.ZOO_ORDER if n in data["models"]] and data["models"]
    for name, g in data["models"].items():
        zm = zoo.load(name)
        assert sum(g["cells"]["counts"]) == 5000 and len(g["cells"]["counts"]) == zm.vocab
        # sampled states lie inside the rigorous LayerNorm bound, and no side exceeds the sampled diameter
        assert g["support"]["radius_inf"] <= zm.facts["radius_bound"] + 1e-6
        assert max(g["support"]["sides"]) <= 2 * g["support"]["radius_inf"] + 1e-9
        assert 0 < g["support"]["theta"] <= torch.pi
    cut = data["plane_cut"]
    assert cut["model"] == next(iter(data["models"]))
    assert cut["points_argmax"] == cut["predicted"]  # the plane passes through the final states
    assert len(cut["tokens"]) == len(cut["axis_v"]) == 9 and len(cut["contexts"]) == 3


def test_cell_counts_follow_the_argmax_not_the_nearest_row():
    # two unembedding rows with unequal norms: the argmax cell of the long row is larger than half the box
    from verify.model import ModelConfig, Transformer

    model = Transformer(ModelConfig(vocab_size=2, d_model=1, n_layer=1, n_head=1)).eval()
    with torch.no_grad():
        model.head.weight.copy_(torch.tensor([[2.0], [-0.5]]))
    counts, _ = cell_counts(model.head, 1, 2, radius=1.0, samples=10_000, seed=0)
    # logits 2x and -0.5x: the argmax gives token 0 every x > 0 (half the box); the nearest row (2.0 or -0.5)
    # would give it only x > 0.75 (an eighth)
    assert abs(counts[0] - 5000) < 300 and counts.sum() == 10_000


def test_declared_once_with_no_statistical_checks():
    assert geometry.EXPERIMENT.name == "geometry" and geometry.EXPERIMENT.statistical_checks == {"quick": 0, "full": 0}
