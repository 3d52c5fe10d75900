"""verify.experiments.cramming: end to end on a stand-in zoo of tiny models, and its curvature summary."""
import json
from pathlib import Path

import numpy as np
import pytest

from verify.experiments import cramming
from verify.fit import fit_sigmoid


def test_runs_end_to_end_on_a_stand_in_zoo(stand_in_zoo, run_resumed, monkeypatch, tmp_path):
    settings = cramming.Settings(ms_natural=(1, 2, 3), ms_random=(1, 2), count=4, steps=20, patience=10,
                                 n_start_random=2, n_start_natural=2, control_ns=(1,), control_count=4, resamples=50)
    checks = run_resumed(cramming, settings, tmp_path, statistical=2)
    names = {c.name for c in checks}
    assert names == {"cramming_natural_n50_m1", "cramming_natural_not_superlinear"}
    crm = json.loads((Path(tmp_path) / "data" / "cramming.json").read_text())
    assert set(crm["kinds"]) == {"random", "natural"} and crm["control"]["points"]


def test_declared_statistical_checks_match_the_profiles():
    for profile in ("quick", "full"):
        assert cramming.EXPERIMENT.statistical_count(profile) == 2


def test_curvature_flags_superlinear_growth_and_bootstrap_gives_its_spread():
    from verify.fit import bootstrap_n50

    ms = [1, 2, 3, 4, 5, 6]
    assert cramming.curvature(ms, [10.0 * m for m in ms])["slope_ratio"] == pytest.approx(1.0)
    assert cramming.curvature(ms, [4.0 * m * m for m in ms])["slope_ratio"] > 2  # convex
    pts = [(8, 30, 32), (12, 24, 32), (14, 16, 32), (16, 8, 32), (20, 1, 32)]
    b = bootstrap_n50(pts, resamples=300, seed=1)
    se = cramming.spread(b)
    assert 0.1 < se < 2 and abs(np.median(b) - fit_sigmoid(*zip(*pts)).n50) < 0.5
    assert np.array_equal(b, bootstrap_n50(pts, resamples=300, seed=1))  # seeded
