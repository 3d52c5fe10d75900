"""Train the copying models of :mod:`verify.experiments.copying` (the synthetic task of Jelassi et al. 2024).

``python -m verify.training.copy --positional rotary --out verify/weights/copy_rotary.pt`` and
``python -m verify.training.copy --positional none --out verify/weights/copy_nope.pt`` regenerate the two
committed models (seeded, defaults otherwise; training time in docs/design.md, "Training runs"). It writes
``NAME.pt`` (a :class:`verify.model.Transformer`) and ``NAME.json`` (the facts: task, optimizer, steps, seed,
final loss, timing).

Task: :mod:`verify.tasks` (the copy task of Jelassi et al.), strings of length uniform in 1..``max_train_len``;
the loss is the cross-entropy on the second copy only.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from verify.cli import ArgumentParser as _Parser, usage_failure
from verify.model import ModelConfig, Transformer
from verify.tasks import BOS, LETTERS, PAD, SEP, VOCAB, copy_batch

DEFAULTS = dict(d_model=64, n_layer=2, n_head=4, max_train_len=20, block_size=256, steps=2500, batch=64,
                lr=3e-3, weight_decay=0.01, warmup=100, seed=0, positional="rotary")


def train(args) -> dict:
    """Train one copying model; returns (model, facts stored beside the weights).

    Example (three steps of a toy-sized model):
        >>> import argparse
        >>> args = argparse.Namespace(**dict(DEFAULTS, d_model=8, n_head=2, steps=3, batch=4, max_train_len=4))
        >>> model, facts = train(args)  # progress goes to stderr
        >>> facts["steps"], model.cfg.positional
        (3, 'rotary')
    """
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    cfg = ModelConfig(vocab_size=VOCAB, d_model=args.d_model, n_layer=args.n_layer, n_head=args.n_head,
                      block_size=args.block_size, positional=args.positional, causal=True)
    model = Transformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=args.weight_decay)
    t0, losses = time.time(), []
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        lengths = torch.randint(1, args.max_train_len + 1, (args.batch,), generator=gen)
        tokens, mask = copy_batch(lengths, gen)
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits[mask[:, :-1]], tokens[:, 1:][mask[:, :-1]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {sum(losses[-100:]) / len(losses[-100:]):.4f} {time.time() - t0:.0f}s",
                  file=sys.stderr, flush=True)
    model.eval()
    facts = dict(task="copy [BOS] s [SEP] s, 26 letters, loss on the second copy", vocab=VOCAB,
                 letters=LETTERS, bos=BOS, sep=SEP, pad=PAD, **{k: getattr(args, k) for k in DEFAULTS},
                 final_loss=sum(losses[-100:]) / len(losses[-100:]), train_seconds=round(time.time() - t0, 1),
                 threads=torch.get_num_threads(), torch=str(torch.__version__))
    model.cfg.facts = facts
    return model, facts


def main(argv=None) -> int:
    """Command line entry point; returns the exit code (2 on bad usage, with one line on stderr)."""
    p = _Parser(prog="python -m verify.training.copy", description=__doc__.split("\n")[0])
    for k, v in DEFAULTS.items():
        p.add_argument(f"--{k.replace('_', '-')}", dest=k, type=type(v), default=v)
    p.add_argument("--out", required=True, help="output .pt path (a .json with the facts is written beside it)")
    p.add_argument("--threads", type=int, default=1)
    try:
        args = p.parse_args(argv)
    except ValueError as exc:
        return usage_failure("verify.training.copy", exc)
    if args.positional not in ("none", "learned", "sinusoidal", "rotary") or args.max_train_len < 1:
        return usage_failure("verify.training.copy", "bad --positional or --max-train-len")
    torch.set_num_threads(args.threads)
    model, facts = train(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    out.with_suffix(".json").write_text(json.dumps(facts, indent=1))
    print(f"saved {out} (final loss {facts['final_loss']:.4f}, {facts['train_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
