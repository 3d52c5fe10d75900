"""verify.real on a tiny random Llama saved offline (no GGUF, no hub): loading, tuning, geometry, errors."""
from __future__ import annotations

import math

import pytest
import torch

from verify.model import ModelFileError
from verify.lm_geometry import bound_slopes, min_pairwise_cosine
from verify.real import check_gguf, check_model_dir

transformers = pytest.importorskip("transformers", reason="verify.real needs the optional 'real' extra")


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
    from verify.lm_geometry import last_layer_states, measure_geometry

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


def test_cram_reports_the_greedy_prefix_within_the_clamp(lm):
    from verify.experiments.real_cramming import cram

    g = torch.Generator().manual_seed(0)
    prompt = torch.cat([lm.tok_emb.weight[:1].view(1, 1, 32), torch.randn(1, 1, 32, generator=g)], 1)
    reachable = lm.generate_greedy(prompt, 6)  # what [start token 0; some prompt] emits
    targets = torch.cat([reachable, torch.randint(0, 64, (1, 6), generator=g)])
    out = cram(lm, targets, 1, radius=0.5, steps=60, patience=30, window=3, lr=5e-2, seed=1, start_id=0)
    assert len(out) == 2 and all(r["prompt_absmax"] <= 0.5 + 1e-6 for r in out)  # clamped to [-r, r]
    for r in out:
        assert 0 <= r["prefix"] <= 6 and r["steps"] <= 60 and r["stopped_by"] in ("complete", "patience", "steps")
        assert abs(r["prefix"] - r["prefix_tf"]) <= 1  # greedy decoding agrees with teacher forcing (float noise aside)


def test_real_cramming_end_to_end_and_resume(tiny_dir, tmp_path):
    import json

    from verify.experiments.real_cramming import Settings, checks_from, experiment

    logs: list = []
    s = Settings(ms=(1, 2), kinds=("random",), targets=4, chunk=2, n_max=8, steps=20, patience=10, window=3,
                 dtype="float32", bootstrap=50)
    first = experiment(s, model_dir=tiny_dir, out=tmp_path, log=logs.append)
    saved = json.loads((tmp_path / "real_cramming.json").read_text())
    assert saved["finished"] and saved["geometry"]["r"] == first["geometry"]["r"]
    assert len(saved["trials"]) == 8 and saved["invocations"][-1]["versions"]["torch"] == torch.__version__
    assert "| random |" in (tmp_path / "real_cramming.md").read_text()
    slope = first["summary"]["slopes"]["random"]
    assert slope["lo"] <= slope["slope"] <= slope["hi"] and slope["targets"] == 4
    checks = checks_from(first, confidence=0.99)
    bound = [c for c in checks if c.kind == "bound"]
    assert [c.kind for c in checks].count("phenomenon") == 1 and len(bound) == 2 and all(c.passed for c in bound)
    assert all(c.theorem == "t1_float" and c.confidence == 0.99 for c in bound)
    saturated = {c.name: c for c in checks if c.kind == "instrument"}
    for pt in first["summary"]["points"]:  # the saturation check says what the trials' stopped_by say
        c = saturated[f"real_random_saturated_m{pt['m']}"]
        assert c.empirical == (pt["stopped"]["patience"] + pt["stopped"]["complete"]) / 4
        assert c.passed == (c.empirical >= 0.75)
    logs.clear()
    second = experiment(s, model_dir=tiny_dir, out=tmp_path, log=logs.append)  # every chunk from the store
    assert not any("prefixes" in line for line in logs)
    assert second["trials"] == first["trials"] and len(second["invocations"]) == 2


def test_slope_fit_pairs_targets():
    from verify.experiments.real_cramming import slope_fit

    f = slope_fit({1: [3, 5, 4, 4], 2: [7, 9, 8, 8]}, resamples=100)
    assert f["slope"] == 4.0 and f["lo"] == f["hi"] == 4.0  # every target gains exactly 4: no spread


def test_cell_volumes_fill_empty_cells_without_drift():
    import numpy as np

    from verify.lm_geometry import cell_volumes

    v = cell_volumes([5, 3, 1, 1, 0, 0], 10)
    assert math.isclose(v.sum(), 1.0) and np.allclose(v[4:], 0.1)  # Good-Turing: 2 singletons in 10 -> 0.2 unseen
    # A skewed law (10 big cells, 1000 tiny ones): the mean log2 volume over tokens, which sets the
    # non-uniform bound, is estimated within 0.6 bits at N and 4N; dropping the empty cells is 2.6 bits off at N.
    rng = np.random.default_rng(0)
    p = np.r_[np.full(10, 0.09), np.full(1000, 0.1 / 1000)]
    truth = np.log2(p).mean()
    for n in (2000, 8000):
        c = np.bincount(rng.choice(p.size, n, p=p), minlength=p.size)
        assert abs(np.log2(cell_volumes(c)).mean() - truth) < 0.6
        if n == 2000:
            assert np.log2(c[c > 0] / n).mean() - truth > 2.0


def test_real_context_on_a_tiny_llama(tiny_dir, tmp_path):
    from verify.experiments.real_context import Settings, checks_from, experiment

    s = Settings(ns=(4, 24), samples=((1 << 30, 3),), window=40, context_ns=(4, 16), contexts=5)
    res = experiment(s, model_dir=tiny_dir, out=tmp_path, log=lambda m: None)
    assert [p["n"] for p in res["copy"]] == [4, 24] and res["copy"][1]["beyond_window"]
    assert all(0 <= p["exact_copy"] <= 1 and 0 <= p["I_fano_bits"] <= p["max_bits"] for p in res["copy"])
    assert all(1 <= v <= 5 for p in res["contexts"] for v in p["distinct"].values())
    assert all(c.kind == "phenomenon" for c in checks_from(res))
    again = experiment(s, model_dir=tiny_dir, out=tmp_path, log=lambda m: None)  # resumed, nothing recomputed
    assert again["copy"] == res["copy"] and len(again["invocations"]) == 2


def test_committed_real_results_are_consistent():
    """The committed CPU runs (if any) recompute: summary from trials, bounds from r."""
    import json
    from pathlib import Path

    from verify.experiments.real_cramming import COMMITTED, Settings, float_bounds, summarize

    path = COMMITTED / "real_cramming.json"
    if not path.is_file():
        pytest.skip("no committed real_cramming results")
    res = json.loads(path.read_text())
    f = res["model"]
    assert res["bounds"] == pytest.approx(float_bounds(f["d"], f["vocab"], f["alphabet"], res["geometry"]["r"]))
    rows = [{**t, "reason": t["stopped_by"], "losses": {"prefix": t["prefix"], "prefix_tf": t["prefix_tf"]}}
            for t in res["trials"]]
    s = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in res["settings"].items() if k != "device"})
    log2 = {"random": math.log2(f["alphabet"]), "natural": math.log2(f["vocab"])}
    again = summarize(rows, s, log2_alphabet=log2, table1=res["table1"], bounds=res["bounds"])
    assert [p["prefixes"] for p in again["points"]] == [p["prefixes"] for p in res["summary"]["points"]]
    for kind, sl in again["slopes"].items():
        assert sl["slope"] == pytest.approx(res["summary"]["slopes"][kind]["slope"])
    assert Path(COMMITTED / "real_cramming.md").is_file()


def test_real_experiments_are_selected_only_under_the_real_profile():
    from verify import all as verify_all
    from verify.experiments import real_context, real_cramming

    for module in (real_cramming, real_context):
        assert module.EXPERIMENT.profiles == ("real",) and module.EXPERIMENT.settings_for("real") is not None
    for profile in ("quick", "full"):
        names = [e.name for e in verify_all.select(verify_all.catalogue(), profile, None)]
        assert names and "real_cramming" not in names and "real_context" not in names
    assert real_cramming.EXPERIMENT.results == ("t1_float",)
    s = real_cramming.EXPERIMENT.settings_for("real")
    assert real_cramming.EXPERIMENT.statistical_count("real") == len(s.ms) * ("random" in s.kinds)


def test_real_cramming_cli_usage(capsys):
    from verify.experiments.real_cramming import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.count("(default:") >= 18
    assert main(["--device", "tpu"]) == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["--m", "0"]) == 2
    assert main(["--extend-from", "/nonexistent/run"]) == 2 and "no run there" in capsys.readouterr().err
