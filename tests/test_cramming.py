"""verify.experiments.cramming: end to end on a stand-in zoo of tiny models, and its curvature summary."""
import json
from pathlib import Path

import numpy as np
import pytest

from verify.all import Context
from verify.experiments import cramming
from verify.fit import fit_sigmoid


def test_runs_end_to_end_on_a_stand_in_zoo(stand_in_zoo, monkeypatch, tmp_path):
    settings = cramming.Settings(ms_natural=(1, 2, 3), ms_random=(1, 2), count=4, steps=20, patience=10,
                                 n_start_random=2, n_start_natural=2, control_ns=(1,), control_count=4, resamples=50)
    ctx = Context(profile="quick", seed=0, device="cpu", out=tmp_path, log=lambda msg: None, settings=settings,
                  confidence=0.999)
    checks = cramming.run(ctx)
    assert sum(c.confidence is not None for c in checks) == 2  # as many statistical checks as declared
    for c in checks:  # every check has a kind, a verdict and, unless it failed to evaluate, both numbers
        assert c.kind in ("bound", "premise", "phenomenon", "instrument") and isinstance(c.passed, bool)
        assert c.kind not in ("bound", "premise") or c.theorem
        assert "error" in c.params or (c.bound is not None and c.empirical is not None)
    again = cramming.run(ctx)  # every point comes from the point store: same checks, same numbers
    assert [(c.name, c.passed, c.empirical) for c in again] == [(c.name, c.passed, c.empirical) for c in checks]
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
