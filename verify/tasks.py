"""Task definitions shared by the scripts that train models and the experiments that evaluate them.

The copy task (Jelassi et al., *Repeat After Me*, repository ``sjelassi/transformers_ssm_copy``): strings
``s`` of uniformly random letters from a 26-letter alphabet; each example is ``[BOS] s [SEP] s``,
right-padded with PAD, and the loss (and the evaluation) covers the second copy of ``s`` only: the model
must reproduce it, the first copy is context. Token ids: letters 0..25, BOS 26, SEP 27, PAD 28.
``verify.training.copy`` trains on it and ``verify.experiments.copying`` evaluates on it, both from here.

Example (one encoded example):
    >>> encode([0, 1, 2], total=9).tolist()
    [26, 0, 1, 2, 27, 0, 1, 2, 28]
"""
from __future__ import annotations

import torch

LETTERS, BOS, SEP, PAD = 26, 26, 27, 28
VOCAB = 29


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
