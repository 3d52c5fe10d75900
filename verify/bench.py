"""``python -m verify.bench``: the anchors' one-target-at-a-time loop against the batched engine, side by side.

Usage::

    python -m verify.bench [--json] [--targets N] [--model natural|witness|random|tiny|gguf:PATH|hf:DIR]
                           [--m M] [--n N] [--steps S] [--patience P] [--seed S] [--device cpu|cuda]
                           [--threads T] [--baseline-lr LR]

Models (:mod:`verify.subjects`): the zoo's ``natural`` (natural-text targets), ``witness`` and ``random``,
``tiny``, or your own model, as in ``python -m verify.sweeps``: ``gguf:PATH`` (a GGUF file) or ``hf:DIR``
(a local Hugging Face causal-LM folder); all but ``natural`` get random targets over their ordinary tokens.
Progress (each baseline target, then the engine) goes to stderr while it runs.

Baseline (as in ``yurakuratov/hidden_capacity``'s ``train.py``): for each target in turn, a fresh prompt
``randn * std(embeddings)``, ``torch.optim.AdamW`` (lr 1e-2, betas (0.9, 0.9), weight decay 0.01), one
forward/backward per step, stop when the target is reproduced (teacher-forced argmax correct at every
position, first token included, which is greedy reproduction) or when the accuracy has not improved for
``patience`` steps. Engine: :func:`verify.engine.tune` on all targets at once, with its own defaults.
Both get the same model, the same targets and the same step limit; success is decided the same way
(greedy decoding of the kept prompt, :func:`verify.engine.evaluate`). ``--baseline-lr 0.1`` gives the
baseline the engine's learning rate, so that the ratio measures batching alone.

The ratios measured so far are in docs/design.md, "Batching".

``--json`` prints one JSON object: ratio, engine_targets_per_s, baseline_targets_per_s,
engine_success_rate, baseline_success_rate (and the settings). Bad usage or a missing/corrupt model file:
one line on stderr, exit 2.

Example (the baseline on one easy target of a tiny model):
    >>> import torch
    >>> from verify.model import ModelConfig, Transformer
    >>> _ = torch.manual_seed(0)
    >>> model = Transformer(ModelConfig(vocab_size=8, d_model=16, n_layer=1, n_head=2)).freeze()
    >>> ok, steps = baseline_one(model, torch.tensor([3]), m=1, steps=300, patience=100, init_std=0.02, seed=0)
    >>> ok
    True
"""
from __future__ import annotations

import json
import sys
import time

import torch
import torch.nn.functional as F

from verify.cli import ArgumentParser as _Parser, usage_failure

from verify.engine import TuneConfig, evaluate, tune

DEFAULT_N = {"natural": 10, "witness": 4, "random": 2}
DEFAULT_N_REAL = 4  # tiny and own models (gguf:PATH, hf:DIR)


def baseline_one(model, target: torch.Tensor, m: int, *, steps: int, patience: int, init_std: float, seed: int,
                 lr: float = 1e-2, betas=(0.9, 0.9), weight_decay: float = 0.01):
    """The anchors' loop on one target; returns (greedy success of the kept prompt, steps taken)."""
    g = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    target = target.to(device)[None, :]
    prompt = torch.nn.Parameter((torch.randn(1, m, model.d, generator=g) * init_std).to(device))
    opt = torch.optim.AdamW([prompt], lr=lr, betas=betas, weight_decay=weight_decay)
    n = target.shape[1]
    tokens = target[:, :-1] if n > 1 else None
    best_acc, best, since, step = -1.0, prompt.detach().clone(), 0, 0
    for step in range(1, steps + 1):
        logits = model(tokens, prompt)[:, -n:, :]
        loss = F.cross_entropy(logits[0], target[0])
        acc = (logits.argmax(-1) == target).float().mean().item()
        if acc > best_acc:
            best_acc, best, since = acc, prompt.detach().clone(), 0
        else:
            since += 1
        if acc == 1.0 or since >= patience:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    success, _, _ = evaluate(model, best, target)
    return bool(success[0]), step


def bench(model, targets: torch.Tensor, m: int, *, steps: int, patience: int, init_std: float, seed: int = 0,
          device: str = "cpu", baseline_lr: float = 1e-2, log=None) -> dict:
    """Time the baseline loop and the engine on the same targets; return the comparison as a dict.

    Example:
        >>> import torch
        >>> from verify.model import ModelConfig, Transformer
        >>> _ = torch.manual_seed(0)
        >>> model = Transformer(ModelConfig(vocab_size=8, d_model=16, n_layer=1, n_head=2)).freeze()
        >>> r = bench(model, torch.tensor([[3], [5]]), m=1, steps=200, patience=50, init_std=0.02)
        >>> sorted(k for k in r if k.endswith("success_rate"))
        ['baseline_success_rate', 'engine_success_rate']

    ``log`` (a function of one string, e.g. ``print``) receives a progress line after each baseline target
    and before and after the engine run.
    """
    log = log or (lambda msg: None)
    model = model.to(device)
    count = targets.shape[0]
    t0 = time.perf_counter()
    base = []
    for i in range(count):
        base.append(baseline_one(model, targets[i], m, steps=steps, patience=patience, init_std=init_std,
                                 seed=seed + i, lr=baseline_lr))
        elapsed = time.perf_counter() - t0
        log(f"baseline: target {i + 1}/{count} {'reproduced' if base[-1][0] else 'failed'} in {base[-1][1]} steps "
            f"({elapsed:.1f}s elapsed, eta {elapsed / (i + 1) * (count - i - 1):.0f}s)")
    t_base = time.perf_counter() - t0
    log(f"engine: tuning all {count} targets at once (at most {steps} steps)...")
    t0 = time.perf_counter()
    result = tune(model, targets, m, config=TuneConfig(steps=steps, patience=patience, init_std=init_std, seed=seed),
                  device=device)
    t_engine = time.perf_counter() - t0
    log(f"engine: done in {t_engine:.1f}s, {int(result.success.sum())}/{count} reproduced")
    engine_tps, base_tps = count / t_engine, count / t_base
    return {"ratio": engine_tps / base_tps, "engine_targets_per_s": engine_tps, "baseline_targets_per_s": base_tps,
            "engine_success_rate": result.success_rate,
            "baseline_success_rate": sum(ok for ok, _ in base) / count,
            "engine_seconds": t_engine, "baseline_seconds": t_base,
            "engine_mean_steps": float(result.steps.float().mean()),
            "baseline_mean_steps": sum(s for _, s in base) / count, "targets": count, "m": m,
            "n": targets.shape[1], "steps": steps, "patience": patience, "engine_lr": TuneConfig().lr,
            "baseline_lr": baseline_lr, "threads": torch.get_num_threads(), "device": str(device)}


def load_model(name: str, *, device: str, count: int, n: int | None, seed: int):
    """The model ``name`` (any :mod:`verify.subjects` name), its targets, their length and init scale.

    The natural zoo model gets natural-text targets, every other model random ones. Raises ValueError
    (one line) for an unknown name and ModelFileError for a missing or corrupt file.

    Example:
        >>> model, targets, n, std = load_model("tiny", device="cpu", count=3, n=None, seed=0)
        >>> tuple(targets.shape), n
        ((3, 4), 4)
    """
    from verify import subjects
    from verify.engine import embedding_std

    subjects.check_name(name)
    n = (DEFAULT_N.get(name, DEFAULT_N_REAL)) if n is None else n
    if name in subjects.ZOO:  # loaded afresh, not from the per-process cache: the file is checked every run
        from verify import zoo

        subject = subjects.from_zoo(zoo.load(name, device=device))
    else:
        subject = subjects.load(name, device=device)
    kind = "natural" if name == "natural" else "random"
    targets = subjects.targets(subject, kind, count=count, n=n, seed=seed)
    std = subject.zoo.embedding_std() if subject.zoo is not None else embedding_std(subject.model)
    return subject.model, targets, n, std


def main(argv=None) -> int:
    p = _Parser(prog="python -m verify.bench", description=__doc__.split("\n")[0].split(": ", 1)[1])
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary lines")
    p.add_argument("--targets", type=int, default=32, help="targets, tuned one at a time and all at once (default: 32)")
    p.add_argument("--model", default="natural",
                   help="natural, witness, random, tiny, gguf:PATH or hf:DIR (default: natural)")
    p.add_argument("--m", type=int, default=1, help="prompt length in vectors (default: 1)")
    p.add_argument("--n", type=int, default=None,
                   help=f"target length in tokens (default: {', '.join(f'{k} {v}' for k, v in DEFAULT_N.items())}, "
                        f"tiny and own models {DEFAULT_N_REAL})")
    p.add_argument("--steps", type=int, default=300, help="step limit per target, for both (default: 300)")
    p.add_argument("--patience", type=int, default=100,
                   help="stop a target after this many steps without improvement (default: 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of targets and initial prompts (default: 0)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="(default: cpu)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads, >= 1 (default: torch's choice)")
    p.add_argument("--baseline-lr", type=float, default=1e-2,
                   help="the baseline's learning rate (default: the anchors' 1e-2; the engine's 0.1 isolates batching)")
    try:
        from verify.model import ModelFileError

        args = p.parse_args(sys.argv[1:] if argv is None else argv)
        if args.m < 1:
            raise ValueError(f"--m must be >= 1, got {args.m}")
        for opt in ("targets", "steps", "patience"):
            if getattr(args, opt) < 1:
                raise ValueError(f"--{opt} must be >= 1, got {getattr(args, opt)}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        if not args.baseline_lr > 0:
            raise ValueError(f"--baseline-lr must be > 0, got {args.baseline_lr:g}")
        if args.n is not None and args.n < 1:
            raise ValueError(f"--n must be >= 1, got {args.n}")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda given but no CUDA device is available")
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        try:
            model, targets, n, init_std = load_model(args.model, device=args.device, count=args.targets, n=args.n,
                                                     seed=args.seed)
        except ModelFileError as exc:
            raise ValueError(str(exc)) from None
        if args.m + n - 1 > model.cfg.block_size:
            raise ValueError(f"--m {args.m} with --n {n}: m + n - 1 = {args.m + n - 1} exceeds the model's "
                             f"block size {model.cfg.block_size}")
    except ValueError as exc:  # UsageError included
        return usage_failure("verify.bench", exc)
    print(f"verify.bench: model {args.model}, m={args.m}, n={n}, {args.targets} targets, "
          f"{torch.get_num_threads()} threads: baseline first, then the engine", file=sys.stderr, flush=True)
    result = bench(model, targets, args.m, steps=args.steps, patience=args.patience, init_std=init_std,
                   seed=args.seed, device=args.device, baseline_lr=args.baseline_lr,
                   log=lambda msg: print(msg, file=sys.stderr, flush=True))
    result["model"] = args.model
    if args.json:
        print(json.dumps(result))
    else:
        print(f"model {args.model}, m={args.m}, n={n}, {args.targets} targets, {result['threads']} threads")
        print(f"baseline (one target at a time, AdamW lr {args.baseline_lr:g}): {result['baseline_targets_per_s']:.3f} targets/s, "
              f"success {result['baseline_success_rate']:.2f}")
        print(f"engine   (batched, lr {result['engine_lr']:g}):          {result['engine_targets_per_s']:.3f} targets/s, "
              f"success {result['engine_success_rate']:.2f}")
        print(f"ratio {result['ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
