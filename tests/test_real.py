"""verify.real on a tiny random Llama saved offline (no GGUF, no hub): loading, tuning, geometry, errors."""
from __future__ import annotations

import math

import pytest
import torch

from verify.model import ModelFileError
from verify.real import bound_slopes, check_gguf, check_model_dir, min_pairwise_cosine

transformers = pytest.importorskip("transformers", reason="verify.real needs the optional 'real' extra")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from verify.real import tiny_llama

    path = tmp_path_factory.mktemp("tiny_llama")
    tiny_llama(path, seed=0)
    return path


@pytest.fixture(scope="module")
def lm(tiny_dir):
    from verify.real import load

    torch.set_num_threads(1)
    return load(model_dir=tiny_dir)


def test_loads_offline_frozen_float32(lm):
    assert (lm.cfg.d_model, lm.cfg.vocab_size, lm.cfg.n_layer) == (32, 64, 2)
    assert all(not p.requires_grad for p in lm.parameters())
    assert lm.tok_emb.weight.dtype == torch.float32 and not lm.training
    logits = lm(torch.tensor([[1, 2, 3]]), prefix=torch.zeros(1, 2, 32))
    assert logits.shape == (1, 5, 64)


def test_greedy_with_cache_matches_full_forward(lm):
    g = torch.Generator().manual_seed(3)
    prefix = torch.randn(2, 3, 32, generator=g)
    out = lm.generate_greedy(prefix, 6)
    # Teacher-forced argmax over the generated sequence reproduces it, first token included.
    logits = lm(out[:, :-1], prefix)
    assert torch.equal(logits[:, -6:, :].argmax(-1), out)


def test_engine_tunes_the_real_wrapper(lm):
    from verify.engine import TuneConfig, tune

    g = torch.Generator().manual_seed(0)
    target = lm.generate_greedy(torch.randn(1, 1, 32, generator=g) * 2, 2)  # reachable by construction
    result = tune(lm, target, m=1, config=TuneConfig(steps=150, seed=0))
    assert bool(result.success[0]) and result.reason[0] == "reproduced"


def test_sweep_runs_on_a_model_folder(tiny_dir, tmp_path):
    from verify.sweeps.executors import LocalExecutor
    from verify.sweeps.store import Store
    from verify.sweeps.sweep import SweepConfig, run_sweep

    cfg = SweepConfig(models=[f"hf:{tiny_dir}"], m=[1], n=[1], targets=2, steps=30)
    with Store(tmp_path / "r.sqlite") as store, LocalExecutor(workers=1, threads=1) as ex:
        assert run_sweep(cfg, store, ex, log=lambda m: None)["ran"] == 2
        assert {r["model"] for r in store.rows()} == {f"hf:{tiny_dir}"}


def test_geometry_radius_is_the_max_over_sampled_states(lm):
    from verify.real import last_layer_states, measure_geometry

    geo = measure_geometry(lm, samples=4, start_length=16, max_length=16, seed=5)  # one round of length 16
    assert 0 < geo["r"] < math.inf and 0 <= geo["theta"] <= math.pi and geo["max_length"] == 16
    radii = [r for _, r in geo["curve"]]
    assert radii == sorted(radii) and radii[-1] == geo["r"]  # r(l): running maximum over prompt lengths
    states = last_layer_states(lm, 16, 4, seed=5)
    assert float(states[:, 3:].abs().max()) == geo["r"]  # prompt lengths 4..16
    assert float(states.abs().max()) >= geo["r"]
    # hidden() is Hugging Face's own final (normalized) hidden state.
    ids = torch.randint(0, 64, (2, 10), generator=torch.Generator().manual_seed(1))
    hf_states = lm.hf(input_ids=ids, output_hidden_states=True).hidden_states[-1]
    assert torch.allclose(hf_states, lm.hidden(ids), atol=1e-5)


def test_theta_is_the_largest_pairwise_angle():
    vectors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.1, 0.0]])
    lo, _ = min_pairwise_cosine(vectors)
    assert math.isclose(math.acos(lo), math.pi - math.atan(0.1), rel_tol=1e-9)


def test_bound_slopes_forms():
    s = bound_slopes(576, 49152, r=20.0, theta=2.0)
    # [HMDO]'s relative eps makes 2r/eps = 2^12 whatever r.
    assert math.isclose(s["hmdo_rel"], 576 * math.log2(1 + 2 ** 12) / math.log2(49152), rel_tol=1e-12)
    assert min(s["fp32"], s["float_fp32"]) > max(s["fp16"], s["float_fp16"]) > 0 and s["float_fp16"] <= s["bits16"]
    assert s["fp32_cone"] < s["fp32"]


def test_bad_model_files(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_text("not gguf")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        check_gguf(bad)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    with pytest.raises(ModelFileError, match="no weights"):
        check_model_dir(tmp_path / "m")
    with pytest.raises(ModelFileError, match="not found"):
        check_model_dir(tmp_path / "missing")


def test_corrupt_weights_are_a_one_line_model_error(tiny_dir, tmp_path):
    import shutil

    from verify.real import load

    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    for f in broken.glob("*.safetensors"):
        f.write_bytes(b"garbage" * 10)
    with pytest.raises(ModelFileError, match="cannot load model"):
        load(model_dir=broken)


def test_real_cramming_end_to_end_and_resume(tiny_dir, tmp_path):
    import json

    from verify.experiments.real_cramming import checks_from, experiment

    logs: list = []
    kwargs = dict(model_dir=tiny_dir, kinds=("random",), ms=(1, 2), budget_minutes=1.0, targets=2, steps=30,
                  out=tmp_path, geometry_samples=2, geometry_max_length=64, log=logs.append)
    first = experiment(**kwargs)
    assert json.loads((tmp_path / "real_cramming.json").read_text())["geometry"]["r"] == first["geometry"]["r"]
    assert "| random |" in (tmp_path / "real_cramming.md").read_text()
    assert [s["m"] for s in first["searches"]] == [1, 2] and all(s["points"] for s in first["searches"])
    assert any("estimate:" in line for line in logs)
    # Every n50 passes its T1 check on this model (d=32, |V|=64: the bound is ~130 tokens per vector).
    checks = checks_from(first)
    assert checks and all(c.passed for c in checks)
    logs.clear()
    second = experiment(**kwargs)  # same out dir: every point comes from the store
    point_lines = [line for line in logs if " reproduced (" in line]
    assert point_lines and all("(stored;" in line for line in point_lines)
    assert [s["points"] for s in second["searches"]] == [s["points"] for s in first["searches"]]


def test_bundle_round_trip(tmp_path):
    pytest.importorskip("gguf", reason="the GGUF path needs the optional gguf package")
    from verify.experiments.real_cramming import assemble_bundle, make_bundle

    fake = tmp_path / "m.gguf"
    fake.write_bytes(b"GGUF" + bytes(range(256)) * 41)
    manifest = make_bundle(tmp_path / "bundle", fake, fetch_wheel=False)
    assert manifest["bytes"] == fake.stat().st_size
    got = assemble_bundle([tmp_path / "bundle" / "a", tmp_path / "bundle" / "b"], work=tmp_path / "work")
    assert got["gguf"].read_bytes() == fake.read_bytes() and got["text"].name == "natural.txt"
    (tmp_path / "bundle" / "b" / "model.gguf.part1").unlink()
    with pytest.raises(FileNotFoundError, match="missing model.gguf.part1"):
        assemble_bundle([tmp_path / "bundle"], work=tmp_path / "work2")


def test_real_profile_hook_is_inert_elsewhere():
    from verify.experiments.real_cramming import run

    for profile in ("quick", "full"):
        assert run(type("Ctx", (), {"profile": profile})()) == []
