"""verify.experiments.precision end to end on a stand-in zoo of tiny models (fast, seeded, CPU)."""
import json
from pathlib import Path

from verify.experiments import precision


def test_runs_end_to_end_on_a_stand_in_zoo(stand_in_zoo, run_resumed, monkeypatch, tmp_path):
    monkeypatch.setattr(precision, "WITNESS", dict(d=8, vocab=8, levels=2, block_size=48))
    settings = precision.Settings(qs=(2, 4), fp32=True, ms=(1,), count=4, steps=20, patience=10, max_n_extra=1,
                                  restarts=1, soft_count=4, soft_steps=10, signs_ms=(1,), signs_count=4)
    checks = run_resumed(precision, settings, tmp_path, statistical=precision.statistical_count(settings))
    names = {c.name for c in checks}
    assert {"precision_capacity_q2_m1", "precision_tightness_q2_m1", "precision_signs_attains_t1_m1",
            "precision_grid_q2_m1", "precision_box_fp32_m1", "precision_signs_grid_m1"} <= names
    # data: they cannot fail (fp32 stores less than the context holds; the sign reader is capped by construction)
    assert not {"precision_capacity_fp32_m1", "precision_signs_capacity_m1"} & names
    pre = json.loads((Path(tmp_path) / "data" / "precision.json").read_text())
    assert [r["q"] for r in pre["rows"]] == ["q2", "q4", "fp32"] and set(pre["signs"]) == {"1"}


def test_declared_statistical_checks_match_the_profiles():
    for profile in ("quick", "full"):
        settings = precision.EXPERIMENT.settings_for(profile)
        assert precision.EXPERIMENT.statistical_count(profile) == precision.statistical_count(settings)
