"""real_cramming's trainer on a tiny random Llama: the stopping rules, saved state, SIGKILL and resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers", reason="verify.real needs the optional 'real' extra")

from verify.experiments import real_cramming as rc  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _reachable(lm, n, seed=0):
    """A target some clamped prompt after start token 0 reproduces: what that prompt makes the model emit."""
    g = torch.Generator().manual_seed(seed)
    prompt = torch.cat([lm.tok_emb.weight[:1].view(1, 1, 32), 0.3 * torch.randn(1, 1, 32, generator=g)], 1)
    return lm.generate_greedy(prompt, n)


def test_frontier_logits_equal_the_full_forward(lm):
    g = torch.Generator().manual_seed(1)
    prompt, tokens = torch.randn(3, 2, 32, generator=g), torch.randint(0, 64, (3, 7), generator=g)
    full = torch.cat([lm.tok_emb.weight[:1].view(1, 1, 32).expand(3, 1, 32), prompt], 1)
    want = lm(tokens[:, :4], full)[:, 2:7]
    got = lm.frontier_logits(prompt, tokens, 5, lm.start_cache([0]))
    assert got.shape == (3, 5, 64) and torch.allclose(got, want, atol=1e-5)


def test_stopped_by_complete_when_the_whole_target_is_reproduced(lm):
    target = _reachable(lm, 3)
    out = rc.cram(lm, target, 1, radius=0.5, steps=400, patience=400, window=3, lr=5e-2, start_id=0, seeds=[0])
    r = out[0]
    if r["prefix_tf"] < 3:
        pytest.skip("the tiny model did not reach this target")  # never seen with seed 0
    assert r["stopped_by"] == "complete" and r["steps"] < 400 and r["prefix"] == 3
    assert r["curve"][-1][1] == 3 and [c[1] for c in r["curve"]] == sorted(c[1] for c in r["curve"])


def test_stopped_by_patience_needs_patience_steps_without_progress(lm):
    targets = torch.randint(0, 64, (2, 40), generator=torch.Generator().manual_seed(3))
    out = rc.cram(lm, targets, 1, radius=0.5, steps=2000, patience=15, window=3, lr=5e-2, start_id=0,
                  seeds=[1, 2], min_delta=0.5)  # a 50% fall of the loss is needed to count as progress
    for r in out:
        assert r["stopped_by"] == "patience" and 15 <= r["steps"] < 2000
        last_growth = r["curve"][-1][0] + 1 if r["curve"] else 0
        assert r["steps"] - last_growth >= 15


def test_stopped_by_steps_is_the_cap(lm):
    targets = torch.randint(0, 64, (2, 40), generator=torch.Generator().manual_seed(4))
    out = rc.cram(lm, targets, 1, radius=0.5, steps=25, patience=1000, window=3, start_id=0, seeds=[1, 2])
    assert [r["stopped_by"] for r in out] == ["steps", "steps"] and [r["steps"] for r in out] == [25, 25]


def test_a_stopped_chunk_resumes_from_its_saved_step_and_ends_as_an_uninterrupted_one(lm, tmp_path):
    targets = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(5))
    kw = dict(radius=0.5, steps=60, patience=1000, window=3, start_id=0, seeds=[7, 8])
    straight = rc.cram(lm, targets, 2, **kw)
    path = tmp_path / "chunk.pt"

    def stop_at_20(info):
        if info["step"] >= 20:
            rc._STOP.set()
    try:
        with pytest.raises(rc.Interrupted):
            rc.cram(lm, targets, 2, state_path=path, progress=stop_at_20, progress_every=0, **kw)
    finally:
        rc._STOP.clear()
    saved = torch.load(path, weights_only=False)["step"]
    assert 20 <= saved <= 21  # the step running when the stop came is finished, then saved
    steps_seen = []
    again = rc.cram(lm, targets, 2, state_path=path, progress=lambda i: steps_seen.append(i["step"]),
                    progress_every=0, **kw)
    assert steps_seen[0] == saved  # continued, not restarted from 0
    for a, b in zip(straight, again):
        assert {k: a[k] for k in ("prefix", "prefix_tf", "steps", "stopped_by", "curve", "best_step")} == \
               {k: b[k] for k in ("prefix", "prefix_tf", "steps", "stopped_by", "curve", "best_step")}
    torch.save({**torch.load(path, weights_only=False), "m": 3}, path)
    with pytest.raises(ValueError, match="saved state is for other targets"):
        rc.cram(lm, targets, 2, state_path=path, **kw)


def _cli(tiny_dir, out, steps):
    return [sys.executable, "-m", "verify.experiments.real_cramming", "--model-dir", str(tiny_dir), "--m", "1", "2",
            "--kinds", "random", "--targets", "2", "--chunk", "2", "--n-max", "12", "--steps", str(steps),
            "--patience", str(steps), "--window", "3", "--threads", "1", "--save-every", "0.05",
            "--progress-every", "0.05", "--out", str(out)]


def test_sigkill_mid_chunk_then_the_same_command_continues(tiny_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = tmp_path / "run"
    cmd = _cli(tiny_dir, out, 400)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state = out / "state"
    deadline = time.time() + 600  # generous: a loaded shared machine
    saved_step = 0
    while time.time() < deadline and proc.poll() is None:
        files = list(state.glob("*.pt")) if state.is_dir() else []
        if files:
            try:
                saved_step = torch.load(files[0], weights_only=False)["step"]
            except Exception:
                saved_step = 0
            if saved_step >= 30:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert saved_step >= 30
    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming saved state" in again.stdout
    first_progress = [line for line in again.stderr.splitlines() if ": step " in line][0]
    assert int(first_progress.split(": step ")[1].split("/")[0]) >= saved_step  # not restarted from 0
    res = json.loads((out / "real_cramming.json").read_text())
    assert res["finished"] and len(res["trials"]) == 4 and not list(state.glob("*.pt"))
    assert all(t["stopped_by"] in ("steps", "complete") and t["steps"] <= 400 for t in res["trials"])
    assert [i["finished"] for i in res["invocations"]] == [True]  # the killed one never wrote its record
    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # all stored
    assert rerun.returncode == 0 and "training (<=" not in rerun.stdout and "resuming" not in rerun.stdout
    assert json.loads((out / "real_cramming.json").read_text())["trials"] == res["trials"]


def test_two_workers_split_the_chunks_of_one_store(tiny_dir, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    out = tmp_path / "two"
    cmd = _cli(tiny_dir, out, 40) + ["--workers", "2"]
    got = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert got.returncode == 0, got.stderr[-2000:]
    res = json.loads((out / "real_cramming.json").read_text())
    assert res["finished"] and sorted((t["m"], t["target"]) for t in res["trials"]) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert "[worker " in got.stderr


def test_checks_read_from_a_committed_file_carry_their_source(tiny_dir, tmp_path, monkeypatch):
    from verify.all import Context

    from verify.report import SOURCE_KEYS, write_report

    s = rc.Settings(ms=(1, 2), kinds=("random",), targets=2, chunk=2, n_max=6, steps=15, patience=15, window=2,
                    bootstrap=20)
    measured = tmp_path / "committed"
    rc.experiment(s, model_dir=tiny_dir, out=measured, log=lambda m: None, confidence=0.99)
    before = json.loads((measured / "real_cramming.json").read_text())
    again = rc.rewrite_summary(measured, confidence=0.99)  # from the store alone, nothing trained
    assert again["summary"]["points"] == before["summary"]["points"] and again["trials"] == before["trials"]
    assert len(again["invocations"]) == len(before["invocations"]) == 1
    monkeypatch.setattr(rc, "COMMITTED", measured)
    ctx = Context.of(rc.EXPERIMENT, "real", confidence=0.5, log=lambda m: None, out=tmp_path / "report")
    checks = rc.run(ctx)
    saved = json.loads((measured / "real_cramming.json").read_text())
    assert checks and all(sorted(c.source) == sorted(SOURCE_KEYS) for c in checks)
    src = checks[0].source
    assert src["file"].endswith("real_cramming.json") and src["confidence"] == 0.99
    assert src["measured_utc"] == saved["measured_utc"] and "cpus 2" in src["machine"] or "cpus" in src["machine"]
    assert all(c.confidence in (None, 0.99) for c in checks)  # judged at its own level, not this run's 0.5
    write_report(tmp_path / "report", checks)
    md = (tmp_path / "report" / "report.md").read_text()
    assert f"0 checks measured in this run; {len(checks)} read back from committed files" in md
    assert "[read from" in md
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert all(c["source"]["confidence"] == 0.99 for c in report["checks"])


def test_a_partial_run_reports_the_m_it_lacks_as_failed_checks(tiny_dir, tmp_path):
    s = rc.Settings(ms=(1, 2), kinds=("random",), targets=2, chunk=2, n_max=6, steps=10, patience=10, window=2,
                    bootstrap=20)
    result = rc.experiment(s, model_dir=tiny_dir, out=tmp_path, log=lambda m: None)
    full = rc.checks_from(result, confidence=0.99)
    result["summary"]["points"] = [p for p in result["summary"]["points"] if p["m"] == 1]
    partial = rc.checks_from(result, confidence=0.99)
    missing = [c for c in partial if c.name == "real_random_accessible_m2"]
    assert len(missing) == 1 and not missing[0].passed and "partial" in missing[0].params["error"]
    assert sum(c.confidence is not None for c in partial) == sum(c.confidence is not None for c in full) == 2


def test_bfloat16_probe_reads_saved_chunks_and_refuses_a_folder_without_them(tiny_dir, tmp_path):
    import importlib.util

    from verify import real

    spec = importlib.util.spec_from_file_location("probe_bfloat16", ROOT / "scripts" / "probe_bfloat16.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    lm = real.load(model_dir=tiny_dir)
    targets = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    prompts = 0.3 * torch.randn(2, 1, lm.cfg.d_model, generator=torch.Generator().manual_seed(0))
    state = {"m": 1, "step": 7, "targets": targets, "best": torch.tensor([1, 0]), "p": prompts, "best_prompt": prompts}
    row = probe.probe_chunk(lm, state, start_id=0, window=2, repeats=1)
    assert row["frontier"] == 3 and row["float32"]["step_seconds"] > 0 and row["speedup"] > 0
    start = lm.tok_emb.weight[0].detach().view(1, 1, -1).expand(2, 1, -1)
    with torch.no_grad():
        greedy = lm.generate_greedy(torch.cat([start, prompts], 1), 3)
    from verify.measure import leading_matches
    assert row["float32"]["greedy_prefix"] == leading_matches(greedy, targets[:, :3]).tolist()
    got = subprocess.run([sys.executable, str(ROOT / "scripts" / "probe_bfloat16.py"), str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert got.returncode == 2 and len(got.stderr.strip().splitlines()) == 1 and "state" in got.stderr


def _rule_past_the_cap(loss_at, rows, cap=5000, patience=500):
    """The engine's saturation rule run on ``rows`` loss curves at once (``loss_at(t)``: a tensor of
    rows) past ``cap``: per row, the step it fires and the estimate at the cap."""
    import math

    from verify.engine import saturation_step
    from verify.experiments.real_cramming import patience_step_estimate

    best, since = torch.full((rows,), math.inf), torch.zeros(rows, dtype=torch.long)
    fired, estimates, drops, t = [None] * rows, [None] * rows, [[] for _ in range(rows)], 1000
    while any(f is None for f in fired):
        loss = loss_at(t)
        had_best = torch.isfinite(best)
        best, since = saturation_step(torch.zeros(rows, dtype=torch.bool), loss, best, since, 0.01)
        for r in ((since == 0) & had_best).nonzero().squeeze(1).tolist():
            drops[r].append([t, float(loss[r])])
        for r in (since >= patience).nonzero().squeeze(1).tolist():
            fired[r] = t if fired[r] is None else fired[r]
        if t == cap:
            estimates = [patience_step_estimate(d, patience) for d in drops]
        t += 1
    return fired, estimates, drops


def test_patience_step_estimate_predicts_where_the_rule_fires_past_the_cap():
    import math
    import statistics

    import numpy as np

    from verify.experiments.real_cramming import patience_step_estimate

    # A loss that falls 2% at a time, at steps ever further apart (spacing ~ t^(1 - beta), 200 or 250
    # steps at step 5000).
    shapes = torch.tensor([(0.2, 250), (0.3, 200), (0.3, 250), (0.5, 250)], dtype=torch.float64)
    beta = shapes[:, 0]
    tau = (shapes[:, 1] * beta / 5000 ** (1 - beta)) ** (1 / beta)
    fired, estimates, drops = _rule_past_the_cap(lambda t: 100 * 0.98 ** torch.floor((t / tau) ** beta), 4)
    for f, e in zip(fired, estimates):
        assert f > 10_000 and abs(e / f - 1) < 0.1, (fired, estimates)   # fired long after the cap
    assert patience_step_estimate(drops[0][:5], 500) is None                # too few drops to read
    closer = [[1000 + 40 * i - i * i, 1.0] for i in range(20)]              # spacing shrinks: never fires
    assert patience_step_estimate(closer, 500) is None
    # A power-law loss with independent log-normal noise per step: the drops are noise's new lows, the
    # rule fires at the first long gap; the estimate is within a factor 2.5, about right on the median.
    a = torch.tensor([0.5, 1.0, 1.0]).repeat_interleave(6)
    noise = torch.tensor([0.02, 0.02, 0.05]).repeat_interleave(6)
    rng = np.random.default_rng(0)
    fired, estimates, _ = _rule_past_the_cap(
        lambda t: 100 * t ** -a * torch.exp(noise * torch.from_numpy(rng.standard_normal(len(a)))).float(), len(a))
    ratios = [e / f for f, e in zip(fired, estimates) if f > 5000]
    assert len(ratios) >= 12 and all(0.5 < r < 2.5 for r in ratios), ratios
    assert 0.8 < statistics.median(ratios) < 1.3, ratios


def test_natural_targets_at_their_own_m_and_what_a_rerun_still_has_to_train(tiny_dir, tmp_path):
    from dataclasses import replace

    from verify.sweeps.store import Store

    s = rc.Settings(ms=(1, 2), kinds=("random",), targets=2, chunk=2, n_max=6, steps=10, patience=10, window=2,
                    bootstrap=20)
    result = rc.experiment(s, model_dir=tiny_dir, out=tmp_path, log=lambda m: None)
    assert result["finished"] and result["not_started"] == []
    more = replace(s, ms=(1, 2, 3), kinds=("random", "natural"), natural_ms=(1,))
    assert [(k, m) for k, m, _ in rc.chunks(more)] == [("random", 1), ("random", 2), ("random", 3), ("natural", 1)]
    assert more.trials() == 8
    with Store(tmp_path / "trials.sqlite", readonly=True) as store:
        todo = rc.not_started(store, result["model_id"], more, result["geometry"]["r"], tmp_path / "state")
    assert todo == [{"kind": "random", "m": 3, "targets": [0, 1]}, {"kind": "natural", "m": 1, "targets": [0, 1]}]


def test_an_unfinished_chunk_is_named_by_its_kind_and_targets(tiny_dir, tmp_path):
    s = rc.Settings(ms=(1,), kinds=("random", "natural"), natural_ms=(1,), targets=2, chunk=2, n_max=6, steps=10,
                    patience=10, window=2, bootstrap=20)
    labels = rc.chunk_labels("tiny", s, 0.5)
    natural_key = [k for k, v in labels.items() if v["kind"] == "natural"][0]
    assert sorted(v["kind"] for v in labels.values()) == ["natural", "random"]
    (tmp_path / "state").mkdir()
    torch.save({"m": 1, "step": 7, "best": torch.tensor([3, 4]), "active": torch.tensor([True, False]),
                "seconds": 1.0, "drops": [[], []]}, tmp_path / "state" / f"{natural_key}.pt")
    chunk, = rc.in_progress(tmp_path / "state", 10, labels)
    assert (chunk["kind"], chunk["targets"], chunk["step"], chunk["prefixes"]) == ("natural", [0, 1], 7, [3, 4])
    assert rc._chunk_name(chunk) == "natural m=1 targets 0..1"
    assert "kind" not in rc.in_progress(tmp_path / "state", 10)[0]  # without labels: the file alone


def test_baseline_bits_are_the_models_own_next_token_cross_entropy_with_no_prompt(lm):
    import math

    t = torch.randint(0, 64, (2, 5), generator=torch.Generator().manual_seed(3))
    start = lm.tok_emb.weight[:1].view(1, 1, 32).expand(2, 1, 32)
    for start_id, got in ((0, rc.baseline_bits(lm, t, 0)), (None, rc.baseline_bits(lm, t, None))):
        for j in range(5):
            if start_id is None and j == 0:  # nothing read yet: the uniform guess
                want = torch.full((2,), math.log2(64))
            else:  # an independent forward of what precedes token j alone
                logits = lm(t[:, :j] if j else None, start if start_id is not None else None)[:, -1]
                want = torch.nn.functional.cross_entropy(logits, t[:, j], reduction="none") / math.log(2)
            assert [row[j] for row in got] == pytest.approx(want.tolist(), abs=2e-4)


def test_bits_per_vector_random_exact_natural_the_cross_entropy_the_prompt_removes():
    import math

    rows = [{"kind": kind, "m": 2, "target": t, "reason": "patience", "steps": 10, "seconds": 1.0,
             "ce_bits": 1.5 + t, "losses": {"prefix": 3 + t, "prefix_tf": 3 + t, "curve": [[4, 3 + t]], "drops": []}}
            for kind in ("random", "natural") for t in range(2)]
    baseline = {kind: {str(t): [float(10 * t + j) for j in range(8)] for t in range(2)}
                for kind in ("random", "natural")}
    s = rc.Settings(ms=(2,), targets=2, n_max=8, bootstrap=50)
    alphabet = {"random": math.log2(60), "natural": math.log2(64)}
    points = {p["kind"]: p for p in rc.summarize(rows, s, log2_alphabet=alphabet, baseline=baseline)["points"]}
    # target 0: prefix_tf 3, so 4 tokens 0+1+2+3 = 6 bits less 1.5; target 1: 5 tokens 10..14 = 60 less 2.5
    gains = [6 - 1.5, 60 - 2.5]
    assert points["natural"]["gain_bits"] == pytest.approx(gains)
    assert points["natural"]["bits_per_vector"] == pytest.approx(sum(gains) / 2 / 2)
    assert points["random"]["bits_per_vector"] == pytest.approx(3.5 * math.log2(60) / 2)
    lo, hi = points["natural"]["gain_per_vector_ci"]
    assert gains[0] / 2 <= lo <= hi <= gains[1] / 2
    without = rc.summarize(rows, s, log2_alphabet=alphabet)["points"]
    assert [p["bits_per_vector"] is None for p in without] == [False, True]


def test_a_larger_cap_carries_stopped_chunks_and_continues_censored_ones_as_one_run_there(tiny_dir, tmp_path):
    from dataclasses import replace

    from verify.cli import torch_threads
    from verify.sweeps.store import Store

    # min_delta 0: any fall of the loss is progress, so some targets outlast the small cap and some do not
    small = rc.Settings(ms=(1,), kinds=("random",), targets=4, chunk=2, n_max=12, steps=200, patience=8,
                        min_delta=0.0, window=3, bootstrap=20)
    large = replace(small, steps=400)
    keep = ("prefix", "prefix_tf", "steps", "stopped_by", "best_step", "curve", "drops")

    def digests(result):
        return [{k: t[k] for k in keep} for t in result["trials"]]

    def run(s, out, **kw):
        logged = []
        with torch_threads(1):
            result = rc.experiment(s, model_dir=tiny_dir, out=out, log=logged.append, **kw)
        return result, "\n".join(logged)

    first, _ = run(small, tmp_path / "a")
    assert [t["stopped_by"] == "steps" for t in first["trials"]] == [True, False, False, False]  # the premise
    assert len(list((tmp_path / "a" / "state" / "capped").glob("*.pt"))) == 1   # the censored chunk's state
    assert first["capped"] == ["random m=1 targets 0..1"] and "A larger `--steps` continues" in rc.bound_table(first)
    with Store(tmp_path / "a" / "trials.sqlite", readonly=True) as store:
        assert rc.not_started(store, first["model_id"], large, first["geometry"]["r"], tmp_path / "a" / "state",
                              [tmp_path / "a"]) == []           # both chunks have a head start
    direct, _ = run(large, tmp_path / "direct")
    extended, log = run(large, tmp_path / "b", extend_from=[tmp_path / "a"])
    assert "targets 2..3: carried from cap 200" in log and "continuing its censored targets from cap 200" in log
    assert log.count("training (<=") == 1                       # only the censored chunk trains
    assert digests(extended) == digests(direct)                 # the same trials as a run at 400 from step 0
    assert [t["steps"] for t in extended["trials"]][0] > 200 and extended["extends"] == [str(tmp_path / "a")]
    assert [[t.get("carried_from"), t.get("continued_from")] for t in extended["trials"]] == [[None, 200]] * 2 + \
        [[200, None]] * 2
    assert "2 trials carried over (stopped before it) from cap 200; 2 trials continued" in rc.bound_table(extended)
    for a, b in zip(extended["trials"], direct["trials"]):
        assert a["ce_bits"] == pytest.approx(b["ce_bits"], rel=1e-9)
    in_place, log = run(large, tmp_path / "a")                  # a larger --steps in the same folder
    assert "carried from cap 200" in log and digests(in_place) == digests(direct)
