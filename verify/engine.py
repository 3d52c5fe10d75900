"""Batched prompt tuning: many targets at once, each with its own soft prompt, one forward/backward per step.

This is the measuring instrument of every empirical check. A frozen :class:`verify.model.Transformer` gets
a soft prompt ``P`` (m vectors of width d) before an optional fixed input; ``P`` is trained so that greedy
decoding reproduces a target sequence. Many independent problems are solved together: the prompts form
one ``(G, m, d)`` tensor, and every sequence ``b`` of the batch uses prompt ``groups[b]``. With one
sequence per group this is per-target cramming (docs/theory.md, Consequence A); with N sequences sharing one
group it is dataset memorization through one shared prompt (Consequence B).

What makes the experiment match T1's assumptions exactly:

- ``radius=r``: the prompt is projected onto the l_inf ball ``[-r, r]^(d*m)`` after every step, so the
  float form of T1 (count of fp32 values in ``[-r, r]`` per coordinate) bounds the number of prompts.
- ``levels=Q``: the prompt seen by the model is quantized to the Q-point grid
  ``-r + 2r*k/(Q-1)`` per coordinate (straight-through gradient to a latent prompt kept in the box), so
  ``Npr(m) = Q^(d*m)`` exactly (T1, exact grid form).

Success means greedy decoding from ``[prompt; input]`` alone reproduces the whole target, first token
included (the logit at the last prompt/input position must predict ``target[0]``). Teacher-forced argmax
accuracy is reported beside it, and so is the per-group cross-entropy in bits (summed over all target
tokens of the group), the quantity that T1's soft form bounds from below.

Per-group early stopping: a group leaves the batch as soon as all its sequences are reproduced (its best
prompt is kept), when its loss has not improved for ``patience`` steps, or when its loss turns NaN/inf
(recorded as failed with that reason; the others go on). The optimizer is AdamW written out per row so
that dropping a group from the batch drops its optimizer state too. A long run saves its state to a file
every few minutes and a later call continues from it (:class:`Checkpointing`); the real-LM trainer of
:mod:`verify.experiments.real_cramming` is this loop on a model read after its start token.

Example (a target that a prompt provably reaches: generated from a random prompt):
    >>> import torch
    >>> from verify.model import ModelConfig, Transformer
    >>> _ = torch.manual_seed(0)
    >>> model = Transformer(ModelConfig(vocab_size=8, d_model=16, n_layer=1, n_head=2, block_size=16)).freeze()
    >>> target = model.generate_greedy(torch.randn(1, 1, 16), 1)
    >>> result = tune(model, target, m=1, config=TuneConfig(steps=200))
    >>> bool(result.success[0])
    True
"""
from __future__ import annotations

import hashlib
import math
import platform
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from verify.store import atomic_path

LOG2E = 1.0 / math.log(2.0)


@dataclass
class TuneConfig:
    """Optimizer and constraint settings of one prompt-tuning run.

    Defaults: AdamW with betas (0.9, 0.9) and weight decay 0.01 as in Kuratov et al., but
    lr 1e-1 instead of their 1e-2 (the measurements behind that choice: docs/design.md, "Learning rate").

    Example:
        >>> TuneConfig(levels=4, radius=1.0).grid()
        tensor([-1.0000, -0.3333,  0.3333,  1.0000])
    """

    steps: int = 500
    lr: float = 1e-1
    betas: tuple[float, float] = (0.9, 0.9)
    weight_decay: float = 0.01
    eps: float = 1e-8
    patience: int | None = None  # steps without improvement before a group gives up (None: never)
    # The frontier (None: the whole target): the loss covers each sequence's first L + window target tokens,
    # L its greedy prefix under the group's best prompt so far, and only those tokens are forwarded. A step
    # then improves a group when its prefix grows or its frontier loss falls `min_delta` (relative) below
    # its best since the last growth (`saturation_step`); the prompt kept is the one of the longest prefix.
    window: int | None = None
    min_delta: float = 0.01
    radius: float | None = None  # l_inf box [-radius, radius] for every prompt coordinate
    levels: int | None = None  # Q: quantize each coordinate to Q levels in [-radius, radius]
    init_std: float | None = None  # None: the std of the model's token embeddings (Kuratov et al.)
    seed: int = 0
    restarts: int = 0  # retry groups that failed with a fresh random init (seed+1, seed+2, ...), keep the best
    chunk: int = 4096  # sequences per forward in the final (no-grad) evaluation

    def __post_init__(self):
        if self.levels is not None:
            if self.radius is None:
                raise ValueError("quantization (levels=Q) needs a radius: the grid spans [-radius, radius]")
            if int(self.levels) != self.levels or self.levels < 2:
                raise ValueError(f"levels must be an integer >= 2, got {self.levels!r}")
        if self.radius is not None and not self.radius > 0:
            raise ValueError(f"radius must be > 0, got {self.radius!r}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.window is not None and (int(self.window) != self.window or self.window < 1):
            raise ValueError(f"window must be an integer >= 1, got {self.window!r}")
        if not 0 <= self.min_delta < 1:
            raise ValueError(f"min_delta must lie in [0, 1), got {self.min_delta!r}")

    def grid(self) -> torch.Tensor:
        """The Q quantization levels per coordinate (float32), or raise if unquantized."""
        if self.levels is None:
            raise ValueError("unquantized config has no grid")
        return quantize(torch.linspace(-self.radius, self.radius, self.levels), levels=self.levels, radius=self.radius)


@dataclass
class TuneResult:
    """Outcome per group (one group = one prompt). All tensors are on the CPU.

    ``success``: greedy decoding reproduces every target of the group, first token included.
    ``accuracy``: teacher-forced argmax accuracy over the group's target tokens.
    ``ce_bits``: cross-entropy of the group's targets in bits (sum over tokens and sequences).
    ``steps``: optimizer steps the group took. ``reason``: why it stopped ("reproduced", "patience",
    "max_steps", or "loss became nan at step s"). ``prompts``: the kept prompt of each group, exactly as
    the model saw it (quantized and/or clamped).
    """

    success: torch.Tensor
    accuracy: torch.Tensor
    ce_bits: torch.Tensor
    steps: torch.Tensor
    reason: list[str]
    prompts: torch.Tensor
    total_steps: int = 0
    params: dict = field(default_factory=dict)
    prefix: torch.Tensor | None = None   # on the frontier: per group, the kept prompt's teacher-forced prefix
    best_step: torch.Tensor | None = None  # per group, the updates before the kept prompt
    curves: list | None = None   # on the frontier: per group, [[step, prefix], ...] at each growth
    drops: list | None = None    # on the frontier: per group, [[step, loss], ...] at each loss drop since the last growth
    seconds: float = 0.0         # training time, summed over the runs a saved state was continued by

    @property
    def success_rate(self) -> float:
        return float(self.success.float().mean()) if len(self.success) else 0.0

    @property
    def n_success(self) -> int:
        return int(self.success.sum())


class Interrupted(Exception):
    """Training stopped before its end (a stop request or the deadline); its state is saved, a rerun resumes."""


@dataclass
class Checkpointing:
    """How a long :func:`tune` saves its state, reports progress and stops early.

    ``path``: the state file (prompts, AdamW moments, counters), written every ``save_every`` seconds, when
    training is stopped and when the step cap ends it with groups still training (the caller removes it
    when it no longer needs it): a later ``tune`` with the same path, targets, groups and m continues from
    its step (finished groups stay finished), to a larger cap too. ``stop()`` (e.g. a signal handler's
    ``threading.Event().is_set``) or ``time.time() > deadline`` saves and raises :class:`Interrupted` at
    the start of a step. ``progress(info)`` is called every ``progress_every`` seconds with ``step``,
    ``prefixes`` (the kept prefix per group, on the frontier), ``active``, ``steps_per_s`` and ``eta_s``
    (to the step cap: an upper bound).

    Example:
        >>> Checkpointing(path="chunk.pt", save_every=60).save_every
        60
    """

    path: str | Path | None = None
    save_every: float = 180.0
    progress: Callable[[dict], None] | None = None
    progress_every: float = 30.0
    deadline: float | None = None
    stop: Callable[[], bool] | None = None


DROPS_KEPT = 64   # loss drops kept per group (the latest): enough to read their spacing's trend


def _write_state(path: Path, obj) -> None:
    """``torch.save`` to ``path`` through a temporary file: a kill mid-write keeps the previous file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def quantize(x: torch.Tensor, *, levels: int, radius: float, straight_through: bool = False) -> torch.Tensor:
    """Round every coordinate of ``x`` to the nearest of ``levels`` values ``linspace(-radius, radius, levels)``
    (clamping first): the prompt grid of T1's exact form, endpoints included, Q = 2 is {-r, r}.

    ``straight_through=True``: the value is the same, the gradient is the identity inside the box and zero
    outside it (the clamp's), so a latent prompt can be trained through the rounding.

    Example:
        >>> quantize(torch.tensor([-3.0, -0.2, 0.1, 0.9]), levels=2, radius=1.0)
        tensor([-1., -1.,  1.,  1.])
        >>> x = torch.tensor([0.2, -0.9, 2.0], requires_grad=True)
        >>> y = quantize(x, levels=4, radius=1.0, straight_through=True)
        >>> [round(v, 4) for v in y.tolist()], (y.sum().backward(), x.grad.tolist())[1]
        ([0.3333, -1.0, 1.0], [1.0, 1.0, 0.0])
    """
    step = 2.0 * radius / (levels - 1)
    clamped = x.clamp(-radius, radius)
    q = torch.round((clamped.detach() + radius) / step).clamp(0, levels - 1) * step - radius
    return clamped + (q - clamped).detach() if straight_through else q


def frontier(prefix: torch.Tensor, window: int, n: int) -> torch.Tensor:
    """Target tokens the loss covers per row: the greedy prefix so far plus ``window``, at most ``n``.

    Example:
        >>> frontier(torch.tensor([0, 5, 9]), 2, 10).tolist()
        [2, 7, 10]
    """
    return (prefix + window).clamp(max=n)


def saturation_step(grew: torch.Tensor, loss: torch.Tensor, best_loss: torch.Tensor, since: torch.Tensor,
                    min_delta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the saturation rule, per row: ``(best_loss, since)`` after a step whose prefix grew
    (``grew``) or not, at frontier loss ``loss``. ``since`` counts the steps with neither a longer prefix nor
    a loss ``min_delta`` (relative) below the best since the last growth; a row is saturated when it reaches
    the patience. The best loss restarts at each growth (the frontier moved).

    Example:
        >>> best, since = torch.tensor([4.0, 4.0]), torch.tensor([3, 3])
        >>> saturation_step(torch.tensor([False, False]), torch.tensor([3.0, 3.99]), best, since, 0.01)
        (tensor([3.0000, 3.9900]), tensor([0, 4]))
    """
    lower = loss < (1 - min_delta) * best_loss
    best_loss = torch.where(grew, torch.tensor(math.inf), torch.minimum(best_loss, loss))
    return best_loss, torch.where(grew | lower, 0, since + 1)


@torch.no_grad()
def adamw_step(p: torch.Tensor, grad: torch.Tensor, m1: torch.Tensor, m2: torch.Tensor, step: int,
               config: TuneConfig) -> torch.Tensor:
    """One AdamW step of every row of ``p`` (the prompts): ``m1``, ``m2`` updated in place, the new prompts
    returned, clamped to ``[-config.radius, config.radius]`` when it has a radius.

    Identical to ``torch.optim.AdamW`` (betas, weight decay and eps of ``config``) with one step count
    shared by the rows; written out so that a row leaving the batch takes its moments with it. The
    project's one AdamW: the engine and the real-LM trainer both step with it.

    Example:
        >>> p = torch.zeros(1, 2); grad = torch.tensor([[1.0, -1.0]])
        >>> m1, m2 = torch.zeros_like(p), torch.zeros_like(p)
        >>> adamw_step(p, grad, m1, m2, 1, TuneConfig(lr=0.1, radius=0.05))
        tensor([[-0.0500,  0.0500]])
    """
    b1, b2 = config.betas
    m1.mul_(b1).add_(grad, alpha=1 - b1)
    m2.mul_(b2).addcmul_(grad, grad, value=1 - b2)
    c1, c2 = 1 - b1 ** step, 1 - b2 ** step
    p_new = p * (1 - config.lr * config.weight_decay)
    p_new = p_new - config.lr * (m1 / c1) / ((m2 / c2).sqrt() + config.eps)
    return p_new if config.radius is None else p_new.clamp(-config.radius, config.radius)


def effective_prompt(latent: torch.Tensor, config: TuneConfig) -> torch.Tensor:
    """The prompt the model sees: the latent itself, or its quantization with a straight-through gradient.

    Example:
        >>> p = torch.tensor([0.3, -0.4], requires_grad=True)
        >>> q = effective_prompt(p, TuneConfig(levels=2, radius=1.0))
        >>> q.detach(), q.sum().backward(), p.grad
        (tensor([ 1., -1.]), None, tensor([1., 1.]))
    """
    if config.levels is None:
        return latent
    return quantize(latent, levels=config.levels, radius=config.radius, straight_through=True)


def embedding_std(model) -> float:
    """Standard deviation of the model's token embedding matrix (the anchors' prompt init scale).

    Example:
        >>> from verify.model import ModelConfig, Transformer
        >>> round(embedding_std(Transformer(ModelConfig(vocab_size=512, d_model=64))), 2)
        0.02
    """
    return float(model.tok_emb.weight.detach().float().std())


def _target_logits(model, prefix, inputs, targets):
    """Logits predicting each target token: positions m+L-1 .. m+L+n-2 of ``[prefix; inputs; targets[:-1]]``."""
    n = targets.shape[1]
    parts = [t for t in (inputs, targets[:, :-1]) if t is not None and t.shape[1] > 0]
    tokens = torch.cat(parts, dim=1) if parts else None
    logits = model(tokens, prefix)
    return logits[:, -n:, :]


def _per_sequence_stats(logits, targets):
    """Cross-entropy in bits (summed over tokens) and number of argmax hits, per sequence."""
    logp = F.log_softmax(logits.float(), dim=-1)
    nll = -logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    hits = (logits.argmax(dim=-1) == targets)
    return nll.sum(dim=1) * LOG2E, hits.sum(dim=1), hits.all(dim=1)


def _check_inputs(model, targets, m, inputs, groups):
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"prompt length m must be an integer >= 1, got {m!r}")
    if targets.dim() != 2 or targets.shape[1] < 1:
        raise ValueError(f"targets must be a (batch, n) tensor with n >= 1, got shape {tuple(targets.shape)}")
    vocab = model.cfg.vocab_size
    if targets.numel() and (targets.min() < 0 or targets.max() >= vocab):
        raise ValueError(f"target token ids must lie in [0, {vocab})")
    if inputs is not None and (inputs.dim() != 2 or inputs.shape[0] != targets.shape[0]):
        raise ValueError("inputs must be a (batch, L) tensor with one row per target")
    if groups is not None and (groups.dim() != 1 or groups.shape[0] != targets.shape[0]):
        raise ValueError("groups must be a (batch,) tensor of group ids 0..G-1")
    length = m + (0 if inputs is None else inputs.shape[1]) + targets.shape[1] - 1
    if model.cfg.positional in ("learned", "sinusoidal") and length > model.cfg.block_size:
        raise ValueError(f"prompt + input + target ({length}) exceeds the model's block_size {model.cfg.block_size}")


def tune(model, targets: torch.Tensor, m: int, *, inputs: torch.Tensor | None = None,
         groups: torch.Tensor | None = None, config: TuneConfig | None = None,
         init: torch.Tensor | None = None, device: str | torch.device | None = None,
         checkpoint: Checkpointing | None = None) -> TuneResult:
    """Train one soft prompt per group so that the frozen ``model`` greedily emits each group's targets.

    ``targets`` (B, n) token ids; ``inputs`` (B, L) optional fixed tokens between prompt and target;
    ``groups`` (B,) group id of each sequence (default: one group per sequence); ``init`` (G, m, d)
    optional initial latent prompts (default ``randn * init_std``). Returns a :class:`TuneResult` per group.
    With ``config.restarts = k`` the groups that failed are tuned again from fresh random inits, up to k
    times; a group keeps its first success, or else its lowest cross-entropy (``steps`` adds up).
    ``checkpoint`` (:class:`Checkpointing`): save the state to a file and continue from it, report progress,
    stop at a deadline (not with restarts).

    Example (two targets, each with its own prompt; teacher-forced accuracy reported beside success):
        >>> import torch
        >>> from verify.model import ModelConfig, Transformer
        >>> _ = torch.manual_seed(1)
        >>> model = Transformer(ModelConfig(vocab_size=8, d_model=16, n_layer=1, n_head=2)).freeze()
        >>> r = tune(model, torch.tensor([[3], [5]]), m=1, config=TuneConfig(steps=300))
        >>> r.success.tolist(), r.accuracy.tolist()
        ([True, True], [1.0, 1.0])
    """
    config = config or TuneConfig()
    if checkpoint is not None and config.restarts:
        raise ValueError("a checkpointed tune cannot restart groups (restarts=0)")
    result = _tune_once(model, targets, m, inputs, groups, config, init, device, checkpoint)
    B = targets.shape[0]
    groups_all = torch.arange(B) if groups is None else groups.cpu().long()
    for attempt in range(1, config.restarts + 1):
        retry = (~result.success).nonzero().squeeze(1)
        if len(retry) == 0:
            break
        remap = torch.full((len(result.success),), -1, dtype=torch.long)
        remap[retry] = torch.arange(len(retry))
        seq = (remap[groups_all] >= 0).nonzero().squeeze(1)
        again = _tune_once(model, targets[seq], m, None if inputs is None else inputs[seq], remap[groups_all[seq]],
                           replace(config, seed=config.seed + attempt), None, device)
        better = again.success | (again.ce_bits < result.ce_bits[retry])
        for j, g in enumerate(retry.tolist()):
            result.steps[g] += again.steps[j]
            if bool(better[j]):
                result.success[g], result.accuracy[g] = again.success[j], again.accuracy[j]
                result.ce_bits[g], result.prompts[g] = again.ce_bits[j], again.prompts[j]
                result.reason[g] = again.reason[j] + (f" (restart {attempt})" if bool(again.success[j]) else "")
        result.total_steps += again.total_steps
    result.params["restarts"] = config.restarts
    return result


def _initial_state(targets, m, groups, G, latent, config) -> dict:
    """The training state of step 0: every tensor per group (G rows) or per sequence, on latent's device."""
    device = latent.device
    zeros = lambda n: torch.zeros(n, dtype=torch.long, device=device)  # noqa: E731
    return {"m": m, "targets": targets.cpu(), "groups": groups.cpu(), "step": 0,
            "p": latent, "m1": torch.zeros_like(latent), "m2": torch.zeros_like(latent),
            "best_prompt": effective_prompt(latent, config).detach().clone(),
            "best_ce": torch.full((G,), math.inf, device=device),    # without a frontier: the kept prompt's loss
            "best": zeros(G),                                         # on the frontier: the kept prefix per group
            "lead": zeros(targets.shape[0]),                          # ... and per sequence
            "best_loss": torch.full((G,), math.inf, device=device),  # best frontier loss since the last growth
            "best_step": zeros(G), "since": zeros(G), "taken": zeros(G),
            "active": torch.ones(G, dtype=torch.bool, device=device), "reason": ["max_steps"] * G,
            "curves": [[] for _ in range(G)], "drops": [[] for _ in range(G)], "seconds": 0.0}


_STATE_KEYS = ("m", "targets", "groups", "step", "p", "m1", "m2", "best_prompt", "best_ce", "best", "lead",
               "best_loss", "best_step", "since", "taken", "active", "reason", "curves", "seconds")


def _load_state(path: Path, targets, m, groups, device) -> dict:
    """A state saved by :func:`tune` for these targets, groups and m, its tensors moved to ``device``."""
    st = torch.load(path, map_location="cpu", weights_only=False)
    missing = sorted(set(_STATE_KEYS) - set(st)) if isinstance(st, dict) else ["all"]
    if missing:
        raise ValueError(f"{path}: not a saved tune state (missing {', '.join(missing)}); remove it to restart")
    same = (st.get("m") == m and st["targets"].shape == targets.shape and torch.equal(st["targets"], targets.cpu())
            and torch.equal(st.get("groups", torch.arange(len(targets))), groups.cpu()))
    if not same:
        raise ValueError(f"{path}: saved state is for other targets or another m; remove it to restart")
    st.setdefault("drops", [[] for _ in range(len(st["best"]))])   # states saved before drops were traced
    return {k: v.to(device) if torch.is_tensor(v) and k not in ("targets", "groups") else v for k, v in st.items()}


def _frontier_logits(model, prompt, inputs, targets, k):
    """Logits of the first ``k`` target tokens; a model with its own ``frontier_logits`` (:mod:`verify.real`)
    forwards only those positions."""
    if inputs is None and hasattr(model, "frontier_logits"):
        return model.frontier_logits(prompt, targets, k)
    return _target_logits(model, prompt, inputs, targets[:, :k])


def _tune_once(model, targets, m, inputs, groups, config, init, device, checkpoint=None) -> TuneResult:
    """One run of the engine from one init (see :func:`tune`)."""
    _check_inputs(model, targets, m, inputs, groups)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model = model.to(device)
    B, n = targets.shape
    d = model.cfg.d_model
    targets = targets.to(device)
    inputs = None if inputs is None else inputs.to(device)
    groups = torch.arange(B, device=device) if groups is None else groups.to(device).long()
    G = int(groups.max()) + 1 if B else 0
    if B and (groups.min() < 0 or torch.bincount(groups, minlength=G).min() == 0):
        raise ValueError("groups must use every id 0..G-1 at least once")
    seq_count = torch.bincount(groups, minlength=G) if B else torch.zeros(0, dtype=torch.long, device=device)
    std = embedding_std(model) if config.init_std is None else config.init_std
    checkpoint = checkpoint or Checkpointing()
    path = None if checkpoint.path is None else Path(checkpoint.path)

    if path is not None and path.is_file():
        st = _load_state(path, targets, m, groups, device)
    else:
        gen = torch.Generator(device="cpu").manual_seed(config.seed)
        if init is None:
            latent = torch.randn(G, m, d, generator=gen).to(device) * std
        else:
            if tuple(init.shape) != (G, m, d):
                raise ValueError(f"init must have shape {(G, m, d)}, got {tuple(init.shape)}")
            latent = init.detach().clone().float().to(device)
        if config.radius is not None:
            latent = latent.clamp(-config.radius, config.radius)
        st = _initial_state(targets, m, groups, G, latent, config)
    # Per-group state, indexed by group id (a finished group keeps its row; only active rows are forwarded).
    p, m1, m2, best_prompt, best_ce = st["p"], st["m1"], st["m2"], st["best_prompt"], st["best_ce"]
    best, lead, best_loss, since, taken, active = (st[k] for k in ("best", "lead", "best_loss", "since", "taken",
                                                                     "active"))
    slot_of_group = torch.full((G,), -1, dtype=torch.long, device=device)

    def sequences_of(idx):
        """The sequences of the groups ``idx``, and each one's slot in ``idx``."""
        slot_of_group.fill_(-1)
        slot_of_group[idx] = torch.arange(len(idx), device=device)
        seq = (slot_of_group[groups] >= 0).nonzero().squeeze(1)
        return seq, slot_of_group[groups[seq]]

    on_frontier = config.window is not None
    from verify.measure import leading_matches  # here: verify.measure imports the report layer
    t0 = last_save = last_report = time.time()
    seconds0, step0 = st["seconds"], st["step"]

    def save():
        st["seconds"] = seconds0 + time.time() - t0
        if path is not None:
            _write_state(path, st)

    while st["step"] < config.steps and bool(active.any()):
        now = time.time()
        stop = checkpoint.stop is not None and checkpoint.stop()
        if stop or (checkpoint.deadline is not None and now > checkpoint.deadline):
            save()
            raise Interrupted("stopped by a signal" if stop else "time budget spent")
        if path is not None and now - last_save > checkpoint.save_every:
            save()
            last_save = now
        if checkpoint.progress is not None and now - last_report > checkpoint.progress_every:
            rate = (st["step"] - step0) / max(now - t0, 1e-9)
            checkpoint.progress({"step": st["step"], "prefixes": best.tolist(), "active": int(active.sum()),
                                 "steps_per_s": rate,
                                 "eta_s": (config.steps - st["step"]) / rate if rate > 0 else math.inf})
            last_report = now
        st["step"] = step = st["step"] + 1
        idx = active.nonzero().squeeze(1)           # group ids still training
        k = len(idx)
        seq, slot = sequences_of(idx)
        x = p[idx].detach().requires_grad_(True)
        prompt = effective_prompt(x, config)
        seq_inputs = None if inputs is None else inputs[seq]
        if on_frontier:   # only the first L + window target tokens of each sequence are forwarded and scored
            covered = frontier(lead[seq], config.window, n)
            upto = int(covered.max())
            tgt = targets[seq, :upto]
            logits = _frontier_logits(model, prompt[slot], seq_inputs, targets[seq], upto).float()
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none")
            mask = torch.arange(upto, device=device)[None, :] < covered[:, None]
            ce_seq = (nll.view(-1, upto) * mask).sum(dim=1)   # nats: the saturation rule is relative
            lead_seq = leading_matches(logits.detach().argmax(dim=-1), tgt)
            lead_now = torch.zeros(k, dtype=torch.long, device=device).index_add_(0, slot, lead_seq)
            hit_group = lead_now == n * seq_count[idx]
        else:
            logits = _target_logits(model, prompt[slot], seq_inputs, targets[seq])
            ce_seq, _, hit_seq = _per_sequence_stats(logits, targets[seq])
            hit_group = torch.zeros(k, dtype=torch.long, device=device).index_add_(0, slot, hit_seq.long()) \
                == seq_count[idx]
        ce_group = torch.zeros(k, device=device).index_add_(0, slot, ce_seq.detach())
        finite = torch.isfinite(ce_group)
        reproduced = hit_group & finite
        # Loss only over finite groups: a NaN in one group must not poison the others' gradients.
        loss = ce_seq[finite[slot]].sum()
        if loss.requires_grad:
            loss.backward()
        grad = x.grad if x.grad is not None else torch.zeros_like(x)

        if on_frontier:
            # Keep the prompt of the longest prefix; patience counts steps without growth or a lower loss.
            improved = (lead_now > best[idx]) & finite | reproduced
            had_best = torch.isfinite(best_loss[idx])
            best_loss[idx], since[idx] = saturation_step(improved, ce_group, best_loss[idx], since[idx],
                                                         config.min_delta)
            # The patience clock restarted without growth, below a best already set: a loss drop. The
            # spacing of the drops says when the rule will fire (experiments extrapolate it).
            for j in (~improved & had_best & (since[idx] == 0)).nonzero().squeeze(1).tolist():
                trace = st["drops"][int(idx[j])]
                trace.append([step - 1, float(ce_group[j])])
                del trace[:-DROPS_KEPT]
            lead[seq] = torch.where(improved[slot], lead_seq, lead[seq])
            best[idx] = torch.where(improved, lead_now, best[idx])
        else:
            # Keep the best prompt seen (the one just evaluated), by cross-entropy; successes keep theirs.
            improved = (ce_group < best_ce[idx] - 1e-4) | reproduced
            since[idx] = torch.where(improved, 0, since[idx] + 1)
        if improved.any():
            ids = idx[improved]
            best_ce[ids] = ce_group[improved]
            best_prompt[ids] = prompt.detach()[improved]
            st["best_step"][ids] = step - 1   # the prompt evaluated at this step is the one after step-1 updates
            if on_frontier:
                for g in ids.tolist():
                    st["curves"][g].append([step - 1, int(best[g])])
                    st["drops"][g] = []
        taken[idx] = step
        with torch.no_grad():
            mm1, mm2 = m1[idx], m2[idx]          # the active rows' moments (copies), stepped and put back
            p[idx] = adamw_step(x.detach(), torch.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0), mm1, mm2,
                                step, config)
            m1[idx], m2[idx] = mm1, mm2

        done = reproduced | ~finite
        if config.patience is not None:
            done |= since[idx] >= config.patience
        for j in done.nonzero().squeeze(1).tolist():
            g = int(idx[j])
            active[g] = False
            if not bool(finite[j]):
                st["reason"][g] = f"loss became {'nan' if torch.isnan(ce_group[j]) else 'inf'} at step {step - 1}"
            else:
                st["reason"][g] = "reproduced" if bool(reproduced[j]) else "patience"
    st["seconds"] = seconds0 + time.time() - t0
    if path is not None and bool(active.any()):
        save()   # the state at the cap: the same call with a larger ``steps`` continues from it
    # Without a frontier, the groups still training at the cap have their final prompt evaluated too; on
    # the frontier the kept prompt is the one of the longest prefix, as in training.
    idx = active.nonzero().squeeze(1)
    if len(idx) and not on_frontier:
        with torch.no_grad():
            seq, slot = sequences_of(idx)
            prompt = effective_prompt(p[idx], config)
            logits = _target_logits(model, prompt[slot], None if inputs is None else inputs[seq], targets[seq])
            ce_seq, _, _ = _per_sequence_stats(logits, targets[seq])
            ce_group = torch.zeros(len(idx), device=device).index_add_(0, slot, ce_seq)
            better = ce_group < best_ce[idx]
            best_ce[idx[better]] = ce_group[better]
            best_prompt[idx[better]] = prompt[better]
    # Steps a group took: the updates before the prompt whose evaluation stopped it, else the cap.
    steps_taken = torch.where(active, taken, taken - 1).cpu()

    success, accuracy, ce_bits = evaluate(model, best_prompt, targets, inputs=inputs, groups=groups,
                                          chunk=config.chunk)
    reason = list(st["reason"])
    for g in range(G):
        if reason[g].startswith("loss became"):
            success[g] = False
        elif reason[g] == "reproduced" and not bool(success[g]):
            reason[g] = "reproduced in training, not by greedy decoding"  # numerically borderline argmax
    return TuneResult(success=success, accuracy=accuracy, ce_bits=ce_bits, steps=steps_taken, reason=reason,
                      prompts=best_prompt.cpu(), total_steps=st["step"],
                      params={"m": m, "n": n, "lr": config.lr, "steps": config.steps, "radius": config.radius,
                              "levels": config.levels, "patience": config.patience, "init_std": std,
                              "window": config.window, "min_delta": config.min_delta if on_frontier else None},
                      prefix=best.cpu() if on_frontier else None, best_step=st["best_step"].cpu(),
                      curves=st["curves"], drops=st["drops"] if on_frontier else None, seconds=st["seconds"])


@torch.no_grad()
def evaluate(model, prompts: torch.Tensor, targets: torch.Tensor, *, inputs: torch.Tensor | None = None,
             groups: torch.Tensor | None = None, chunk: int = 4096):
    """Per group: (greedy success, teacher-forced accuracy, cross-entropy bits) of fixed ``prompts`` (G, m, d).

    Success is decided by :meth:`Transformer.generate_greedy` from the prompt (and input) alone.

    Example:
        >>> import torch
        >>> from verify.model import ModelConfig, Transformer
        >>> model = Transformer(ModelConfig(vocab_size=8, d_model=16, n_layer=1, n_head=2)).freeze()
        >>> p = torch.randn(1, 1, 16)
        >>> s, acc, ce = evaluate(model, p, model.generate_greedy(p, 3))
        >>> bool(s[0]), float(acc[0])
        (True, 1.0)
    """
    device = next(model.parameters()).device
    targets = targets.to(device)
    B, n = targets.shape
    groups = torch.arange(B, device=device) if groups is None else groups.to(device).long()
    G = prompts.shape[0]
    prompts = prompts.to(device)
    hits = torch.zeros(B, dtype=torch.long, device=device)
    ce = torch.zeros(B, device=device)
    greedy_ok = torch.zeros(B, dtype=torch.bool, device=device)
    for start in range(0, B, chunk):
        sl = slice(start, start + chunk)
        inp = None if inputs is None else inputs[sl].to(device)
        prefix = prompts[groups[sl]]
        logits = _target_logits(model, prefix, inp, targets[sl])
        ce[sl], hits[sl], _ = _per_sequence_stats(logits, targets[sl])
        greedy = model.generate_greedy(prefix, n, tokens=inp)
        greedy_ok[sl] = (greedy == targets[sl]).all(dim=1)
    count = torch.bincount(groups, minlength=G)
    ok = torch.zeros(G, dtype=torch.long, device=device).index_add_(0, groups, greedy_ok.long())
    success = (ok == count).cpu()
    accuracy = (torch.zeros(G, device=device).index_add_(0, groups, hits.float()) / (count * n)).cpu()
    ce_bits = torch.zeros(G, device=device).index_add_(0, groups, ce).cpu()
    return success, accuracy, ce_bits


def versions() -> dict:
    """What a measured result depends on besides its settings: python, torch, this engine's source hash, host.

    Stored with every trial (:mod:`verify.sweeps.store`) and every real-model run, so a result can be traced to
    the code that produced it.

    Example:
        >>> sorted(versions())
        ['engine', 'host', 'python', 'torch']
    """
    try:
        engine = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    except OSError:
        engine = "missing"
    return {"python": platform.python_version(), "torch": torch.__version__, "engine": engine,
            "host": platform.node()}
