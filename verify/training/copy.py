"""Train the copying models of :mod:`verify.experiments.copying` (the synthetic task of Jelassi et al. 2024).

``python -m verify.training.copy --positional rotary --out verify/weights/copy_rotary.pt`` and
``python -m verify.training.copy --positional none --out verify/weights/copy_nope.pt`` regenerate the two
committed models (seeded, defaults otherwise; 2500 steps took 486 s and 366 s on one thread of a shared
2-core machine). It writes ``NAME.pt`` (a
:class:`verify.model.Transformer`) and ``NAME.json`` (the facts: task, optimizer, steps, seed, final loss,
timing).

Task (Jelassi et al., *Repeat After Me*, repository ``sjelassi/transformers_ssm_copy``): strings ``s`` of
uniformly random letters from a 26-letter alphabet, of length uniform in 1..``max_train_len``; each example
is ``[BOS] s [SEP] s``, right-padded with PAD, and the loss is the cross-entropy on the second copy of ``s``
only (the model must reproduce it; the first copy is context). Token ids: letters 0..25, BOS 26, SEP 27,
PAD 28.

Example (one encoded example):
    >>> encode([0, 1, 2], total=9).tolist()
    [26, 0, 1, 2, 27, 0, 1, 2, 28]
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from verify.cli import ArgumentParser as _Parser

from verify.model import ModelConfig, Transformer

LETTERS, BOS, SEP, PAD = 26, 26, 27, 28
VOCAB = 29
DEFAULTS = dict(d_model=64, n_layer=2, n_head=4, max_train_len=20, block_size=256, steps=2500, batch=64,
                lr=3e-3, weight_decay=0.01, warmup=100, seed=0, positional="rotary")


def encode(s: list[int], total: int) -> torch.Tensor:
    """``[BOS] s [SEP] s`` right-padded with PAD to ``total`` tokens.

    Example:
        >>> encode([5], total=4).tolist()
        [26, 5, 27, 5]
    """
    seq = [BOS, *s, SEP, *s]
    if len(seq) > total:
        raise ValueError(f"string of length {len(s)} does not fit in {total} tokens")
    return torch.tensor(seq + [PAD] * (total - len(seq)), dtype=torch.long)


def copy_batch(lengths: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of copy examples with the given string lengths: (tokens, target mask).

    ``mask[b, t]`` is True where the logits at position t must predict ``tokens[b, t + 1]``, a character of
    the second copy (the prediction made at SEP is the first copied character).

    Example:
        >>> tok, mask = copy_batch(torch.tensor([2, 1]), torch.Generator().manual_seed(0))
        >>> tok.shape, mask.sum().item()
        (torch.Size([2, 6]), 3)
    """
    B, L = len(lengths), int(lengths.max())
    total = 2 * L + 2
    letters = torch.randint(0, LETTERS, (B, L), generator=generator)
    pos = torch.arange(total)[None, :]
    n = lengths[:, None]
    first = (pos >= 1) & (pos <= n)
    second = (pos >= n + 2) & (pos <= 2 * n + 1)
    tokens = torch.full((B, total), PAD, dtype=torch.long)
    tokens[:, 0] = BOS
    tokens[first] = letters[torch.arange(L)[None, :] < n]
    tokens[second] = letters[torch.arange(L)[None, :] < n]
    tokens[pos == n + 1] = SEP
    # the logits at t predict token t+1: targets are the second copy, predicted from positions n+1..2n
    mask = (pos >= n + 1) & (pos <= 2 * n)
    return tokens, mask


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
        print(f"verify.training.copy: error: {exc}", file=sys.stderr)
        return 2
    if args.positional not in ("none", "learned", "sinusoidal", "rotary") or args.max_train_len < 1:
        print("verify.training.copy: error: bad --positional or --max-train-len", file=sys.stderr)
        return 2
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
