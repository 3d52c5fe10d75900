"""The cramming and precision experiments end to end on a stand-in zoo of tiny models, and the tests of
verify.checks, verify.bench and verify.witness_family not yet beside their modules' own tests (their owners'
files): fast, seeded, CPU."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from verify import bench, zoo
from verify.experiments import cramming, precision
from verify.all import Context
from verify.checks import count_check
from verify.fit import fit_sigmoid
from verify.model import ModelConfig, Transformer
from verify.report import compare


# ------------------------------------------------------------------------------------------------ checks
def test_count_check_fails_when_capacity_exceeds_the_bound():
    points = [{"n": 10, "successes": 32, "trials": 32}]  # 10 letters of 26 always reproduced: ~46 bits
    assert not count_check("x", "c", points, log2_npr=40, log2_alphabet=math.log2(26), confidence=0.95).passed
    ok = count_check("x", "c", points, log2_npr=60, log2_alphabet=math.log2(26), confidence=0.95)
    assert ok.passed and ok.ratio > 1 and ok.confidence == 0.95
    # one success in 32 gives a tiny f_lower: the same n now fits under 40 bits
    assert count_check("x", "c", [{"n": 10, "successes": 1, "trials": 32}], 40, math.log2(26), confidence=0.95).passed


def test_requirement_checks_fail_when_unmet():
    assert not compare("r2", "R^2 >= 0.95", bound=0.95, empirical=0.9, direction="lower").passed
    assert not compare("n50", "n50 >= 8", bound=8, empirical=7.5, direction="lower").passed
    assert not compare("cap", "capacity >= half", bound=8, empirical=7.9, direction="lower").passed


# ------------------------------------------------------------------------------------------------ bench
def test_bench_json_keys(capsys):
    code = bench.main(["--json", "--targets", "2", "--model", "random", "--n", "1", "--steps", "30",
                       "--patience", "10", "--threads", "1"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("ratio", "engine_targets_per_s", "baseline_targets_per_s", "engine_success_rate",
                "baseline_success_rate"):
        assert key in out and isinstance(out[key], float)
    assert math.isclose(out["ratio"], out["engine_targets_per_s"] / out["baseline_targets_per_s"])


@pytest.mark.parametrize("content", [None, b"not a torch file"])
def test_bench_missing_or_corrupt_model_exits_2(content, tmp_path, monkeypatch, capsys):
    if content is not None:
        (tmp_path / "natural.pt").write_bytes(content)
        (tmp_path / "natural.json").write_text(json.dumps({"radius": 1.0, "prompt_radius": 1.0}))
    monkeypatch.setattr(zoo, "WEIGHTS_DIR", tmp_path)
    assert bench.main(["--targets", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "natural" in err and "\n" not in err


# ------------------------------------------------------------------------------------------------ experiments
def _stand_in_zoo(monkeypatch):
    """Replace the zoo by tiny models with the same API, so the experiments run in a second."""
    def make(name, device="cpu", weights_dir=None):
        torch.manual_seed({"natural": 0, "witness": 1, "random": 2}[name])
        vocab, d = (8, 8) if name == "witness" else (12, 16)
        model = Transformer(ModelConfig(vocab_size=vocab, d_model=d, n_layer=1, n_head=2, block_size=48)).freeze()
        return zoo.ZooModel(name=name, model=model, d=d, vocab=vocab, layers=1, heads=2, dtype="fp32", radius=1.0,
                            prompt_radius=0.5, levels=2 if name == "witness" else None,
                            alphabet=tuple(range(vocab)) if name == "witness" else tuple(range(4)), facts={})

    def natural_targets(count, n, seed, weights_dir=None):
        return torch.randint(0, 12, (count, n), generator=torch.Generator().manual_seed(seed))

    monkeypatch.setattr(zoo, "load", make)
    monkeypatch.setattr(zoo, "natural_targets", natural_targets)


def test_experiments_run_end_to_end_on_a_stand_in_zoo(monkeypatch, tmp_path):
    _stand_in_zoo(monkeypatch)
    monkeypatch.setattr(precision, "WITNESS", dict(d=8, vocab=8, levels=2, block_size=48))
    crm_s = cramming.Settings(ms_natural=(1, 2, 3), ms_random=(1, 2), count=4, steps=20, patience=10,
                              n_start_random=2, n_start_natural=2, control_ns=(1,), control_count=4, resamples=50)
    pre_s = precision.Settings(qs=(2, 4), fp32=True, ms=(1,), count=4, steps=20, patience=10, max_n_extra=1,
                               restarts=1, soft_count=4, soft_steps=10, signs_ms=(1,), signs_count=4)
    names = {}
    for module, settings, declared in ((cramming, crm_s, 2), (precision, pre_s, precision.statistical_count(pre_s))):
        ctx = Context(profile="quick", seed=0, device="cpu", out=tmp_path, log=lambda msg: None, settings=settings,
                      confidence=0.999)
        checks = module.run(ctx)
        names[module.__name__] = {c.name for c in checks}
        assert sum(c.confidence is not None for c in checks) == declared  # as many statistical checks as declared
        for c in checks:  # every check has a kind, a verdict and, unless it failed to evaluate, both numbers
            assert c.kind in ("bound", "premise", "phenomenon", "instrument") and isinstance(c.passed, bool)
            assert c.kind not in ("bound", "premise") or c.theorem
            assert "error" in c.params or (c.bound is not None and c.empirical is not None)
        again = module.run(ctx)  # every point comes from the point store: same checks, same numbers
        assert [(c.name, c.passed, c.empirical) for c in again] == [(c.name, c.passed, c.empirical) for c in checks]
    assert names["verify.experiments.cramming"] == {"cramming_natural_n50_m1", "cramming_natural_not_superlinear"}
    assert {"precision_capacity_q2_m1", "precision_tightness_q2_m1", "precision_signs_attains_t1_m1",
            "precision_grid_q2_m1", "precision_box_fp32_m1", "precision_signs_grid_m1"} <= names["verify.experiments.precision"]
    # data: they cannot fail (fp32 stores less than the context holds; the sign reader is capped by construction)
    assert not {"precision_capacity_fp32_m1", "precision_signs_capacity_m1"} & names["verify.experiments.precision"]
    crm = json.loads((Path(tmp_path) / "data" / "cramming.json").read_text())
    assert set(crm["kinds"]) == {"random", "natural"} and crm["control"]["points"]
    pre = json.loads((Path(tmp_path) / "data" / "precision.json").read_text())
    assert [r["q"] for r in pre["rows"]] == ["q2", "q4", "fp32"] and set(pre["signs"]) == {"1"}


def test_declared_statistical_checks_match_the_profiles():
    for module in (cramming, precision):
        for profile in ("quick", "full"):
            settings = module.EXPERIMENT.settings_for(profile)
            expected = 2 if module is cramming else precision.statistical_count(settings)
            assert module.EXPERIMENT.statistical_count(profile) == expected


# ------------------------------------------------------------------------------------------------ witness family
def test_sign_reader_emits_the_sign_patterns_of_its_prompts():
    from verify import witness_family

    for m in (1, 2, 3):
        model = witness_family.build(m)
        prompts = torch.randint(0, 2, (64, m, 16), generator=torch.Generator().manual_seed(m)).float() * 2 - 1
        expected = torch.tensor([[witness_family.sign_token(p) for p in row] for row in prompts])
        assert torch.equal(model.generate_greedy(prompts, m), expected)


def test_sign_reader_attention_peaks_at_offset_m_minus_1():
    from verify import witness_family
    from verify.model import apply_rotary

    model = witness_family.build(3)
    q, k, _ = model.blocks[0].attn.qkv.bias.split(16)
    T = 8
    qs = apply_rotary(q.expand(1, 1, T, 16).contiguous())[0, 0]
    ks = apply_rotary(k.expand(1, 1, T, 16).contiguous())[0, 0]
    scores = (qs @ ks.T) / 4.0
    for t in range(2, T):
        s = scores[t, : t + 1]
        top = torch.topk(s, 2).values
        assert int(s.argmax()) == t - 2 and float(top[0] - top[1]) > 30  # nats


def test_prompt_tuning_finds_every_sign_reader_target():
    from verify import witness_family
    from verify.engine import TuneConfig, tune

    model = witness_family.build(2)
    targets = torch.randint(1, 2 ** 16 - 1, (16, 2), generator=torch.Generator().manual_seed(0))
    r = tune(model, targets, 2, config=TuneConfig(steps=60, patience=20, radius=1.0, levels=2, init_std=0.1))
    assert r.n_success == 16


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
