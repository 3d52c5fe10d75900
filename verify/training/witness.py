"""Train the zoo's tightness witness: a tiny decoder built to be steerable by close to d*m*log2(Q) bits.

``python -m verify.training.witness --out verify/weights/witness.pt`` regenerates the committed weights
(seeded; 4000 steps: 75 s with 2 threads on an idle x86-64 machine, a few minutes on 2 busy cores). Files written next to ``--out``:

- ``witness.pt``: the frozen decoder, a :class:`verify.model.Transformer` (vocab 16, width d = 16, 2 layers,
  2 heads, learned positions, block 64);
- ``witness.json``: the facts (grid, training, accuracies, radius, timing);
- ``witness_encoder.pt``: the encoders, kept only to show that the codes exist (tests decode a few); prompt
  tuning never uses them.

Construction (T1's constructive side). For each prompt length m in ``M_VALUES`` an encoder maps a uniformly
random sequence of ``n = d*m*log2(Q)/log2|V|`` tokens (4 per vector for d = 16, Q = 2, |V| = 16) to m prompt
vectors in the grid ``linspace(-r, r, Q)^(d x m)`` (tanh, then grid rounding with a straight-through
gradient); the decoder, given only that prompt, must emit the sequence greedily, its first token from the
last prompt position. Encoders and decoder are trained jointly on fresh random sequences by teacher-forced
cross-entropy; the decoder is then frozen. If the reconstruction is exact for every sequence, exactly
``Q^(d*m) = |V|^n`` prompts reach all ``|V|^n`` targets: the grid form of T1 is met with equality.

How well the committed model's encoders decode: docs/design.md, "Training runs"; prompt tuning without
the encoder (quantized, straight-through) is measured by ``verify.experiments.precision``
(``data/precision.json``). The sign-reader family of
:mod:`verify.witness_family`, built by hand, attains T1's grid form at every m (all sign patterns but
the two constant ones per vector).

Example (the grid and the straight-through rounding):
    >>> x = torch.tensor([-0.3, 0.7], requires_grad=True)
    >>> y = quantize(x, levels=2, radius=1.0, straight_through=True)
    >>> y.tolist()
    [-1.0, 1.0]
    >>> y.sum().backward(); x.grad.tolist()
    [1.0, 1.0]
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.engine import quantize
from verify.model import ModelConfig, ModelFileError, Transformer

VOCAB, D_MODEL, LEVELS, PROMPT_RADIUS = 16, 16, 2, 1.0
M_VALUES = (1, 2)
DEFAULTS = dict(n_layer=2, n_head=2, block_size=64, mlp_ratio=8, steps=4000, batch=256, lr=3e-3, seed=0,
                encoder="block", shrink=0.5)


def tokens_per_prompt(m: int, d: int = D_MODEL, levels: int = LEVELS, vocab: int = VOCAB) -> int:
    """Sequence length whose information equals the grid's: floor(d*m*log2(Q)/log2|V|).

    Example:
        >>> tokens_per_prompt(1), tokens_per_prompt(2)
        (4, 8)
    """
    return int(d * m * math.log2(levels) // math.log2(vocab))


class Encoder(nn.Module):
    """Token sequence (n tokens) -> m*d values in (-r, r) (tanh) -> grid (straight-through).

    ``kind="block"``: token slot j owns its own d*m/n coordinates and a learned table from tokens to them
    (a code whose parts the decoder can read, and prompt tuning can search, one token at a time);
    ``kind="mlp"``: an MLP on the whole one-hot sequence (an unconstrained code).
    """

    def __init__(self, n: int, m: int, d: int = D_MODEL, vocab: int = VOCAB, hidden: int = 256,
                 kind: str = "block", init: str = "binary"):
        super().__init__()
        self.n, self.m, self.d, self.vocab, self.hidden, self.kind = n, m, d, vocab, hidden, kind
        if kind == "block":
            if (m * d) % n:
                raise ValueError(f"block encoder needs n={n} to divide m*d={m * d}")
            width = m * d // n
            if init == "binary" and 2 ** width == vocab:
                # Start at a bijection (token -> the signs of its binary digits): learned codes that start
                # random collide (two tokens on one grid corner), and straight-through gradients rarely
                # pull a token off a corner it shares, so the collisions would stay.
                bits = (torch.arange(vocab)[:, None] >> torch.arange(width)[None, :]) & 1
                self.table = nn.Parameter((2.5 * (2 * bits.float() - 1)).expand(n, vocab, width).clone())
            else:
                self.table = nn.Parameter(torch.randn(n, vocab, width))
        elif kind == "mlp":
            self.net = nn.Sequential(nn.Linear(n * vocab, hidden), nn.GELU(), nn.Linear(hidden, m * d))
        else:
            raise ValueError(f"unknown encoder kind {kind!r}")

    def soft(self, tokens: torch.Tensor, radius: float = PROMPT_RADIUS) -> torch.Tensor:
        """The unquantized code tanh(z) * r, shape (batch, m, d)."""
        if self.kind == "block":
            z = self.table[torch.arange(self.n, device=tokens.device), tokens]  # (batch, n, coords per token)
        else:
            z = self.net(F.one_hot(tokens, self.vocab).float().flatten(1))
        return (torch.tanh(z) * radius).reshape(-1, self.m, self.d)

    def forward(self, tokens: torch.Tensor, levels: int = LEVELS, radius: float = PROMPT_RADIUS) -> torch.Tensor:
        return quantize(self.soft(tokens, radius), levels=levels, radius=radius, straight_through=True)


def reconstruction_loss(decoder: Transformer, prompts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Teacher-forced cross-entropy of the targets given only the prompt (first token from the last prompt
    position), mean over tokens, in nats."""
    m = prompts.shape[1]
    logits = decoder(targets[:, :-1], prompts)[:, m - 1:]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


@torch.no_grad()
def exact_rate(decoder: Transformer, prompts: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of targets that greedy decoding from the prompt alone reproduces exactly."""
    out = decoder.generate_greedy(prompts, targets.shape[1])
    return (out == targets).all(dim=1).float().mean().item()


def load_encoders(path: str | Path) -> dict[int, Encoder]:
    """Encoders saved by :func:`train` ({m: Encoder}); ModelFileError (one line) if missing or corrupt."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        encoders = {}
        for key, spec in blob["encoders"].items():
            enc = Encoder(n=spec["n"], m=spec["m"], d=spec["d"], vocab=spec["vocab"], hidden=spec["hidden"],
                          kind=spec["kind"])
            enc.load_state_dict(spec["state_dict"])
            encoders[int(key)] = enc.eval()
        return encoders
    except FileNotFoundError:
        raise ModelFileError(f"encoder file not found: {path}") from None
    except Exception as exc:
        raise ModelFileError(f"encoder file {path} is corrupt or unreadable ({type(exc).__name__})") from None


def train(out: Path, steps: int, threads: int, seed: int, log=print, device: str = "cpu", **overrides) -> dict:
    """Jointly train encoders and decoder; save decoder (.pt), facts (.json) and encoders; return facts."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    a = DEFAULTS | overrides
    cfg = ModelConfig(vocab_size=VOCAB, d_model=D_MODEL, n_layer=a["n_layer"], n_head=a["n_head"],
                      block_size=a["block_size"], positional="learned", mlp_ratio=a["mlp_ratio"])
    decoder = Transformer(cfg)
    encoders = nn.ModuleDict({str(m): Encoder(n=tokens_per_prompt(m), m=m, kind=a["encoder"]) for m in M_VALUES})
    decoder.to(device)
    encoders.to(device)
    params = list(decoder.parameters()) + list(encoders.parameters())
    opt = torch.optim.AdamW(params, lr=a["lr"], betas=(0.9, 0.95), weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.time()
    for step in range(steps):
        lr = a["lr"] * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        losses = []
        for m in M_VALUES:
            targets = torch.randint(0, VOCAB, (a["batch"], tokens_per_prompt(m)), generator=gen).to(device)
            prompts = encoders[str(m)](targets)
            # Shrink part of the batch toward 0, keeping each coordinate's sign: the decoder learns to read
            # the code by sign with a graded response, so that prompt tuning (straight-through) gets
            # gradients that point across the grid instead of a flat plateau at +-r.
            k = int(a["shrink"] * len(prompts))
            if k:
                u = torch.rand(k, *prompts.shape[1:], generator=gen).to(device) * 0.95 + 0.05
                prompts = torch.cat([prompts[:k] * u, prompts[k:]])
            losses.append(reconstruction_loss(decoder, prompts, targets))
        loss = sum(losses)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            log(f"step {step:5d}  " + "  ".join(f"m={m} loss {l.item():.4f}" for m, l in zip(M_VALUES, losses))
                + f"  {time.time() - t0:.0f}s")
    seconds = time.time() - t0
    decoder.eval()
    encoders.eval()
    eval_gen = torch.Generator().manual_seed(seed + 1)
    accuracy = {}
    with torch.no_grad():
        for m in M_VALUES:
            targets = torch.randint(0, VOCAB, (4096, tokens_per_prompt(m)), generator=eval_gen).to(device)
            accuracy[str(m)] = exact_rate(decoder, encoders[str(m)](targets), targets)
    from verify.zoo import layernorm_radius_bound, measure_radius

    decoder.cpu()
    encoders.cpu()

    facts = {
        "name": "witness",
        "kind": "tightness witness: decoder pre-trained jointly with grid-quantizing encoders",
        "prompt_radius": PROMPT_RADIUS, "levels": LEVELS,
        "grid": "linspace(-prompt_radius, prompt_radius, levels) per coordinate",
        "trained_m": list(M_VALUES), "trained_n": {str(m): tokens_per_prompt(m) for m in M_VALUES},
        "bits_per_vector": D_MODEL * math.log2(LEVELS),
        "config": {k: a[k] for k in ("n_layer", "n_head", "block_size", "mlp_ratio")} | {"d_model": D_MODEL,
                                                                                          "vocab": VOCAB},
        "optimizer": {"name": "AdamW", "lr": a["lr"], "betas": [0.9, 0.95], "batch_per_m": a["batch"],
                      "schedule": "warmup 100, cosine to 5%", "grad_clip": 1.0},
        "encoder": a["encoder"], "encoder_init": "binary (a bijection token -> sign pattern)" if a["encoder"] == "block"
        else "random", "shrink_fraction": a["shrink"],
        "steps": steps, "seed": seed, "threads": threads, "device": device, "train_seconds": round(seconds, 1),
        "final_loss_nats": {str(m): round(l.item(), 5) for m, l in zip(M_VALUES, losses)},
        "encoder_exact_rate": accuracy, "encoder_eval_targets": 4096,
        "encoder_file": out.with_name("witness_encoder.pt").name,
        "regenerate": (f"python -m verify.training.witness --out {out} --steps {steps} --seed {seed} --threads {threads}"
                       f" --encoder {a['encoder']} --shrink {a['shrink']} --batch {a['batch']} --lr {a['lr']}"
                       f" --mlp-ratio {a['mlp_ratio']} --device {device}"),
        "torch": str(torch.__version__),
    }
    facts["radius"] = measure_radius(decoder, prompt_radius=PROMPT_RADIUS, m=2, n=16, levels=LEVELS, seed=seed)
    facts["radius_bound"] = layernorm_radius_bound(decoder)
    decoder.cfg.facts = facts
    out.parent.mkdir(parents=True, exist_ok=True)
    decoder.save(out)
    out.with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n")
    torch.save({"format": "prompt-memory-limits/witness-encoders/v1",
                "encoders": {str(m): {"n": e.n, "m": e.m, "d": e.d, "vocab": e.vocab,
                                      "hidden": e.hidden, "kind": e.kind, "state_dict": e.state_dict()}
                             for m, e in ((int(k), v) for k, v in encoders.items())}},
               out.with_name("witness_encoder.pt"))
    log(f"saved {out}; encoder exact-reconstruction rate {accuracy}; {seconds:.0f}s")
    return facts


def main(argv=None) -> int:
    """CLI entry point; bad input -> one line on stderr, exit 2."""
    p = _Parser(prog="python -m verify.training.witness", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="verify/weights/witness.pt")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--encoder", default=DEFAULTS["encoder"], choices=("block", "mlp"))
    p.add_argument("--shrink", type=float, default=DEFAULTS["shrink"], help="fraction of each batch shrunk")
    p.add_argument("--batch", type=int, default=DEFAULTS["batch"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--mlp-ratio", type=int, default=DEFAULTS["mlp_ratio"])
    try:
        args = p.parse_args(argv)
    except UsageError as exc:
        return usage_failure("verify.training.witness", exc)
    if args.steps < 1 or args.threads < 1 or not 0 <= args.shrink <= 1:
        return usage_failure("verify.training.witness", "--steps and --threads must be >= 1 and --shrink in [0, 1]")
    train(Path(args.out), args.steps, args.threads, args.seed, device=args.device, encoder=args.encoder,
          shrink=args.shrink, batch=args.batch, lr=args.lr, mlp_ratio=args.mlp_ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
