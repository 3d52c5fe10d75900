"""The model a run measures, by one name, and the seeded targets and initial prompts of a run.

Every cramming driver (``verify.experiments.cramming``, ``verify.sweeps.sweep``,
``verify.experiments.real_cramming``) names its model the same way and draws the same way:

- names: ``tiny`` (a seeded random 1-layer width-16 model over 16 tokens, built in memory: for tests), the
  zoo's ``natural``, ``witness`` and ``random`` (:mod:`verify.zoo`), ``gguf:PATH`` (a GGUF file) and
  ``hf:DIR`` (a local Hugging Face causal-LM folder), both through :mod:`verify.real`;
- :func:`load` returns a :class:`Subject` (the engine-compatible model, its target alphabet, its natural
  text if it has one, and the :class:`verify.zoo.ZooModel` with the prompt box for zoo models), cached
  per process;
- :func:`targets` draws ``count`` targets of ``n`` tokens of a kind (``random``: i.i.d. uniform over the
  alphabet; ``natural``: in-domain text) from one seed; :func:`initial_prompts` draws one initial prompt
  ``randn(m, d) * std`` per seed (the anchors' init), so a target's prompt does not depend on what it is
  batched with. Seeds come from :func:`verify.rng.derive_seed`.

Example:
    >>> s = load("tiny")
    >>> s.model.cfg.vocab_size, len(s.alphabet), s.natural is None
    (16, 16, True)
    >>> targets(s, "random", count=2, n=3, seed=0).shape
    torch.Size([2, 3])
    >>> initial_prompts([1, 2], m=1, d=4, std=0.5).shape
    torch.Size([2, 1, 4])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from verify.rng import derive_seed

KINDS = ("random", "natural")
ZOO = ("natural", "witness", "random")
TINY_CONFIG = dict(vocab_size=16, d_model=16, n_layer=1, n_head=2, block_size=64, positional="learned")
TINY_SEED = 1234
NAMES_HELP = "tiny, natural, witness, random, gguf:PATH or hf:DIR"


@dataclass
class Subject:
    """A loaded model and its target sources.

    ``model``: engine-compatible (``cfg``, ``tok_emb``, ``forward(tokens, prefix)``, ``generate_greedy``).
    ``alphabet``: token ids random targets draw from. ``natural(count, n, seed)``: (count, n) in-domain
    targets, or None. ``zoo``: the :class:`verify.zoo.ZooModel` (prompt box, facts) for zoo models.
    """

    name: str
    model: Any
    alphabet: tuple[int, ...]
    natural: Callable[[int, int, int], torch.Tensor] | None = None
    zoo: Any = None


def check_name(name: str) -> None:
    """Raise ValueError / ModelFileError (one line) unless ``name`` names a loadable model.

    Example:
        >>> check_name("tiny")
        >>> check_name("gpt5")
        Traceback (most recent call last):
        ...
        ValueError: unknown model 'gpt5'; use tiny, natural, witness, random, gguf:PATH or hf:DIR
    """
    if name == "tiny" or name in ZOO:
        return
    if name.startswith("gguf:"):
        from verify.real import check_gguf

        check_gguf(name[5:])
        return
    if name.startswith("hf:"):
        from verify.real import check_model_dir

        check_model_dir(name[3:])
        return
    raise ValueError(f"unknown model {name!r}; use {NAMES_HELP}")


_LOADED: dict = {}


def load(name: str, device: str = "cpu") -> Subject:
    """The frozen model called ``name`` (see the module docstring), loaded once per process and device (and,
    for zoo models, per weights folder ``verify.zoo.WEIGHTS_DIR``).

    Example:
        >>> load("tiny") is load("tiny")
        True
    """
    from verify import zoo

    key = (name, device, str(zoo.WEIGHTS_DIR) if name in ZOO else None)  # other weights: another model
    if key not in _LOADED:
        check_name(name)
        if name == "tiny":
            from verify.model import ModelConfig, Transformer

            with torch.random.fork_rng(devices=[]):  # seeded, leaving the caller's global RNG untouched
                torch.manual_seed(TINY_SEED)
                model = Transformer(ModelConfig(**TINY_CONFIG)).freeze()
            subject = Subject(name, model.to(device), tuple(range(TINY_CONFIG["vocab_size"])))
        elif name in ZOO:
            subject = from_zoo(zoo.load(name, device=device))
        else:
            from verify import real

            lm = real.load(gguf=name[5:]) if name.startswith("gguf:") else real.load(model_dir=name[3:])
            subject = real_subject(name, lm.to(device))
        _LOADED[key] = subject
    return _LOADED[key]


def from_zoo(zm) -> Subject:
    """The :class:`Subject` of a loaded :class:`verify.zoo.ZooModel` (natural text for the natural model only).

    Example:
        >>> from verify import zoo
        >>> from_zoo(zoo.load("random")).natural is None
        True
    """
    from verify import zoo

    natural = (lambda count, n, seed: zoo.natural_targets(count, n, seed=seed)) if zm.name == "natural" else None
    return Subject(zm.name, zm.model, tuple(zm.alphabet), natural, zm)


def real_subject(name: str, lm, *, device: str | None = None) -> Subject:
    """A :class:`Subject` for an already loaded :class:`verify.real.RealLM`; with ``device`` it is also
    registered, so :func:`load` of the same name returns it instead of loading the model again."""

    def natural(count: int, n: int, seed: int) -> torch.Tensor:
        # one window: the seed itself (what a sweep trial draws); more: one derived seed per row
        seeds = [seed] if count == 1 else [derive_seed(seed, i) for i in range(count)]
        return torch.stack([lm.natural_target(n, s) for s in seeds]).long().cpu()

    subject = Subject(name, lm, tuple(lm.alphabet()), natural)
    if device is not None:
        _LOADED[(name, device, None)] = subject
    return subject


def targets(subject: Subject, kind: str, *, count: int, n: int, seed: int) -> torch.Tensor:
    """``count`` targets of ``n`` tokens, (count, n) int64 on the CPU, drawn from ``seed`` alone.

    ``random``: i.i.d. uniform over ``subject.alphabet``; ``natural``: in-domain text.

    Example:
        >>> s = load("tiny")
        >>> bool((targets(s, "random", count=4, n=2, seed=7) == targets(s, "random", count=4, n=2, seed=7)).all())
        True
        >>> targets(s, "natural", count=1, n=2, seed=0)
        Traceback (most recent call last):
        ...
        ValueError: model 'tiny' has no natural text; use kind 'random'
    """
    if count < 0 or n < 1:
        raise ValueError(f"need count >= 0 and n >= 1, got count={count}, n={n}")
    if kind == "random":
        alphabet = torch.tensor(subject.alphabet, dtype=torch.long)
        g = torch.Generator().manual_seed(seed)
        return alphabet[torch.randint(0, len(alphabet), (count, n), generator=g)]
    if kind == "natural":
        if subject.natural is None:
            raise ValueError(f"model {subject.name!r} has no natural text; use kind 'random'")
        return subject.natural(count, n, seed)
    raise ValueError(f"unknown target kind {kind!r}; known: {', '.join(KINDS)}")


def initial_prompts(seeds, *, m: int, d: int, std: float) -> torch.Tensor:
    """One initial prompt ``randn(m, d) * std`` per seed, shape (len(seeds), m, d) (Kuratov et al.'s initialization).

    Example:
        >>> a = initial_prompts([5, 6], m=2, d=3, std=1.0)
        >>> bool((a[1] == initial_prompts([6], m=2, d=3, std=1.0)[0]).all())
        True
    """
    rows = [torch.randn(m, d, generator=torch.Generator().manual_seed(s)) * std for s in seeds]
    return torch.stack(rows) if rows else torch.zeros(0, m, d)
