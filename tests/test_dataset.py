"""Tests of verify/experiments/dataset.py on a stand-in zoo of tiny models (seconds, CPU, seeded)."""
import json

import pytest
import torch

from verify import zoo
from verify.all import Context
from verify.experiments import dataset
from verify.model import ModelConfig, Transformer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def tiny_zoo(monkeypatch):
    def make(name, device="cpu", weights_dir=None):
        torch.manual_seed({"natural": 0, "witness": 1}[name])
        model = Transformer(ModelConfig(vocab_size=8, d_model=8, n_layer=1, n_head=2, block_size=48)).freeze()
        return zoo.ZooModel(name=name, model=model, d=8, vocab=8, layers=1, heads=2, dtype="fp32", radius=1.0,
                            prompt_radius=0.5, levels=2 if name == "witness" else None, alphabet=tuple(range(4)),
                            facts={})

    monkeypatch.setattr(zoo, "load", make)


def test_run_declares_its_statistical_checks_and_kinds(tiny_zoo, tmp_path):
    settings = dataset.Settings(runs=(("witness", 1), ("natural", 1)), trials=2, k=1, input_length=2, steps=20,
                                patience=10, n_start=2)
    checks = dataset.run(Context(profile="quick", out=tmp_path, log=lambda msg: None, settings=settings,
                                 confidence=0.999))
    assert [c.name for c in checks] == ["dataset_count_witness_m1", "dataset_grid_witness_m1",
                                        "dataset_count_natural_m1", "dataset_box_natural_m1"]
    count = [c for c in checks if c.confidence is not None]
    assert len(count) == len(settings.runs) and all(c.name.startswith("dataset_count") for c in count)
    assert all(c.kind == "bound" and c.theorem == "n_max_dataset" and c.confidence == 0.999 for c in count)
    for c in count:  # the check's level is split over the points it compares
        k = c.params["compared_points"]
        assert c.params["per_point_confidence"] == pytest.approx(1 - 0.001 / k)
    premises = [c for c in checks if c.kind == "premise"]
    assert [(c.theorem, c.passed, c.params["levels"]) for c in premises] == [("t1_grid", True, 2), ("t1_float", True, None)]
    assert all(c.params["coordinates"] > 0 for c in premises)
    data = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert all(len(row["grid"]) == len(row["points"]) > 0 for row in data["rows"])  # N_max and the grid: data
    assert data["runs"] == [["witness", 1], ["natural", 1]] and data["settings"]["trials"] == 2


def test_declared_statistical_checks_match_the_profiles():
    for profile in ("quick", "full"):
        assert dataset.EXPERIMENT.statistical_count(profile) == len(dataset.EXPERIMENT.settings_for(profile).runs)
