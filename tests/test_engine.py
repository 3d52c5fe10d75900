"""Tests of the batched prompt-tuning engine (verify/engine.py): fast, seeded, CPU."""
import math

import pytest
import torch

from verify.engine import TuneConfig, evaluate, quantize, tune
from verify.model import ModelConfig, Transformer


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    cfg = dict(vocab_size=8, d_model=16, n_layer=1, n_head=2, block_size=16) | overrides
    return Transformer(ModelConfig(**cfg)).freeze()


def reachable_targets(model, count, n, m, scale=1.0, seed=0):
    """Targets that some prompt provably produces: greedy outputs of random prompts."""
    g = torch.Generator().manual_seed(seed)
    prompts = torch.randn(count, m, model.d, generator=g) * scale
    return model.generate_greedy(prompts, n)


def test_reproduces_reachable_targets():
    model = tiny_model(0)
    targets = reachable_targets(model, 8, n=3, m=2)
    assert len({tuple(t) for t in targets.tolist()}) > 1  # not one trivial target repeated
    result = tune(model, targets, 2, config=TuneConfig(steps=400))
    assert result.success.all(), result.reason
    assert (result.accuracy == 1).all()
    # success is greedy decoding from the kept prompt alone, first token included
    assert torch.equal(model.generate_greedy(result.prompts, 3), targets)
    assert all(r == "reproduced" for r in result.reason)


def test_failure_is_not_success_and_reports_accuracy():
    model = tiny_model(1)
    # 12 random tokens from one vector of a random-init model: not reproducible within 40 steps
    targets = torch.randint(0, 8, (4, 12), generator=torch.Generator().manual_seed(3))
    result = tune(model, targets, 1, config=TuneConfig(steps=40))
    assert not result.success.any()
    assert ((result.accuracy >= 0) & (result.accuracy < 1)).all()
    assert (result.ce_bits > 0).all()
    success, accuracy, ce = evaluate(model, result.prompts, targets)
    assert torch.equal(success, result.success) and torch.allclose(ce, result.ce_bits)


@pytest.mark.parametrize("levels", [2, 4, 16])
def test_quantized_prompts_lie_on_the_grid(levels):
    model = tiny_model(2)
    radius = 0.5
    targets = reachable_targets(model, 4, n=2, m=2, seed=1)
    result = tune(model, targets, 2, config=TuneConfig(steps=60, radius=radius, levels=levels))
    p = result.prompts.double()
    k = (p + radius) / (2 * radius) * (levels - 1)
    assert torch.allclose(k, k.round(), atol=1e-5)  # every coordinate is one of the Q levels
    assert k.min() >= -1e-6 and k.max() <= levels - 1 + 1e-6
    assert len(torch.unique(result.prompts)) <= levels
    if levels == 2:
        assert set(torch.unique(result.prompts).tolist()) <= {-radius, radius}


def test_quantize_values():
    x = torch.tensor([-9.0, -0.5, -0.1, 0.0, 0.2, 0.49, 9.0])
    assert quantize(x, levels=3, radius=1.0).tolist() == [-1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0]


def test_clamping_respected():
    model = tiny_model(3)
    radius = 0.03
    targets = torch.randint(0, 8, (4, 6), generator=torch.Generator().manual_seed(0))
    result = tune(model, targets, 2, config=TuneConfig(steps=50, lr=0.1, radius=radius, init_std=1.0))
    assert result.prompts.abs().max() <= radius + 1e-7
    assert (result.prompts.abs() > radius - 1e-6).any()  # the box was active, not merely unreached


def test_early_stopping_per_target():
    model = tiny_model(0)
    easy = reachable_targets(model, 4, n=1, m=1)
    hard = torch.randint(0, 8, (2, 12), generator=torch.Generator().manual_seed(5))
    r_easy = tune(model, easy, 1, config=TuneConfig(steps=500))
    assert r_easy.success.all() and (r_easy.steps < 500).all()
    assert r_easy.total_steps < 500  # the loop ends when every target is done
    r_hard = tune(model, hard, 1, config=TuneConfig(steps=2000, patience=20))
    assert all(r == "patience" for r in r_hard.reason)
    assert (r_hard.steps < 2000).all()


def test_nan_target_fails_with_reason_and_others_go_on():
    model = tiny_model(0)
    targets = reachable_targets(model, 3, n=2, m=1)
    init = torch.randn(3, 1, model.d) * 0.02
    init[0, 0, 0] = math.nan
    result = tune(model, targets, 1, config=TuneConfig(steps=300), init=init)
    assert not result.success[0]
    assert result.reason[0].startswith("loss became nan")
    assert result.success[1:].all()


def test_shared_prompt_groups():
    model = tiny_model(4)
    inputs = torch.tensor([[1, 2], [3, 4], [1, 2], [3, 4]])
    labels = torch.tensor([[5], [6], [7], [0]])
    groups = torch.tensor([0, 0, 1, 1])
    result = tune(model, labels, 2, inputs=inputs, groups=groups, config=TuneConfig(steps=300))
    assert result.prompts.shape == (2, 2, model.d)
    success, _, _ = evaluate(model, result.prompts, labels, inputs=inputs, groups=groups)
    assert torch.equal(success, result.success)
    for g in (0, 1):  # a group succeeds only if greedy decoding gets every one of its pairs
        out = model.generate_greedy(result.prompts[[g, g]], 1, tokens=inputs[groups == g])
        assert bool(result.success[g]) == bool((out == labels[groups == g]).all())


def test_bad_input():
    model = tiny_model(0)
    t = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="m must be"):
        tune(model, t, 0)
    with pytest.raises(ValueError, match="radius"):
        TuneConfig(levels=4)
    with pytest.raises(ValueError, match="target token ids"):
        tune(model, torch.tensor([[9]]), 1)
    with pytest.raises(ValueError, match="block_size"):
        tune(model, torch.zeros(1, 16, dtype=torch.long), 2)


def test_restarts_only_improve_and_count_steps():
    model = tiny_model(0)
    targets = torch.randint(0, 8, (8, 3), generator=torch.Generator().manual_seed(4))
    once = tune(model, targets, 1, config=TuneConfig(steps=8))
    again = tune(model, targets, 1, config=TuneConfig(steps=8, restarts=2))
    assert (again.success | ~once.success).all()  # every first-run success is kept
    assert (again.ce_bits <= once.ce_bits + 1e-6).all()
    assert (again.steps >= once.steps).all()
    retried = ~once.success
    assert retried.any() and (again.steps[retried] > once.steps[retried]).all()


def test_adamw_step_is_torch_adamw_row_by_row():
    from verify.engine import TuneConfig, adamw_step
    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(3, 2, 5, generator=gen)
    grads = [torch.randn(3, 2, 5, generator=gen) for _ in range(4)]
    config = TuneConfig(lr=0.05)
    ours, m1, m2 = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
    ref = p0.clone().requires_grad_(True)
    opt = torch.optim.AdamW([ref], lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay)
    for step, grad in enumerate(grads, start=1):
        ours = adamw_step(ours, grad, m1, m2, step, config)
        ref.grad = grad.clone()
        opt.step()
    assert torch.allclose(ours, ref.detach(), rtol=1e-6, atol=1e-7)
    clamped = adamw_step(p0, grads[0], torch.zeros_like(p0), torch.zeros_like(p0), 1, TuneConfig(lr=10.0, radius=0.5))
    assert float(clamped.abs().max()) == 0.5


def test_frontier_forwards_only_the_prefix_plus_window_and_reproduces_reachable_targets():
    model = tiny_model(0)
    targets = reachable_targets(model, 6, n=6, m=2)
    lengths = []   # target tokens each forward reads
    hook = model.register_forward_pre_hook(lambda module, args: lengths.append(
        0 if not args or args[0] is None else args[0].shape[1]))
    result = tune(model, targets, 2, config=TuneConfig(steps=600, window=2, patience=300))
    hook.remove()
    assert lengths[0] == 1                      # first step: prefix 0 + window 2 targets, of which 1 is read
    # the prefix under the kept prompt is at most what was read, so the frontier grows by at most the window
    assert all(later <= earlier + 2 for earlier, later in zip(lengths[:5], lengths[1:5]))
    assert int(result.success.sum()) >= 5, result.reason     # seeded: one of the six stays stuck at patience
    decoded = model.generate_greedy(result.prompts, 6)
    assert all(torch.equal(decoded[i], targets[i]) == bool(result.success[i]) for i in range(6))
    assert set(result.reason) <= {"reproduced", "patience"}
    assert result.params["window"] == 2 and result.params["min_delta"] == 0.01


def test_frontier_patience_stops_a_saturated_group_and_keeps_its_longest_prefix():
    from verify.measure import leading_matches

    model = tiny_model(1)
    targets = torch.randint(0, 8, (3, 12), generator=torch.Generator().manual_seed(3))  # out of reach
    result = tune(model, targets, 1, config=TuneConfig(steps=400, window=2, patience=40))
    assert result.reason == ["patience"] * 3 and (result.steps < 400).all()
    kept = leading_matches(model.generate_greedy(result.prompts, 12), targets)
    assert (kept < 12).all() and not result.success.any()


def test_loss_drops_are_the_patience_clock_restarts_since_the_last_growth():
    from verify.engine import DROPS_KEPT

    model = tiny_model(1)
    targets = torch.randint(0, 8, (3, 12), generator=torch.Generator().manual_seed(3))  # out of reach
    config = TuneConfig(steps=400, window=2, patience=40, min_delta=0.001, lr=0.01)
    result = tune(model, targets, 1, config=config)
    assert result.reason == ["patience"] * 3
    for drops, curve, steps in zip(result.drops, result.curves, result.steps.tolist()):
        assert 2 <= len(drops) <= DROPS_KEPT
        at, loss = [d[0] for d in drops], [d[1] for d in drops]
        assert at[0] > curve[-1][0] and at == sorted(set(at))          # after the last growth, one per step
        assert all(b < (1 - config.min_delta) * a for a, b in zip(loss, loss[1:]))   # each a min_delta fall
        assert steps == at[-1] + config.patience     # the rule fired patience steps after the last drop
    assert tune(model, targets, 1, config=TuneConfig(steps=20)).drops is None   # no frontier, no drops


def test_saturation_step_restarts_the_best_loss_at_each_growth():
    from verify.engine import saturation_step
    best, since = saturation_step(torch.tensor([True, False]), torch.tensor([1.0, 1.0]),
                                  torch.tensor([2.0, 2.0]), torch.tensor([5, 5]), 0.01)
    assert best.tolist() == [math.inf, 1.0] and since.tolist() == [0, 0]
    with pytest.raises(ValueError):
        TuneConfig(window=0)


@pytest.mark.parametrize("window", [None, 2])
def test_a_stopped_tune_resumes_from_its_saved_state_and_ends_as_an_uninterrupted_one(tmp_path, window):
    from verify.engine import Checkpointing, Interrupted

    model = tiny_model(2)
    targets = reachable_targets(model, 6, n=5, m=1, scale=2.0, seed=4)
    groups = torch.tensor([0, 0, 1, 2, 2, 3])
    config = TuneConfig(steps=120, window=window, patience=30, radius=1.5)
    straight = tune(model, targets, 1, groups=groups, config=config)
    path = tmp_path / "state.pt"
    seen = []

    def stop():
        return len(seen) >= 2            # asked to stop once progress was reported twice
    with pytest.raises(Interrupted):
        tune(model, targets, 1, groups=groups, config=config,
             checkpoint=Checkpointing(path=path, progress=lambda i: seen.append(i["step"]), progress_every=0,
                                      stop=stop))
    saved = torch.load(path, weights_only=False)["step"]
    assert saved == seen[-1] + 1 and 0 < saved < 120   # the step running when the stop came was finished
    again = tune(model, targets, 1, groups=groups, config=config,
                 checkpoint=Checkpointing(path=path, progress=lambda i: seen.append(i["step"]), progress_every=0))
    assert seen[2] == saved                               # continued, not restarted from step 0
    for field in ("success", "accuracy", "ce_bits", "steps", "prompts", "best_step"):
        assert torch.equal(getattr(straight, field), getattr(again, field)), field
    assert straight.reason == again.reason and straight.total_steps == again.total_steps
    if window is not None:
        assert torch.equal(straight.prefix, again.prefix) and straight.curves == again.curves
        assert straight.drops == again.drops
        # a state saved before drops were traced still resumes, to the same prompts
        path.unlink()
        reports = []
        with pytest.raises(Interrupted):
            tune(model, targets, 1, groups=groups, config=config,
                 checkpoint=Checkpointing(path=path, progress=reports.append, progress_every=0,
                                          stop=lambda: len(reports) >= 2))
        old = torch.load(path, weights_only=False)
        assert old["step"] > 0
        del old["drops"]
        torch.save(old, path)
        legacy = tune(model, targets, 1, groups=groups, config=config, checkpoint=Checkpointing(path=path))
        assert torch.equal(straight.prompts, legacy.prompts) and straight.reason == legacy.reason
    with pytest.raises(ValueError, match="saved state is for other targets"):
        tune(model, targets, 1, groups=torch.tensor([0, 1, 1, 2, 2, 3]), config=config,
             checkpoint=Checkpointing(path=path))
    torch.save({"m": 1, "step": 3}, path)
    with pytest.raises(ValueError, match="not a saved tune state"):
        tune(model, targets, 1, groups=groups, config=config, checkpoint=Checkpointing(path=path))
    with pytest.raises(ValueError, match="cannot restart"):
        tune(model, targets, 1, config=TuneConfig(restarts=1), checkpoint=Checkpointing(path=path))


@pytest.mark.parametrize("window", [None, 2])
def test_a_tune_stopped_by_its_cap_continues_to_a_larger_cap_as_one_run_there(tmp_path, window):
    from verify.engine import Checkpointing

    model = tiny_model(2)
    targets = reachable_targets(model, 6, n=5, m=1, scale=2.0, seed=4)
    groups = torch.tensor([0, 0, 1, 2, 2, 3])
    config = lambda steps: TuneConfig(steps=steps, window=window, patience=30, radius=1.5)  # noqa: E731
    straight = tune(model, targets, 1, groups=groups, config=config(120))
    path = tmp_path / "state.pt"
    capped = tune(model, targets, 1, groups=groups, config=config(40), checkpoint=Checkpointing(path=path))
    assert "max_steps" in capped.reason and torch.load(path, weights_only=False)["step"] == 40  # kept at the cap
    assert "patience" in straight.reason        # what the larger cap adds: a censored group stops by patience
    again = tune(model, targets, 1, groups=groups, config=config(120), checkpoint=Checkpointing(path=path))
    for field in ("success", "accuracy", "ce_bits", "steps", "prompts", "best_step"):
        assert torch.equal(getattr(straight, field), getattr(again, field)), field
    assert straight.reason == again.reason and straight.total_steps == again.total_steps
    if window is not None:
        assert torch.equal(straight.prefix, again.prefix) and straight.curves == again.curves
    done = tmp_path / "done.pt"
    tune(model, targets, 1, groups=groups, config=config(300), checkpoint=Checkpointing(path=done))
    assert not done.exists()    # nothing censored: nothing kept


def test_a_deadline_saves_and_stops():
    from verify.engine import Checkpointing, Interrupted

    model, path = tiny_model(0), None
    with pytest.raises(Interrupted, match="time budget"):
        tune(model, torch.tensor([[1, 2]]), 1, config=TuneConfig(steps=50),
             checkpoint=Checkpointing(path=path, deadline=0.0))
