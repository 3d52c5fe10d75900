"""The zoo of frozen models on which prompt tuning is measured.

Three models, all :class:`verify.model.Transformer` instances, frozen and in eval mode:

- ``natural``: byte-level (vocab 256) causal LM, width 128, 2 layers, trained on the King James Bible
  (``python -m verify.training.natural``). Like the papers' LLMs, prompt tuning memorizes in-domain text on it;
  :func:`natural_targets` draws targets from held-out chapters it never saw.
- ``witness``: the tightness witness, a width-16 decoder over 16 tokens pre-trained jointly with an encoder
  that writes random token sequences into grid-quantized prompts (``python -m verify.training.witness``).
  It is built to be steerable by close to ``d*m*log2(Q)`` bits (T1's grid form) for Q = 2 and 4, m = 1, 2.
- ``random``: a randomly initialised (seeded) width-64, 2-layer byte model, created at load time: the
  vacuous control (prompt tuning stores almost nothing in it).

How much prompt tuning stores in each (the numbers that shaped the experiments' settings): docs/design.md,
"The zoo". Load any model by name (these, ``tiny``, ``gguf:PATH``, ``hf:DIR``) with :mod:`verify.subjects`.

Prompt grid convention (used to train the witness, and what the engine must use): Q levels per coordinate
are ``linspace(-r, r, Q)``, endpoints included, with ``r = prompt_radius``; Q = 2 is {-r, r}.

Radius (the bounds' r for final representations): :func:`measure_radius` takes the largest absolute
coordinate of the last-layer states (after the final LayerNorm) over random prompts and random tokens.
Because the final LayerNorm normalises, ``|h_i| <= |gamma_i| * sqrt(d - 1) + |beta_i|`` holds for every
input; :func:`layernorm_radius_bound` gives that rigorous value, stored as ``facts["radius_bound"]``.

Example:
    >>> zm = load("random")
    >>> (zm.d, zm.vocab, zm.layers, zm.heads, zm.dtype)
    (64, 256, 2, 4, 'fp32')
    >>> natural_targets(2, 3, seed=0).shape
    torch.Size([2, 3])
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from verify.engine import quantize
from verify.model import ModelConfig, ModelFileError, Transformer, load_config_json

ZOO_NAMES = ("natural", "witness", "random")
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
LOWERCASE = tuple(range(ord("a"), ord("z") + 1))  # random-target alphabet of the byte models
RANDOM_SEED = 0
RANDOM_PROMPT_RADIUS = 8.0
RANDOM_CONFIG = dict(vocab_size=256, d_model=64, n_layer=2, n_head=4, block_size=128, positional="learned")


@dataclass
class ZooModel:
    """A frozen zoo model with the constants the bounds and the engine need.

    ``radius``: measured l_inf radius of the last-layer states. ``prompt_radius``: l_inf radius of the box
    prompts are kept in (for the witness, the grid it was trained on). ``levels``: Q of that grid for the
    witness, None otherwise. ``alphabet``: token ids random targets are drawn from.
    """

    name: str
    model: Transformer
    d: int
    vocab: int
    layers: int
    heads: int
    dtype: str
    radius: float
    prompt_radius: float
    levels: int | None
    alphabet: tuple[int, ...]
    facts: dict = field(default_factory=dict)

    def embedding_std(self) -> float:
        """Std of the token embeddings (over the alphabet's rows), the scale of an anchor-style prompt init
        ``randn * std``.

        Example:
            >>> round(load("random").embedding_std(), 2)
            0.02
        """
        rows = self.model.tok_emb.weight[list(self.alphabet)]
        return rows.std().item()


def layernorm_radius_bound(model: Transformer) -> float:
    """Rigorous l_inf bound on the final states: after LayerNorm the normalised vector has zero mean and
    squared norm < d, so each coordinate is at most sqrt(d-1) in absolute value; then gamma and beta apply.

    Example:
        >>> m = Transformer(ModelConfig(vocab_size=4, d_model=5, n_layer=1, n_head=1))
        >>> layernorm_radius_bound(m)  # gamma = 1, beta = 0 at init: sqrt(4)
        2.0
    """
    ln = model.ln_f
    gamma = ln.weight.detach().abs()
    beta = ln.bias.detach().abs() if ln.bias is not None else torch.zeros_like(gamma)
    return float((gamma * math.sqrt(model.d - 1) + beta).max())


@torch.no_grad()
def measure_radius(model: Transformer, *, prompt_radius: float | None = None, m: int = 4, n: int = 32,
                   count: int = 256, seed: int = 0, levels: int | None = None) -> float:
    """Measured l_inf radius of the final states: max |h| over ``count`` random inputs of m prompt vectors
    followed by n uniformly random tokens, over every position (prompt positions included).

    Prompts are uniform in [-prompt_radius, prompt_radius]^d (snapped to the Q-level grid if ``levels``),
    or, with ``prompt_radius=None``, ``randn * std(token embeddings) * 4`` (the scale trained prompts reach).
    It is a lower estimate of the true sup; :func:`layernorm_radius_bound` is a rigorous upper bound.

    Example:
        >>> m = Transformer(ModelConfig(vocab_size=8, d_model=8, n_layer=1, n_head=2, block_size=16))
        >>> 0 < measure_radius(m, m=2, n=4, count=8) <= layernorm_radius_bound(m)
        True
    """
    g = torch.Generator().manual_seed(seed)
    d, vocab = model.d, model.cfg.vocab_size
    n = max(0, min(n, model.cfg.block_size - m))
    if prompt_radius is None:
        scale = 4 * model.tok_emb.weight.std().item()
        prompts = torch.randn(count, m, d, generator=g) * scale
    else:
        prompts = (torch.rand(count, m, d, generator=g) * 2 - 1) * prompt_radius
        if levels:
            prompts = quantize(prompts, levels=levels, radius=prompt_radius)
    tokens = torch.randint(0, vocab, (count, n), generator=g) if n else None
    h = model.hidden(tokens, prompts.to(next(model.parameters()).device))
    return float(h.abs().max())


def _weights(name: str, weights_dir: Path | None) -> tuple[Path, dict]:
    base = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    path = base / f"{name}.pt"
    facts = load_config_json(path.with_suffix(".json")) if path.with_suffix(".json").is_file() else None
    return path, facts


def _random_model() -> tuple[Transformer, dict]:
    # fork_rng: a seeded init that leaves the caller's global RNG untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        model = Transformer(ModelConfig(**RANDOM_CONFIG))
    facts = {
        "name": "random", "kind": "randomly initialised transformer (vacuous control)",
        "config": {k: RANDOM_CONFIG[k] for k in ("d_model", "n_layer", "n_head", "block_size")},
        "init": "verify.model default: normal(0, 0.02) weights, zero biases, LayerNorm gamma=1 beta=0",
        "seed": RANDOM_SEED, "alphabet": "lowercase ASCII letters a-z (ids 97..122)",
        "regenerate": "created at load time by verify.zoo.load('random') (no weights file)",
    }
    return model, facts


def load(name: str, *, device: str = "cpu", weights_dir: str | Path | None = None) -> ZooModel:
    """Load a zoo model, frozen and in eval mode, with its facts.

    Unknown name -> ValueError listing ZOO_NAMES; missing or corrupt weights -> ModelFileError (one line).

    Example:
        >>> load("witness").levels
        2
        >>> load("nope")
        Traceback (most recent call last):
        ...
        ValueError: unknown zoo model 'nope'; known: natural, witness, random
    """
    if name not in ZOO_NAMES:
        raise ValueError(f"unknown zoo model {name!r}; known: {', '.join(ZOO_NAMES)}")
    if name == "random":
        model, facts = _random_model()
    else:
        path, facts = _weights(name, weights_dir)
        model = Transformer.load(path)
        if not facts:
            facts = dict(model.cfg.facts)
        if not facts or "radius" not in facts:
            raise ModelFileError(f"facts for zoo model {name!r} are missing (expected {path.with_suffix('.json')})")
    model = model.to(device).freeze()
    cfg = model.cfg
    if name == "witness":
        prompt_radius, levels = float(facts["prompt_radius"]), int(facts["levels"])
        alphabet = tuple(range(cfg.vocab_size))
    else:
        levels, alphabet = None, LOWERCASE
        prompt_radius = None
    if name == "random":
        # the same prompt box as the natural model (same byte vocabulary); radius measured as for it
        facts["prompt_radius"] = RANDOM_PROMPT_RADIUS
        facts["radius"] = max(measure_radius(model.cpu(), seed=RANDOM_SEED),
                              measure_radius(model, prompt_radius=RANDOM_PROMPT_RADIUS, seed=RANDOM_SEED))
        model.to(device)
    if prompt_radius is None:
        prompt_radius = float(facts["prompt_radius"])
    facts.setdefault("radius_bound", layernorm_radius_bound(model))
    return ZooModel(name=name, model=model, d=cfg.d_model, vocab=cfg.vocab_size, layers=cfg.n_layer,
                    heads=cfg.n_head, dtype="fp32", radius=float(facts["radius"]), prompt_radius=prompt_radius,
                    levels=levels, alphabet=alphabet, facts=facts)


def _heldout_text(weights_dir: Path | None = None) -> bytes:
    path = (Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR) / "natural_heldout.txt"
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read held-out text {path}: {exc.__class__.__name__}") from None


def natural_targets(count: int, n: int, *, seed: int, weights_dir: str | Path | None = None) -> torch.Tensor:
    """``count`` in-domain byte sequences of length n from the held-out KJV chapters (never trained on),
    each starting at the beginning of a word; distinct start positions; deterministic in seed.

    Example:
        >>> t = natural_targets(2, 12, seed=0)
        >>> t.shape, t.dtype
        (torch.Size([2, 12]), torch.int64)
        >>> bool((t == natural_targets(2, 12, seed=0)).all())
        True
    """
    if count < 0 or n < 1:
        raise ValueError(f"need count >= 0 and n >= 1, got count={count}, n={n}")
    text = torch.tensor(list(_heldout_text(weights_dir)), dtype=torch.long)
    # a word starts after a space or a newline; the first byte of the file starts one too
    starts = torch.nonzero((text[:-1] == 32) | (text[:-1] == 10)).flatten() + 1
    starts = torch.cat([torch.tensor([0]), starts])
    starts = starts[starts + n <= len(text)]
    if count > len(starts):
        raise ValueError(f"only {len(starts)} held-out windows of length {n}, asked for {count}")
    g = torch.Generator().manual_seed(seed)
    chosen = starts[torch.randperm(len(starts), generator=g)[:count]]
    return text[chosen[:, None] + torch.arange(n)]
